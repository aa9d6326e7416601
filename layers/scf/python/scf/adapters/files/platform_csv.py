"""The platform's two CSV files (contract section 6): their columns, and `read_rows`, which streams
raw rows (line 1 is the header) for scf.domain.files to validate. Nothing here holds the whole file."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from scf.domain.files import MAX_LINE_BYTES, CsvSyntaxError, LineTooLong, RawRow

SUPPLIER_COLUMNS = (
    "supplier_id", "name", "status", "bank_code", "account_number", "account_name", "account_verified",
)  # fmt: skip
DOCUMENT_COLUMNS = (
    "supplier_id", "document_id", "document_type", "document_date", "due_date", "amount", "currency",
    "status", "reference",
)  # fmt: skip


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
        except LineTooLong as exc:
            message = f"a line of more than {MAX_LINE_BYTES} bytes (no line break?)"
            raise CsvSyntaxError(reader.line_num + 1, message, "LINE_TOO_LONG") from exc
        start = previous_end + 1
        previous_end = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
        yield RawRow(start, values)
