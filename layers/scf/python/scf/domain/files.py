"""What the platform's CSV files hold (contract section 6): raw rows as read, the rules a row must
meet (`validate_supplier`, `validate_document`), and the records or located errors they give.
Invariant: a row is either a record or at least one `RowError`, never both."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from scf.domain.money import MoneyError, format_amount, parse_amount, parse_currency
from scf.domain.pool import DOCUMENT_STATUSES, DOCUMENT_TYPES, Document
from scf.errors import InvalidInput

SUPPLIERS = "suppliers"
DOCUMENTS = "documents"
SUPPLIER_STATUSES = ("ACTIVE", "SUSPENDED")
MAX_ID_LENGTH = 64
REPLACEMENT_CHAR = "\ufffd"  # what the reader decodes a byte that is not UTF-8 to


@dataclass(frozen=True)
class Detection:
    """A file's format as read from its content; `problem` set: known or not, it cannot be read."""

    format: str | None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.format is not None and self.problem is None


@dataclass(frozen=True)
class RowError:
    """One rejected row's problem, `{line, field, code, message}` in the report (line 1: the header)."""

    line: int
    field: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class RawRow:
    """A data row keyed by the header's column names; `line` is where the record starts."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class SupplierRecord:
    line: int
    supplier_id: str
    name: str
    status: str
    bank_code: str
    account_number: str
    account_name: str
    account_verified: bool


@dataclass(frozen=True)
class DocumentRecord:
    line: int
    supplier_id: str
    currency: str
    due_date: date | None
    document: Document

    @cached_property
    def content_hash(self) -> str:
        """Identity of the row's content: a re-send with the same hash is a no-op."""
        doc = self.document
        canonical = {
            "supplier_id": self.supplier_id,
            "document_id": doc.document_id,
            "document_type": doc.document_type,
            "document_date": doc.document_date.isoformat(),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "amount": format_amount(doc.amount_minor),
            "currency": self.currency,
            "status": doc.status,
            "reference": list(doc.references),
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class CsvSyntaxError(InvalidInput):
    """The CSV cannot be read on from `line` (e.g. an oversized or unterminated quoted field)."""

    default_code = "CSV_SYNTAX"

    def __init__(self, line: int, message: str, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"line": line})
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


MAX_LINE_BYTES = 64 * 1024  # a platform CSV line (docs/ingestion.md, "Memory")


class LineTooLong(Exception):
    """Raised by a lines source (S3ObjectLines) instead of holding a line over MAX_LINE_BYTES: a
    file without line breaks would otherwise be read into memory whole."""


# ---- validation: one raw row -> a record or its errors ---------------------------------------


class _Errors:
    def __init__(self, line: int) -> None:
        self.line = line
        self.items: list[RowError] = []

    def add(self, field: str | None, code: str, message: str) -> None:
        self.items.append(RowError(self.line, field, code, message))


def _encoding_errors(row: RawRow, errors: _Errors) -> None:
    for name, value in row.values.items():
        if REPLACEMENT_CHAR in value:
            errors.add(name, "INVALID_ENCODING", "is not valid UTF-8")


def _identifier(row: RawRow, name: str, errors: _Errors) -> str:
    value = row.values.get(name, "")
    if not value:
        errors.add(name, "REQUIRED", "is required")
    elif len(value) > MAX_ID_LENGTH or any(c in value for c in "#\n\r"):
        errors.add(name, "INVALID_ID", f"must be at most {MAX_ID_LENGTH} characters without '#'")
    return value


def _date(row: RawRow, name: str, errors: _Errors, *, required: bool) -> date | None:
    value = row.values.get(name, "")
    if not value:
        if required:
            errors.add(name, "REQUIRED", "is required")
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        errors.add(name, "INVALID_DATE", "must be a date YYYY-MM-DD")
        return None


def _choice(row: RawRow, name: str, choices: tuple[str, ...], errors: _Errors) -> str:
    value = row.values.get(name, "")
    if value not in choices:
        errors.add(name, "INVALID_VALUE", f"must be one of {', '.join(choices)}")
    return value


def validate_supplier(row: RawRow) -> SupplierRecord | list[RowError]:
    errors = _Errors(row.line)
    _encoding_errors(row, errors)
    supplier_id = _identifier(row, "supplier_id", errors)
    for name in ("name", "bank_code", "account_number", "account_name"):
        if not row.values.get(name):
            errors.add(name, "REQUIRED", "is required")
    status = _choice(row, "status", SUPPLIER_STATUSES, errors)
    verified_raw = row.values.get("account_verified", "").lower()
    if verified_raw not in ("true", "false"):
        errors.add("account_verified", "INVALID_VALUE", "must be true or false")
    if errors.items:
        return errors.items
    return SupplierRecord(
        line=row.line,
        supplier_id=supplier_id,
        name=row.values["name"],
        status=status,
        bank_code=row.values["bank_code"],
        account_number=row.values["account_number"],
        account_name=row.values["account_name"],
        account_verified=verified_raw == "true",
    )


def validate_document(row: RawRow, today: date) -> DocumentRecord | list[RowError]:
    errors = _Errors(row.line)
    _encoding_errors(row, errors)
    supplier_id = _identifier(row, "supplier_id", errors)
    document_id = _identifier(row, "document_id", errors)
    document_type = _choice(row, "document_type", DOCUMENT_TYPES, errors)
    document_date = _date(row, "document_date", errors, required=True)
    if document_date is not None and document_date > today:
        errors.add("document_date", "FUTURE_DATE", f"is after the business date {today.isoformat()}")
    due_date = _date(row, "due_date", errors, required=False)
    amount = 0
    try:
        amount = parse_amount(row.values.get("amount", ""))
        if amount == 0:
            errors.add("amount", "INVALID_AMOUNT", "must be positive")
    except MoneyError as exc:
        errors.add("amount", exc.code, exc.message)
    currency = ""
    try:
        currency = parse_currency(row.values.get("currency", ""))
    except MoneyError as exc:
        errors.add("currency", exc.code, exc.message)
    status = _choice(row, "status", DOCUMENT_STATUSES, errors)
    references = tuple(ref.strip() for ref in row.values.get("reference", "").split(";") if ref.strip())
    if errors.items or document_date is None:
        return errors.items
    return DocumentRecord(
        line=row.line,
        supplier_id=supplier_id,
        currency=currency,
        due_date=due_date,
        document=Document(document_id, document_type, document_date, amount, status, references),
    )
