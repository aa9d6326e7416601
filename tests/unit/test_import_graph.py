"""The package's layers (DESIGN.md section 6): the domain imports neither service nor adapters, a
service never imports an adapter. Read from the source with `ast`, lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "scf" / "python" / "scf"

# layer -> the layers it must never import
FORBIDDEN = {
    "scf.domain": ("scf.service", "scf.adapters"),
    "scf.service": ("scf.adapters",),
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `source` imports, absolute, wherever the import statement is."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def violations(modules: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(modules.items()):
        for layer, forbidden in FORBIDDEN.items():
            if module != layer and not module.startswith(layer + "."):
                continue
            flagged = {
                name for name in imported if any(name == f or name.startswith(f + ".") for f in forbidden)
            }
            # `from a.b import c` names both a.b and a.b.c: report the statement's module once
            found += [
                f"{module} imports {name}"
                for name in sorted(flagged)
                if name.rpartition(".")[0] not in flagged
            ]
    return found


def package_imports() -> dict[str, set[str]]:
    return {
        module_name(path): imports_of(
            path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py"
        )
        for path in PACKAGE.rglob("*.py")
    }


def test_no_layer_imports_a_layer_it_must_not() -> None:
    modules = package_imports()

    found = violations(modules)

    assert found == []


def test_the_package_is_read_whole() -> None:
    modules = package_imports()

    assert {"scf.domain.loan", "scf.service.credit", "scf.adapters.http"} <= modules.keys()


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("scf.domain.loan", "from scf.service.credit import CreditService"),
        ("scf.domain.loan", "def f():\n    import scf.adapters.http\n"),
        ("scf.service.credit", "from ..adapters.dynamodb import models"),
        ("scf.service.credit", "from scf.adapters.banks.simulated import SimulatedBankGateway"),
    ],
)
def test_a_forbidden_import_is_found(module: str, source: str) -> None:
    imported = imports_of(source, module)

    found = violations({module: imported})

    assert len(found) == 1 and found[0].startswith(module)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("scf.service.credit", "from scf.domain.pool import Pool"),
        ("scf.adapters.http", "from scf.service.credit import CreditService"),
        ("scf.domain.loan", "from scf.errors import Conflict"),
    ],
)
def test_an_allowed_import_is_not_flagged(module: str, source: str) -> None:
    imported = imports_of(source, module)

    found = violations({module: imported})

    assert found == []
