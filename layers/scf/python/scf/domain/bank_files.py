"""What bank files hold once parsed (docs/bank-files.md, "The model"): statements with their
entries, pain.002 payment statuses and located `FileError`s, in a `ParseResult`. Parsers in
`scf.adapters.files` produce them; the statement matcher consumes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CREDIT = "CREDIT"
DEBIT = "DEBIT"
BOOKED = "BOOKED"
PENDING = "PENDING"
INFO = "INFO"

CAMT_053 = "camt.053"
CAMT_054 = "camt.054"
MT940 = "mt940"
PAIN_002 = "pain.002"

BANK_FORMATS = frozenset({CAMT_053, CAMT_054, MT940, PAIN_002})

# The level a pain.002 status is about: the whole original message, one PmtInf of it, one payment.
GROUP = "GROUP"
PAYMENT_INFO = "PAYMENT_INFO"
TRANSACTION = "TRANSACTION"


@dataclass(frozen=True, slots=True)
class FileError:
    """One problem, located: `line` is 1-based (1 for problems of the file as a whole)."""

    line: int
    field: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
    # The other side's account and bank (camt RltdPties/RltdAgts): the debtor of a credit, the
    # creditor of a debit; where an unmatched credit is returned to (`RETURN`).
    counterparty_account: str | None = None
    counterparty_bic: str | None = None


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Pain002Status:
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
    created_on: date | None = None  # GrpHdr/CreDtTm: the day the bank made the report
    # The day the bank says the payment settled or was accepted (TxInfAndSts FctvIntrBkSttlmDt, else
    # AccptncDtTm); None when the status carries neither.
    settled_on: date | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    format: str | None
    statements: tuple[Statement, ...] = ()
    statuses: tuple[Pain002Status, ...] = ()
    errors: tuple[FileError, ...] = ()

    @property
    def rejected(self) -> bool:
        """Nothing usable came out of the file."""
        return not self.statements and not self.statuses

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(entry for statement in self.statements for entry in statement.entries)
