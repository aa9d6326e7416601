"""Safe XML for bank files (DESIGN.md section 7; docs/bank-files.md, "XML safety"): no DTD, entities
or external references, a size cap before and a depth cap while parsing. The `XmlNode` tree keeps
each element's source line and path (`/Document/BkToCstmrStmt/Stmt[2]`), looked up by local name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from scf.domain.bank_files import FileError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64  # ISO 20022 messages nest about 15 deep


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


class _TooDeep(Exception):
    pass


class _Builder:
    """Parser target: builds XmlNodes, numbers siblings and enforces the depth cap."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.expat: Any = None
        self.stack: list[XmlNode] = []
        self.counts: list[dict[str, int]] = [{}]
        self.root: XmlNode | None = None
        self.names: dict[str, tuple[str | None, str]] = {}  # one string per tag name: memory

    def _split(self, tag: str) -> tuple[str | None, str]:
        known = self.names.get(tag)
        if known is None:
            namespace, _, name = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
            known = self.names[tag] = (namespace or None, name)
        return known

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if len(self.stack) >= self.max_depth:
            raise _TooDeep
        namespace, name = self._split(tag)
        siblings = self.counts[-1]
        siblings[name] = siblings.get(name, 0) + 1
        index = siblings[name]
        parent_path = self.stack[-1].path if self.stack else ""
        path = f"{parent_path}/{name}" + (f"[{index}]" if index > 1 else "")
        node = XmlNode(name, namespace, dict(attrib), int(self.expat.CurrentLineNumber), path)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.counts.append({})

    def end(self, tag: str) -> None:
        node = self.stack.pop()
        node.text = node.text.strip()
        self.counts.pop()

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text += text

    def close(self) -> XmlNode | None:
        return self.root


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> XmlNode | FileError:
    """The root element, or the one error that stops the file."""
    if len(data) > max_bytes:
        return FileError(1, None, "FILE_TOO_LARGE", f"{len(data)} bytes is over the limit of {max_bytes}")
    if not data.strip():
        return FileError(1, None, "EMPTY_FILE", "the file is empty")
    builder = _Builder(max_depth)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser

    def line() -> int:
        return int(parser.parser.CurrentLineNumber) or 1

    try:
        parser.feed(data)
        root = parser.close()
    except DTDForbidden:
        return FileError(line(), None, "DOCTYPE_FORBIDDEN", "a DOCTYPE is not allowed in a bank file")
    except EntitiesForbidden:
        return FileError(line(), None, "ENTITY_FORBIDDEN", "entity declarations are not allowed")
    except ExternalReferenceForbidden:
        return FileError(line(), None, "EXTERNAL_REFERENCE_FORBIDDEN", "external references are not allowed")
    except _TooDeep:
        return FileError(line(), None, "TOO_DEEP", f"elements nest deeper than {max_depth} levels")
    except (ParseError, expat.ExpatError) as exc:
        position = getattr(exc, "position", None)
        at = position[0] if position else line()
        return FileError(at or 1, None, "MALFORMED_XML", f"not well-formed XML: {exc}")
    except (UnicodeError, LookupError) as exc:
        return FileError(line(), None, "INVALID_ENCODING", f"cannot decode the XML: {exc}")
    if not isinstance(root, XmlNode):  # pragma: no cover - expat reports a missing root element
        return FileError(1, None, "MALFORMED_XML", "no root element")
    return root
