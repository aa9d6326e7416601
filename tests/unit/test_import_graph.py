"""The package's layers (DESIGN.md section 2): the domain imports neither services nor adapters, and a
service never imports an adapter (it owns the ports adapters implement)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "scf" / "python" / "scf"

# Services that still read parsed file values from scf.adapters.files (issue 8, point 2: those
# values move to the domain). Remove an entry when its module stops importing adapters.
NOT_YET_CLEAN = {"scf.service.documents", "scf.service.ingest", "scf.service.statements"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@cache
def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def importers(layer: str, forbidden: tuple[str, ...]) -> set[str]:
    return {
        module
        for module, imported in graph().items()
        if module.startswith(layer) and any(name.startswith(forbidden) for name in imported)
    }


def test_the_domain_imports_no_service_and_no_adapter() -> None:
    assert importers("scf.domain", ("scf.service", "scf.adapters")) == set()


def test_no_service_imports_an_adapter() -> None:
    assert importers("scf.service", ("scf.adapters",)) - NOT_YET_CLEAN == set()


def test_the_list_of_services_not_yet_clean_is_not_stale() -> None:
    assert importers("scf.service", ("scf.adapters",)) >= NOT_YET_CLEAN
