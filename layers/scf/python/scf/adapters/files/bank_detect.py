"""Which bank file this is, from the first 64 KB of its content only (docs/bank-files.md, "Formats"),
and the parser for it. Invariant: detection never parses the whole file and never raises; anything
not camt.053/054, MT940 or pain.002 (our own pain.001 included) is None."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from importlib import import_module

from scf.adapters.files.parsing import rejection
from scf.domain.bank_files import CAMT_053, CAMT_054, MT940, PAIN_002, ParseResult

HEAD_BYTES = 64 * 1024
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_NAMESPACES = (
    (re.compile(r"camt\.053\.001\.\d{2}"), CAMT_053),
    (re.compile(r"camt\.054\.001\.\d{2}"), CAMT_054),
    (re.compile(r"pain\.002\.001\.\d{2}"), PAIN_002),
)
_MESSAGES = {"BkToCstmrStmt": CAMT_053, "BkToCstmrDbtCdtNtfctn": CAMT_054, "CstmrPmtStsRpt": PAIN_002}
_START_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)([^<>]*)>")
_XMLNS = re.compile(r"""xmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']""")
_SWIFT_TAG = re.compile(r"^(?:\{[1-3]:(?:[^{}]|\{[^{}]*\})*\})*(?:\{4:)?:(\d{2}[A-Z]?):", re.MULTILINE)
_SWIFT_BODY_TAGS = {"28", "28C", "60F", "60M", "61", "62F", "62M", "13D", "34F"}

# Each format's parser as `module:function`, imported when the first file of the format is parsed:
# the XML and MT940 libraries are most of the ingest function's cold start (docs/benchmarks.md).
_PARSER_PATHS = {
    CAMT_053: "scf.adapters.files.camt:parse_camt",
    CAMT_054: "scf.adapters.files.camt:parse_camt",
    MT940: "scf.adapters.files.mt940:parse_mt940",
    PAIN_002: "scf.adapters.files.pain002:parse_pain002",
}


def parser_for(fmt: str) -> Callable[[bytes], ParseResult]:
    """The parser of a detected bank format (KeyError for any other)."""
    module, name = _PARSER_PATHS[fmt].split(":")
    parser: Callable[[bytes], ParseResult] = getattr(import_module(module), name)
    return parser


def _head_text(data: bytes) -> str:
    head = data[:HEAD_BYTES]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    return head.decode("latin-1")  # every byte maps: tags and namespaces are ASCII


def _skip_prolog(text: str) -> int:
    """Index of the first element's '<' after the declaration, comments, PIs and a DOCTYPE."""
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("<?", position):
            terminator = "?>"
        elif text.startswith("<!--", position):
            terminator = "-->"
        elif text.startswith("<!", position):
            bracket, close = text.find("[", position), text.find(">", position)
            terminator = "]>" if 0 <= bracket < close else ">"
        else:
            return position
        end = text.find(terminator, position)
        if end < 0:
            return len(text)
        position = end + len(terminator)


def _detect_xml(text: str) -> str | None:
    position = _skip_prolog(text)
    root = _START_TAG.match(text, position)
    if root is None:
        return None
    for namespace in _XMLNS.findall(root.group(2)):
        for pattern, fmt in _NAMESPACES:
            if pattern.search(namespace):
                return fmt
    if _XMLNS.search(root.group(2)) and root.group(1) == "Document":
        return None  # a namespaced ISO document of another kind (pain.001, camt.052, ...)
    message = _START_TAG.search(text, root.end())
    return _MESSAGES.get(message.group(1)) if message is not None else None


def detect_bank_format(data: bytes) -> str | None:
    text = _head_text(data)
    if text.lstrip().startswith("<"):
        return _detect_xml(text)
    tags = set(_SWIFT_TAG.findall(text))
    if "20" in tags and "25" in tags and tags & _SWIFT_BODY_TAGS:
        return MT940
    return None


def parse_bank_file(data: bytes) -> ParseResult:
    fmt = detect_bank_format(data)
    if fmt is None:
        return rejection(
            None,
            1,
            None,
            "UNKNOWN_FORMAT",
            "not a camt.053, camt.054, MT940 or pain.002 file (detected by content)",
        )
    result = parser_for(fmt)(data)
    # An XML-level rejection (malformed, DOCTYPE) still belongs to the detected format.
    return result if result.format else replace(result, format=fmt)
