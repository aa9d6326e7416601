"""What the platform's CSV files hold once read (contract section 6): raw rows, supplier and
document records, and the located errors of rows that break a rule. Parsers in
`scf.adapters.files` produce them; the ingest service consumes them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from scf.domain.money import format_amount
from scf.domain.pool import Document
from scf.errors import InvalidInput

SUPPLIERS = "suppliers"
DOCUMENTS = "documents"


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

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message, details={"line": line})
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
