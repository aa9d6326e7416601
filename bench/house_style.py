"""The house-style figures of issue 8, for one checkout: handler lines per function, the ten longest
functions of the package, the number of exception classes, the service -> adapter imports (target 0)
and the wall time of the unit suite. Read from the source with `ast` (nothing of the checkout is
imported); results and the commands in docs/architecture.md, "House style: before and after".

- handler lines: non-blank lines of `functions/<name>/handler.py`.
- longest functions: every `def` of `layers/scf/python/scf` (methods and nested ones too), from its
  `def` line to its last line, named `module:qualname`.
- exception classes: classes of the package deriving, through the package's own classes, from a
  built-in exception (`BaseException` and below); a base imported from outside the package counts
  when it is an exception class of that library.
- service -> adapter imports: `import` statements in `scf/service/` naming `scf.adapters`
  (relative ones too, and those under `if TYPE_CHECKING`).
- unit suite: `python -m pytest -q -p no:cacheprovider tests/unit` in a subprocess, in the checkout,
  with `PYTHONPATH=<root>/layers/scf/python:<root>`; its wall time depends on the machine's load,
  which is printed beside it.

    .venv/bin/python bench/house_style.py                       # this checkout
    .venv/bin/python bench/house_style.py --root /tmp/before --runs 2
    .venv/bin/python bench/house_style.py --no-tests --list     # no suite; name every exception
"""

from __future__ import annotations

import argparse
import ast
import builtins
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PACKAGE = "scf"
PACKAGE_PARENT = Path("layers/scf/python")
FUNCTIONS_DIR = Path("functions")
UNIT_SUITE = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"]
LONGEST = 10


@dataclass(frozen=True)
class Module:
    name: str  # dotted: scf.service.credit
    path: Path
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@dataclass(frozen=True)
class FunctionSize:
    lines: int
    name: str  # module:qualname


@dataclass(frozen=True)
class Import:
    where: str  # relative path:line
    text: str


def read_package(root: Path) -> list[Module]:
    base = root / PACKAGE_PARENT
    modules = []
    for path in sorted((base / PACKAGE).rglob("*.py")):
        parts = path.relative_to(base).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return modules


# ---- handler lines -----------------------------------------------------------------------------


def handler_lines(root: Path) -> dict[str, int]:
    return {
        path.parent.name: sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        for path in sorted((root / FUNCTIONS_DIR).glob("*/handler.py"))
    }


# ---- longest functions -------------------------------------------------------------------------


def _functions(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            qualname = f"{prefix}{child.name}"
            yield qualname, child
            yield from _functions(child, f"{qualname}.<locals>.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)  # defs under if/try/with


def function_sizes(modules: list[Module]) -> list[FunctionSize]:
    sizes = [
        FunctionSize(
            lines=(node.end_lineno or node.lineno) - node.lineno + 1, name=f"{module.name}:{qualname}"
        )
        for module in modules
        for qualname, node in _functions(module.tree, "")
    ]
    return sorted(sizes, key=lambda size: (-size.lines, size.name))


# ---- exception classes -------------------------------------------------------------------------


def _resolve_from(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against `module`)."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))


def _imported_names(module: Module) -> dict[str, str]:
    """Local name -> dotted name it was imported as (`from a.b import C as D`: D -> a.b.C)."""
    names = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(module, node)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{source}.{alias.name}"
    return names


def _dotted(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value)
        return f"{head}.{expr.attr}" if head else None
    return None


def _outside_exception(dotted: str) -> bool:
    """Whether `dotted` (outside the package) names an exception class: built-ins by name, a
    library's class by importing its module (a library, never the checkout)."""
    if "." not in dotted:
        value = getattr(builtins, dotted, None)
        return isinstance(value, type) and issubclass(value, BaseException)
    module_name, _, attr = dotted.rpartition(".")
    if module_name == PACKAGE or module_name.startswith(f"{PACKAGE}."):
        return False
    try:
        value = getattr(importlib.import_module(module_name), attr, None)
    except Exception:  # an optional library missing here: not counted
        return False
    return isinstance(value, type) and issubclass(value, BaseException)


def exception_classes(modules: list[Module]) -> list[str]:
    """Dotted names of the package's exception classes (to a fixpoint over the package's bases)."""
    bases: dict[str, list[str]] = {}  # class -> its bases as dotted names (package or outside)
    for module in modules:
        imported = _imported_names(module)
        local = {node.name for node in ast.walk(module.tree) if isinstance(node, ast.ClassDef)}
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.ClassDef):
                continue
            resolved = []
            for base in node.bases:
                dotted = _dotted(base)
                if dotted is None:
                    continue
                head, _, rest = dotted.partition(".")
                if head in local and not rest:
                    resolved.append(f"{module.name}.{head}")
                elif head in imported:
                    resolved.append(imported[head] + (f".{rest}" if rest else ""))
                else:
                    resolved.append(dotted)
            bases[f"{module.name}.{node.name}"] = resolved
    found = {name for name, of in bases.items() if any(b not in bases and _outside_exception(b) for b in of)}
    changed = True
    while changed:
        grown = {name for name, of in bases.items() if name not in found and any(b in found for b in of)}
        found |= grown
        changed = bool(grown)
    return sorted(found)


# ---- service -> adapter imports ----------------------------------------------------------------


def service_adapter_imports(modules: list[Module], root: Path) -> list[Import]:
    adapters = f"{PACKAGE}.adapters"
    found = []
    for module in modules:
        if not module.name.startswith(f"{PACKAGE}.service"):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve_from(module, node)
                targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
            else:
                continue
            if any(t == adapters or t.startswith(f"{adapters}.") for t in targets):
                where = f"{module.path.relative_to(root)}:{node.lineno}"
                found.append(Import(where=where, text=" ".join(ast.unparse(node).split())))
    return found


# ---- unit suite --------------------------------------------------------------------------------


def time_unit_suite(root: Path, python: str) -> tuple[float, int, str]:
    """Wall seconds, exit status and pytest's last line."""
    env = dict(os.environ)
    paths = [str(root / PACKAGE_PARENT), str(root)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    started = time.perf_counter()
    done = subprocess.run([python, *UNIT_SUITE], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return elapsed, done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


# ---- report ------------------------------------------------------------------------------------


def _commit(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return done.stdout.strip()[:90] if done.returncode == 0 else "(not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="a checkout")
    parser.add_argument("--no-tests", action="store_true", help="skip timing the unit suite")
    parser.add_argument("--runs", type=int, default=1, help="time the unit suite this many times")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the suite")
    parser.add_argument("--list", action="store_true", help="name every exception class")
    args = parser.parse_args()
    root = args.root.resolve()
    modules = read_package(root)

    print(f"checkout {root} at {_commit(root)}")
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs")

    handlers = handler_lines(root)
    print("\nhandler lines (non-blank, functions/<name>/handler.py)")
    for name, lines in handlers.items():
        print(f"  {lines:5d}  {name}")
    print(f"  {sum(handlers.values()):5d}  total")

    sizes = function_sizes(modules)
    print(f"\nten longest functions of {PACKAGE_PARENT / PACKAGE} ({len(sizes)} functions; lines def to end)")
    for size in sizes[:LONGEST]:
        print(f"  {size.lines:5d}  {size.name}")

    exceptions = exception_classes(modules)
    print(f"\nexception classes: {len(exceptions)}")
    if args.list:
        for name in exceptions:
            print(f"  {name}")

    imports = service_adapter_imports(modules, root)
    print(f"\nservice -> adapter imports: {len(imports)} (target 0)")
    for found in imports:
        print(f"  {found.where}  {found.text}")

    if args.no_tests:
        return
    command = " ".join(["python", *UNIT_SUITE])
    failed = False
    for run in range(1, args.runs + 1):
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        elapsed, status, summary = time_unit_suite(root, args.python)
        failed |= status != 0
        print(f"\nunit suite, run {run}: {elapsed:.1f} s wall ({command}; load before {load}): {summary}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
