"""The platform's two CSV files (contract section 6): `read_rows` streams raw rows (line 1 is the
header), `validate_supplier` / `validate_document` turn one into a record of scf.domain.files or its
errors. Parsing is separate from validation; nothing here holds the whole file."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from scf.domain.files import CsvSyntaxError, DocumentRecord, RawRow, RowError, SupplierRecord
from scf.domain.money import MoneyError, parse_amount, parse_currency
from scf.domain.pool import DOCUMENT_STATUSES, DOCUMENT_TYPES, Document

SUPPLIER_COLUMNS = (
    "supplier_id", "name", "status", "bank_code", "account_number", "account_name", "account_verified",
)  # fmt: skip
DOCUMENT_COLUMNS = (
    "supplier_id", "document_id", "document_type", "document_date", "due_date", "amount", "currency",
    "status", "reference",
)  # fmt: skip
SUPPLIER_STATUSES = ("ACTIVE", "SUSPENDED")
MAX_ID_LENGTH = 64
REPLACEMENT_CHAR = "\ufffd"


def header_columns(first_line: str) -> list[str]:
    """Column names of a CSV header line (BOM already removed), normalised."""
    row = next(csv.reader([first_line]), [])
    return [name.strip().lower() for name in row]


def read_rows(lines: Iterable[str]) -> Iterator[RawRow]:
    """Data rows keyed by column name; blank lines are not rows. Missing trailing cells read as ""."""
    reader = csv.reader(iter(lines))
    header = [name.strip().lower() for name in next(reader, [])]
    previous_end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvSyntaxError(previous_end + 1, str(exc)) from exc
        start = previous_end + 1
        previous_end = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
        yield RawRow(start, values)


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
