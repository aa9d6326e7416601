"""Format detection from a file's first bytes, never from its name (contract section 6).

Each detector looks at the head of the file and either claims it (`Detection.format`), or claims it
but finds it unusable (`format` set, `problem` set: e.g. a documents CSV missing a column), or
passes (`None`). Bank statement formats plug in as further detectors in `DETECTORS`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from scf.adapters.files.bank_detect import detect_bank_format
from scf.adapters.files.platform_csv import DOCUMENT_COLUMNS, SUPPLIER_COLUMNS, header_columns
from scf.domain.files import DOCUMENTS, SUPPLIERS, Detection

HEAD_BYTES = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"


Detector = Callable[[bytes], Detection | None]


def _first_line(head: bytes) -> str | None:
    text = head.removeprefix(UTF8_BOM)
    end = text.find(b"\n")
    line = text if end < 0 else text[:end]
    try:
        return line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None


def detect_platform_csv(head: bytes) -> Detection | None:
    line = _first_line(head)
    if not line or "," not in line:
        return None
    try:
        columns = set(header_columns(line))
    except csv.Error:  # e.g. a lone carriage return inside the first line: not a platform CSV
        return None
    # A column only one of the two files has tells which file it is meant to be.
    for name, required, signature in (
        (DOCUMENTS, DOCUMENT_COLUMNS, {"document_id", "document_type"}),
        (SUPPLIERS, SUPPLIER_COLUMNS, {"account_number", "account_verified"}),
    ):
        if columns & signature:
            missing = [c for c in required if c not in columns]
            if missing:
                return Detection(name, f"the {name} CSV header lacks column(s): {', '.join(missing)}")
            return Detection(name)
    return None


def detect_bank_file(head: bytes) -> Detection | None:
    """camt.053, camt.054, MT940 or pain.002, from the content (docs/bank-files.md)."""
    fmt = detect_bank_format(head)
    return Detection(fmt) if fmt else None


DETECTORS: list[Detector] = [detect_platform_csv, detect_bank_file]


def detect(head: bytes) -> Detection:
    for detector in DETECTORS:
        found = detector(head)
        if found is not None:
            return found
    return Detection(
        None,
        "unrecognised content: expected a platform CSV (suppliers or documents), a camt.053, "
        "camt.054, MT940 or pain.002 file",
    )
