"""Safe XML for bank files (DESIGN.md section 7; docs/bank-files.md, "XML safety"): no DTD, entities
or external references; size, depth, element, text and attribute caps (`XmlCaps`). The `XmlNode`
tree keeps each element's source line and path (`/Document/BkToCstmrStmt/Stmt[2]`), looked up by
local name; `stream_xml` hands record elements (entries) over one at a time and forgets them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from scf.domain.bank_files import FileError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64  # ISO 20022 messages nest about 15 deep
FEED_BYTES = 64 * 1024  # the parser is fed a chunk at a time


@dataclass(frozen=True)
class XmlCaps:
    """What one XML file may hold (docs/bank-files.md, "Caps"). Held elements are those kept in
    memory at once: everything but the records already handed over (camt entries)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_elements: int = 5_000_000  # a 50 MB statement has about 1.5 million
    max_held_elements: int = 100_000  # about 35 MB of XmlNode
    max_text_chars: int = 100_000  # ISO 20022 texts are at most 500 characters
    max_attributes: int = 64  # ISO 20022 elements have at most 2


DEFAULT_CAPS = XmlCaps()


@dataclass(eq=False, slots=True)
class XmlNode:
    name: str  # local name
    namespace: str | None
    attrib: dict[str, str]
    line: int
    path: str
    children: list[XmlNode] = field(default_factory=list)
    text: str = ""

    @property
    def value(self) -> str:
        return self.text  # stripped when the element closed

    def child(self, name: str) -> XmlNode | None:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> list[XmlNode]:
        return [c for c in self.children if c.name == name]

    def find(self, *names: str) -> XmlNode | None:
        node: XmlNode | None = self
        for name in names:
            if node is None:
                return None
            node = node.child(name)
        return node

    def text_at(self, *names: str) -> str | None:
        """Stripped text of the descendant at `names`; None when absent or empty."""
        node = self.find(*names)
        if node is None or not node.value:
            return None
        return node.value

    def iter(self, name: str) -> Iterator[XmlNode]:
        """Descendants named `name`, document order (iterative: depth is capped anyway)."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if node.name == name:
                yield node
            stack.extend(reversed(node.children))


OnRecord = Callable[[XmlNode, list[XmlNode]], None]


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Builder:
    """Parser target: builds XmlNodes, numbers siblings and enforces the caps. An element named in
    `records` is handed to `on_record` with its open ancestors when it ends, then forgotten."""

    def __init__(self, caps: XmlCaps, records: frozenset[str], on_record: OnRecord | None) -> None:
        self.caps = caps
        self.records = records
        self.on_record = on_record
        self.expat: Any = None
        self.stack: list[XmlNode] = []
        self.texts: list[list[str]] = []
        self.text_sizes: list[int] = []
        self.sizes: list[int] = []  # elements of each open element's subtree so far
        self.counts: list[dict[str, int]] = [{}]
        self.root: XmlNode | None = None
        self.names: dict[str, tuple[str | None, str]] = {}  # one string per tag name: memory
        self.elements = 0
        self.held = 0

    def _split(self, tag: str) -> tuple[str | None, str]:
        known = self.names.get(tag)
        if known is None:
            namespace, _, name = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
            known = self.names[tag] = (namespace or None, name)
        return known

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        caps = self.caps
        if len(self.stack) >= caps.max_depth:
            raise _Refused("TOO_DEEP", f"elements nest deeper than {caps.max_depth} levels")
        self.elements += 1
        self.held += 1
        if self.elements > caps.max_elements:
            raise _Refused("FILE_TOO_COMPLEX", f"more than {caps.max_elements} elements in the file")
        if self.held > caps.max_held_elements:
            message = f"more than {caps.max_held_elements} elements held at once (outside entries, or in one)"
            raise _Refused("FILE_TOO_COMPLEX", message)
        if len(attrib) > caps.max_attributes:
            raise _Refused("FILE_TOO_COMPLEX", f"an element with more than {caps.max_attributes} attributes")
        namespace, name = self._split(tag)
        siblings = self.counts[-1]
        siblings[name] = siblings.get(name, 0) + 1
        index = siblings[name]
        parent_path = self.stack[-1].path if self.stack else ""
        path = f"{parent_path}/{name}" + (f"[{index}]" if index > 1 else "")
        node = XmlNode(name, namespace, dict(attrib), int(self.expat.CurrentLineNumber), path)
        if not self.stack:
            self.root = node
        self.stack.append(node)
        self.texts.append([])
        self.text_sizes.append(0)
        self.sizes.append(1)
        self.counts.append({})

    def end(self, tag: str) -> None:
        node = self.stack.pop()
        node.text = "".join(self.texts.pop()).strip()
        self.text_sizes.pop()
        size = self.sizes.pop()
        self.counts.pop()
        if self.on_record is not None and node.name in self.records and self.stack:
            self.on_record(node, self.stack)
            self.held -= size
            return
        if self.stack:
            self.stack[-1].children.append(node)
            self.sizes[-1] += size

    def data(self, text: str) -> None:
        # Leading whitespace is stripped anyway: dropping it keeps the indentation between the
        # children of a statement (one piece per entry) out of memory and out of the text cap.
        if self.stack and (self.texts[-1] or not text.isspace()):
            self.text_sizes[-1] += len(text)
            if self.text_sizes[-1] > self.caps.max_text_chars:
                message = f"an element with more than {self.caps.max_text_chars} characters of text"
                raise _Refused("FILE_TOO_COMPLEX", message)
            self.texts[-1].append(text)

    def close(self) -> XmlNode | None:
        return self.root


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> XmlNode | FileError:
    """The root element (the whole tree), or the one error that stops the file."""
    return stream_xml(data, XmlCaps(max_bytes=max_bytes, max_depth=max_depth))


def stream_xml(
    data: bytes,
    caps: XmlCaps = DEFAULT_CAPS,
    records: frozenset[str] = frozenset(),
    on_record: OnRecord | None = None,
) -> XmlNode | FileError:
    """Parse `data` in chunks. Each element named in `records` (not the root) goes to `on_record`
    with its open ancestors when it ends, and is not kept; the root comes back with the rest.
    Exceptions of `on_record` pass through (a reader's way to stop early)."""
    if len(data) > caps.max_bytes:
        message = f"{len(data)} bytes is over the limit of {caps.max_bytes}"
        return FileError(1, None, "FILE_TOO_LARGE", message)
    if not data.strip():
        return FileError(1, None, "EMPTY_FILE", "the file is empty")
    builder = _Builder(caps, records, on_record)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser

    def line() -> int:
        return int(parser.parser.CurrentLineNumber) or 1

    try:
        view = memoryview(data)
        for offset in range(0, len(data), FEED_BYTES):
            parser.feed(bytes(view[offset : offset + FEED_BYTES]))
        root = parser.close()
    except DTDForbidden:
        return FileError(line(), None, "DOCTYPE_FORBIDDEN", "a DOCTYPE is not allowed in a bank file")
    except EntitiesForbidden:
        return FileError(line(), None, "ENTITY_FORBIDDEN", "entity declarations are not allowed")
    except ExternalReferenceForbidden:
        return FileError(line(), None, "EXTERNAL_REFERENCE_FORBIDDEN", "external references are not allowed")
    except _Refused as refused:
        return FileError(line(), None, refused.code, refused.message)
    except (ParseError, expat.ExpatError) as exc:
        position = getattr(exc, "position", None)
        at = position[0] if position else line()
        return FileError(at or 1, None, "MALFORMED_XML", f"not well-formed XML: {exc}")
    except (UnicodeError, LookupError) as exc:
        return FileError(line(), None, "INVALID_ENCODING", f"cannot decode the XML: {exc}")
    if not isinstance(root, XmlNode):  # pragma: no cover - expat reports a missing root element
        return FileError(1, None, "MALFORMED_XML", "no root element")
    return root
