from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf.domain.money import (
    Money,
    MoneyError,
    format_amount,
    format_exact,
    parse_amount,
    parse_currency,
    round_half_up,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("0.00", 0),
        ("0.01", 1),
        ("1250000.00", 125_000_000),
        ("1000.10", 100_010),
        ("9999999999999999.99", 999_999_999_999_999_999),
    ],
)
def test_parses_contract_money_strings(text: str, minor: int) -> None:
    assert parse_amount(text) == minor


@pytest.mark.parametrize(
    "bad",
    [
        "1",
        "1.0",
        "1.000",
        "-1.00",
        "+1.00",
        "01.00",
        "1e3",
        "NaN",
        "Infinity",
        " 1.00",
        "1.00 ",
        "1000.00\n",
        "1,00",
        "",
        "١.٠٠",
    ],
)
def test_rejects_anything_but_two_decimal_strings(bad: str) -> None:
    with pytest.raises(MoneyError) as err:
        parse_amount(bad)
    assert err.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize("bad", [1000, 1000.0, True, None, float("nan"), Decimal("1.00"), ["1.00"]])
def test_rejects_json_numbers_and_other_types(bad: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(bad)


def test_negative_only_where_allowed() -> None:
    assert parse_amount("-12.34", allow_negative=True) == -1234
    assert format_amount(-1234) == "-12.34"


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_format_and_parse_round_trip(minor: int) -> None:
    assert parse_amount(format_amount(minor)) == minor


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [("0.5", 1), ("1.49999", 1), ("1.5", 2), ("2.5", 3), ("0", 0), ("-0.5", -1)],
)
def test_round_half_up(exact: str, rounded: int) -> None:
    assert round_half_up(Decimal(exact)) == rounded


@pytest.mark.parametrize("code", ["CNY", "USD", "EUR", "HKD", "KES", "NGN", "EGP", "ARS", "ZWG", "XCG"])
def test_any_two_decimal_iso_currency_is_accepted(code: str) -> None:
    assert parse_currency(code) == code


def test_currency_must_be_two_decimal_iso_code() -> None:
    assert parse_currency("CNY") == "CNY"
    # 0 minor digits (JPY, KRW, VND, CLP), 3 (KWD, BHD, TND), 4 (CLF), metals and test codes, fund
    # codes, withdrawn codes, and codes that are not ISO 4217.
    for bad in ["cny", "JPY", "KRW", "VND", "CLP", "KWD", "BHD", "TND", "CLF", "XAU", "XTS", "XXX"]:
        with pytest.raises(MoneyError) as err:
            parse_currency(bad)
        assert err.value.code == "INVALID_CURRENCY"
    for bad in ["USN", "CHE", "HRK", "SLL", "ZWL", "CUC", "BGN", "XAD", "BTC", "CNH", "US", "USDT"]:
        with pytest.raises(MoneyError):
            parse_currency(bad)
    for bad in ["", None, 156]:
        with pytest.raises(MoneyError) as err:
            parse_currency(bad)
        assert err.value.code == "INVALID_CURRENCY"


def test_money_arithmetic_stays_in_one_currency() -> None:
    assert Money(150, "CNY") + Money(50, "CNY") == Money(200, "CNY")
    assert str(Money(150, "CNY") - Money(50, "CNY")) == "1.00"
    with pytest.raises(MoneyError):
        _ = Money(1, "CNY") + Money(1, "USD")


@pytest.mark.parametrize(
    ("minor", "shown"),
    [
        ("23333333.1", "233333.331"),
        ("0", "0.00"),
        ("19600000.00", "196000.00"),
        ("1.5", "0.015"),
        ("1.50", "0.015"),
        ("100000000", "1000000.00"),
        ("1E+8", "1000000.00"),
        ("-1.25", "-0.0125"),
        ("12345678901234567.891", "123456789012345.67891"),
    ],
)
def test_an_exact_amount_is_shown_unrounded_with_at_least_two_decimals(minor, shown):
    assert format_exact(Decimal(minor)) == shown
    assert Decimal(shown) * 100 == Decimal(minor)


def test_an_exact_amount_is_finite():
    with pytest.raises(ValueError, match="finite"):
        format_exact(Decimal("NaN"))


@given(
    numerator=st.integers(min_value=-(10**15), max_value=10**15),
    denominator=st.sampled_from([1, 2, 4, 8, 10, 100, 360, 365, 36_000]),
)
def test_one_rounding_rule_for_decimal_and_fraction(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)

    as_fraction = round_half_up(exact)

    assert as_fraction == round_half_up(Decimal(numerator) / Decimal(denominator))
