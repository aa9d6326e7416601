"""The ingest service's `FileReaders` port (scf.service.ingest), implemented by the parsers here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from scf.adapters.files.bank_detect import PARSERS
from scf.adapters.files.detect import HEAD_BYTES, detect
from scf.adapters.files.platform_csv import read_rows, validate_document, validate_supplier
from scf.domain.bank_files import ParseResult
from scf.domain.files import Detection, DocumentRecord, RawRow, RowError, SupplierRecord


class FormatParsers:
    """Detection from the content, the platform CSV reader and validators, the bank file parsers."""

    head_bytes = HEAD_BYTES

    def detect(self, head: bytes) -> Detection:
        return detect(head)

    def csv_rows(self, lines: Iterable[str]) -> Iterator[RawRow]:
        return read_rows(lines)

    def supplier(self, row: RawRow) -> SupplierRecord | list[RowError]:
        return validate_supplier(row)

    def document(self, row: RawRow, today: date) -> DocumentRecord | list[RowError]:
        return validate_document(row, today)

    def bank_file(self, file_format: str, data: bytes) -> ParseResult:
        return PARSERS[file_format](data)
