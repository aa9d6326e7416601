"""The ingest service's `FileReaders` port (scf.service.ingest), implemented by the parsers here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from scf.adapters.files.bank_detect import parser_for
from scf.adapters.files.detect import HEAD_BYTES, detect
from scf.adapters.files.platform_csv import read_rows
from scf.domain.bank_files import ParseResult
from scf.domain.files import Detection, RawRow


class FormatParsers:
    """Detection from the content, the platform CSV reader, the bank file parsers."""

    head_bytes = HEAD_BYTES

    def detect(self, head: bytes) -> Detection:
        return detect(head)

    def csv_rows(self, lines: Iterable[str]) -> Iterator[RawRow]:
        return read_rows(lines)

    def bank_file(self, file_format: str, data: bytes) -> ParseResult:
        return parser_for(file_format)(data)
