"""Interest per contract section 3: day by day, ACT/360 or ACT/365F, penalty from maturity on,
rounded once on the exact total (path independence)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.interest import (
    DayCount,
    PrincipalChange,
    accrue,
    record_principal,
    round_half_up,
)

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
MATURITY = VALUE + timedelta(days=30)
RATE = Decimal("0.10")


def day_by_day(
    changes: list[PrincipalChange],
    *,
    annual_rate: Decimal,
    maturity_date: date,
    as_of: date,
    day_count: DayCount = DayCount.ACT_360,
    penalty_multiplier: Decimal = Decimal("1.5"),
) -> tuple[Fraction, Fraction]:
    """The contract's definition read literally: every day on its own (the oracle for `accrue`)."""
    interest = penalty = Fraction(0)
    day = changes[0].on
    while day < as_of:
        outstanding = [c.outstanding_minor for c in changes if c.on <= day][-1]
        amount = Fraction(outstanding) * Fraction(annual_rate) / day_count.days_in_year
        if day < maturity_date:
            interest += amount
        else:
            penalty += amount * Fraction(penalty_multiplier)
        day += timedelta(days=1)
    return interest, penalty


def one_change(principal: int = 100_000_000) -> list[PrincipalChange]:
    return [PrincipalChange(VALUE, principal)]


def test_nothing_accrues_on_the_value_date() -> None:
    accrual = accrue(one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=VALUE)
    assert accrual.interest == 0 and accrual.penalty == 0


def test_the_value_date_earns_from_the_next_day_on() -> None:
    accrual = accrue(one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=VALUE + timedelta(days=1))
    # 1,000,000.00 x 0.10 / 360 = 277.777... -> 277.78
    assert accrual.interest == Fraction(100_000_000) * Fraction(1, 10) / 360
    assert accrual.interest_minor == 27_778


def test_act_360_against_act_365f() -> None:
    as_of = VALUE + timedelta(days=30)
    act360 = accrue(one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=as_of)
    act365 = accrue(
        one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=as_of, day_count=DayCount.ACT_365F
    )
    assert act360.interest_minor == 833_333  # 8,333.33: 30/360 of 10%
    assert act365.interest_minor == 821_918  # 8,219.18: 30/365 of 10%


def test_the_day_before_maturity_is_the_last_normal_day() -> None:
    accrual = accrue(one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=MATURITY)
    assert accrual.penalty == 0
    assert accrual.interest == Fraction(100_000_000 * 30, 10 * 360)


def test_from_maturity_on_penalty_replaces_interest() -> None:
    accrual = accrue(
        one_change(), annual_rate=RATE, maturity_date=MATURITY, as_of=MATURITY + timedelta(days=2)
    )
    assert accrual.interest == Fraction(100_000_000 * 30, 10 * 360)  # no normal interest after maturity
    assert accrual.penalty == Fraction(100_000_000 * 2 * 15, 100 * 360)  # 2 days at 0.15


def test_principal_repaid_on_a_day_stops_earning_that_day() -> None:
    changes = [PrincipalChange(VALUE, 100_000_000), PrincipalChange(VALUE + timedelta(days=10), 0)]
    accrual = accrue(changes, annual_rate=RATE, maturity_date=MATURITY, as_of=MATURITY)
    assert accrual.interest == Fraction(100_000_000 * 10, 10 * 360)


def test_rounding_is_half_up_on_the_exact_total() -> None:
    assert round_half_up(Fraction(1, 2)) == 1
    assert round_half_up(Fraction(3, 2)) == 2
    assert round_half_up(Fraction(4999, 10_000)) == 0
    assert round_half_up(Fraction(0)) == 0
    with pytest.raises(ValueError):
        round_half_up(Fraction(-1, 2))


def test_a_second_change_on_the_same_day_replaces_the_first() -> None:
    changes = record_principal(one_change(), VALUE + timedelta(days=3), 50)
    changes = record_principal(changes, VALUE + timedelta(days=3), 20)
    assert changes == (PrincipalChange(VALUE, 100_000_000), PrincipalChange(VALUE + timedelta(days=3), 20))


def test_a_change_before_the_last_one_is_refused() -> None:
    changes = record_principal(one_change(), VALUE + timedelta(days=3), 50)
    with pytest.raises(ValueError):
        record_principal(changes, VALUE + timedelta(days=2), 20)


paths = st.lists(
    st.tuples(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=10**11)),
    min_size=0,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**12),
    steps=paths,
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.36"), places=4),
    term=st.integers(min_value=15, max_value=90),
    horizon=st.integers(min_value=0, max_value=200),
    day_count=st.sampled_from(list(DayCount)),
)
def test_segment_sums_equal_the_contract_day_by_day(
    principal: int, steps: list[tuple[int, int]], rate: Decimal, term: int, horizon: int, day_count: DayCount
) -> None:
    changes: tuple[PrincipalChange, ...] = (PrincipalChange(VALUE, principal),)
    day = VALUE
    for gap, outstanding in steps:
        day += timedelta(days=gap)
        changes = record_principal(changes, day, min(outstanding, changes[-1].outstanding_minor))
    maturity = VALUE + timedelta(days=term)
    as_of = VALUE + timedelta(days=horizon)
    accrual = accrue(changes, annual_rate=rate, maturity_date=maturity, as_of=as_of, day_count=day_count)
    interest, penalty = day_by_day(
        list(changes), annual_rate=rate, maturity_date=maturity, as_of=as_of, day_count=day_count
    )
    assert (accrual.interest, accrual.penalty) == (interest, penalty)
