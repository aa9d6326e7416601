"""What the bank file parsers share (docs/bank-files.md): the one-error rejection, exact amounts in
ISO 4217 minor units, calendar dates. An amount that is not exact in its currency (EUR 18.155) gets
`amount_minor=None` and an `AMOUNT_PRECISION` error: never rounded."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from scf.domain.bank_files import FileError, ParseResult

# ISO 4217 currencies whose minor unit is not 2 digits; every other well-formed code has 2.
_EXPONENT_0 = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
     "XAF", "XOF", "XPF"}
)  # fmt: skip
_EXPONENT_3 = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_EXPONENT_4 = frozenset({"CLF", "UYW"})
# Codes without a minor unit at all (metals, SDR, test and "no currency" codes): no money here.
_NO_MINOR_UNIT = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT_DIGITS = 18  # ISO 20022 ActiveOrHistoricCurrencyAndAmount: totalDigits 18
MAX_FRACTION_DIGITS = 5  # ... fractionDigits 5
# Statements, entries, transactions, statuses and errors one file may produce (docs/bank-files.md,
# "Caps"): about 300 MB of parsed objects at most; a 50 MB MT940 of real-looking entries has 290,000.
MAX_ITEMS = 400_000


def rejection(format: str | None, line: int, field: str | None, code: str, message: str) -> ParseResult:
    """A result with nothing usable and the one error that says why."""
    return ParseResult(format=format, errors=(FileError(line, field, code, message),))


def currency_exponent(currency: str) -> int | None:
    """ISO 4217 minor-unit digits, or None for a code that is not money (XAU) or not a code."""
    if not _CURRENCY.match(currency) or currency in _NO_MINOR_UNIT:
        return None
    if currency in _EXPONENT_0:
        return 0
    if currency in _EXPONENT_3:
        return 3
    if currency in _EXPONENT_4:
        return 4
    return 2


def valid_currency(currency: str) -> bool:
    return bool(_CURRENCY.match(currency))


def to_minor(amount: Decimal, currency: str) -> int | None:
    """Exact minor units, or None if the amount has more precision than the currency allows."""
    exponent = currency_exponent(currency)
    if exponent is None:
        return None
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


_DECIMAL = re.compile(r"^([0-9]+)(?:\.([0-9]*))?$")


def parse_decimal(text: str) -> Decimal | None:
    """A non-negative ISO 20022 amount (at most 18 digits, 5 of them decimals), else None."""
    match = _DECIMAL.match(text.strip())
    if match is None:
        return None
    whole, fraction = match.group(1), match.group(2) or ""
    if len(whole.lstrip("0")) + len(fraction) > MAX_AMOUNT_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        return None
    try:
        return Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None


def money_errors(amount: Decimal, currency: str, line: int, field: str) -> tuple[int | None, list[FileError]]:
    """Minor units of a parsed amount, with the error that explains a None."""
    if not valid_currency(currency):
        return None, [FileError(line, field, "INVALID_CURRENCY", f"{currency!r} is not an ISO 4217 code")]
    if currency_exponent(currency) is None:
        message = f"{currency} has no minor unit: not a currency the platform can book"
        return None, [FileError(line, field, "UNSUPPORTED_CURRENCY", message)]
    minor = to_minor(amount, currency)
    if minor is None:
        message = (
            f"{amount} {currency} has more decimals than {currency} allows; kept as an exact amount, "
            "not rounded, and not usable for matching"
        )
        return None, [FileError(line, field, "AMOUNT_PRECISION", message)]
    return minor, []


def calendar_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
