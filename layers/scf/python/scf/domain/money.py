"""Money as integer minor units of a 2-decimal ISO 4217 currency.

Contract section 2: JSON money is a string with exactly two decimals; more decimals, a JSON number,
a sign where none is allowed, NaN or Infinity are rejected. Rounding is half-up and happens only
where the contract says so (`round_half_up`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from scf.errors import InvalidInput

# Contract section 2: "any 2-decimal currency is accepted". These are the active ISO 4217 currency
# codes whose minor unit is 2 (ISO 4217 list one as published 2026-01-01, checked against the
# `iso4217` package of that date: ZWG and XCG in; ANG, BGN, CUC, HRK, SLL and ZWL withdrawn). Left
# out on purpose: codes with 0, 3 or 4 minor digits (JPY, KRW, VND, KWD, BHD, CLF, ...), precious
# metals and testing codes (XAU, XTS, XXX, ...), and fund codes and units of account (BOV, CHE,
# CHW, COU, MXV, USN, UYI, UYW, XAD): not currencies to lend in.
TWO_DECIMAL_CURRENCIES = frozenset(
    {
        "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BMD",
        "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY",
        "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
        "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR",
        "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR",
        "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
        "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP",
        "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
        "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY",
        "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER",
        "ZAR", "ZMW", "ZWG",
    }
)  # fmt: skip

_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,15})\.([0-9]{2})$")
_SIGNED_AMOUNT = re.compile(r"^-?(0|[1-9][0-9]{0,15})\.([0-9]{2})$")


class MoneyError(InvalidInput):
    """An amount or currency that the contract does not accept; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def parse_currency(value: Any) -> str:
    if not isinstance(value, str) or value not in TWO_DECIMAL_CURRENCIES:
        raise MoneyError("INVALID_CURRENCY", "must be an ISO 4217 code of a 2-decimal currency, e.g. CNY")
    return value


def parse_amount(value: Any, *, allow_negative: bool = False) -> int:
    """Parse a contract money string ("1250000.00") into minor units. Never accepts numbers."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise MoneyError("INVALID_AMOUNT", 'must be a string with exactly two decimals, e.g. "1250.00"')
    match = (_SIGNED_AMOUNT if allow_negative else _AMOUNT).fullmatch(value)  # "$" would pass "1.00\n"
    if match is None:
        raise MoneyError("INVALID_AMOUNT", 'must be a string with exactly two decimals, e.g. "1250.00"')
    negative = value.startswith("-")
    units = int(match.group(1)) * 100 + int(match.group(2))
    return -units if negative else units


def format_amount(minor: int) -> str:
    """Minor units -> contract money string with exactly two decimals."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_exact(minor: Decimal) -> str:
    """An exact, unrounded amount in minor units (e.g. eligible x ratio) as a decimal string in
    currency units with at least two decimals: 23333333.1 minor -> "233333.331". For showing the
    terms of a sum that is rounded once at the end; not a money field (those have two decimals)."""
    if not minor.is_finite():
        raise InvalidInput("an exact amount is finite", code="INVALID_AMOUNT")
    major = minor.scaleb(-2)
    exponent = int(major.as_tuple().exponent)
    if exponent < -2:  # more than two decimals: drop trailing zeros, keep at least two
        major = major.normalize()
        exponent = int(major.as_tuple().exponent)
    if exponent > -2:
        major = major.quantize(Decimal("0.01"))
    return f"{major:f}"


def round_half_up(amount: Decimal | Fraction) -> int:
    """An exact amount in minor units rounded half-up (half away from zero) to a whole minor unit:
    the one rounding rule of contract section 2, for Decimal and for exact fractions."""
    if isinstance(amount, Fraction):
        whole = math.floor(abs(amount) + Fraction(1, 2))
        return whole if amount >= 0 else -whole
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_decimal(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units with its currency. Arithmetic only within one currency."""

    minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError("CURRENCY_MISMATCH", f"{self.currency} and {other.currency} do not mix")

    def __str__(self) -> str:
        return format_amount(self.minor)
