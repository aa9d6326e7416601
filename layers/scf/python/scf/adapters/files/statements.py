"""The common model of parsed bank files (docs/bank-files.md).

Every parser (camt.053/054, MT940/942, pain.002) turns bytes into a `ParseResult`: statements (or
payment statuses) plus `FileError`s shaped like the platform CSV errors, `{line, field, code,
message}` (contract section 6; for XML `field` is the element path, for MT940 the tag).
Parsing is separate from use: nothing here knows loans or disbursements.

Money: amounts are parsed as exact `Decimal` and converted to integer minor units of the
currency's ISO 4217 exponent. An amount that is not exactly representable (EUR 18.155) keeps its
`Decimal`, gets `amount_minor=None` and an `AMOUNT_PRECISION` error: never rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

CREDIT = "CREDIT"
DEBIT = "DEBIT"
BOOKED = "BOOKED"
PENDING = "PENDING"
INFO = "INFO"

CAMT_053 = "camt.053"
CAMT_054 = "camt.054"
MT940 = "mt940"
PAIN_002 = "pain.002"

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


@dataclass(frozen=True)
class FileError:
    """One problem, located: `line` is 1-based (1 for problems of the file as a whole)."""

    line: int
    field: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Balance:
    code: str  # OPBD / CLBD (camt) or the MT940 tag (60F, 62M, ...)
    amount: Decimal
    amount_minor: int | None
    currency: str
    direction: str  # CREDIT | DEBIT
    date: date | None

    @property
    def signed_minor(self) -> int | None:
        if self.amount_minor is None:
            return None
        return self.amount_minor if self.direction == CREDIT else -self.amount_minor


@dataclass(frozen=True)
class Transaction:
    """One payment inside an entry (camt `TxDtls`): a batch booking holds many."""

    line: int
    path: str
    amount: Decimal | None
    amount_minor: int | None
    currency: str | None
    direction: str | None
    end_to_end_id: str | None  # NOTPROVIDED is None
    remittance: str
    bank_reference: str | None = None
    instruction_id: str | None = None
    uetr: str | None = None
    return_reason: str | None = None  # RtrInf/Rsn/Cd: a returned payment


@dataclass(frozen=True)
class Entry:
    """One booking on the account. `direction` is the way the money moved in this booking: a
    reversal (`reversal=True`) of a credit is a DEBIT. `amount_minor` is None only with an
    `AMOUNT_PRECISION` or `UNSUPPORTED_CURRENCY` error in the result."""

    line: int
    path: str
    amount: Decimal
    amount_minor: int | None
    currency: str
    direction: str
    status: str  # BOOKED | PENDING | INFO
    reversal: bool
    booking_date: date | None
    value_date: date | None
    bank_reference: str | None
    end_to_end_ids: tuple[str, ...]
    remittance: str
    transactions: tuple[Transaction, ...] = ()
    batch: bool = False  # one booking of many payments: match per transaction, not per entry
    batch_size: int | None = None  # NbOfTxs as announced by the bank
    owner_reference: str | None = None  # MT940 :61: reference for the account owner
    additional_info: str = ""  # AddtlNtryInf / MT940 :61: supplementary details

    @property
    def signed_minor(self) -> int | None:
        if self.amount_minor is None:
            return None
        return self.amount_minor if self.direction == CREDIT else -self.amount_minor


@dataclass(frozen=True)
class Statement:
    format: str  # camt.053 | camt.054 | mt940
    version: str | None  # "001.04" for ISO 20022, "MT940" / "MT942" for SWIFT
    line: int
    path: str
    message_id: str | None
    statement_id: str
    account: str  # IBAN, or the bank's own account id
    currency: str | None
    servicer_bic: str | None
    sequence: str | None
    opening_balance: Balance | None
    closing_balance: Balance | None
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class PaymentStatus:
    """A status from a pain.002 at one of three levels: GROUP (the whole original message),
    PAYMENT_INFO (one PmtInf of it) or TRANSACTION (one payment, with its end-to-end id)."""

    line: int
    path: str
    level: str
    message_id: str | None
    original_message_id: str
    original_payment_info_id: str | None
    end_to_end_id: str | None
    status: str  # ACCP / ACSC / ACTC / RJCT / PDNG / PART / ...
    reason_code: str | None
    group_status: str | None
    original_instruction_id: str | None = None
    additional_info: str = ""


@dataclass(frozen=True)
class ParseResult:
    format: str | None
    statements: tuple[Statement, ...] = ()
    statuses: tuple[PaymentStatus, ...] = ()
    errors: tuple[FileError, ...] = ()

    @property
    def rejected(self) -> bool:
        """Nothing usable came out of the file."""
        return not self.statements and not self.statuses

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(entry for statement in self.statements for entry in statement.entries)


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
