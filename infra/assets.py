"""Code assets as Lambda loads them: the sources with their bytecode (docs/decisions/0002, "Bytecode
in the assets"). Lambda's code directories are read-only, so Python can never cache what it compiles:
without a `.pyc` beside each module, every cold start compiles every module it imports again.
`compiled(source)` stages a copy of `source` under `build/assets/<name>-<digest>/` with
unchecked-hash `.pyc` files (never checked against a source's timestamp, which a zip does not
keep exactly); the digest is of the source files and the interpreter's bytecode magic, so a change
of either stages a new directory and a stale `.pyc` is never shipped. Built once per digest, under a
lock (parallel test workers synthesize at once).
"""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import hashlib
import importlib.util
import py_compile
import shutil
import sys
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "build" / "assets"
LOCK = ASSETS_DIR.with_name("assets.lock")
# Never copied: caches of the tools and bytecode compiled by anything but this module.
IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
RUNTIME_VERSION = (3, 11)  # the functions' runtime (infra/constructs/common.RUNTIME)


def _sources(source: Path) -> list[Path]:
    """The files `compiled` copies, in a stable order."""
    return [
        path
        for path in sorted(source.rglob("*"))
        if path.is_file()
        and not any(fnmatch(part, pattern) for part in path.relative_to(source).parts for pattern in IGNORED)
    ]


def digest(source: Path) -> str:
    """The sources' content and paths, and the bytecode magic of the interpreter compiling them."""
    hashed = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    for path in _sources(source):
        hashed.update(str(path.relative_to(source)).encode() + b"\0")
        hashed.update(hashlib.sha256(path.read_bytes()).digest())
    return hashed.hexdigest()[:16]


def compiled(source: Path) -> Path:
    """`source` staged with its bytecode (a directory under build/assets/); built if missing."""
    target = ASSETS_DIR / f"{source.name}-{digest(source)}"
    if target.is_dir():
        return target
    with _exclusive():
        if not target.is_dir():  # another process staged it while we waited
            _stage(source, target)
    return target


def source_digest(staged: Path) -> str:
    """The sources' digest a directory `compiled` returned was staged for (its name's suffix)."""
    return staged.name.rpartition("-")[2]


def _stage(source: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*IGNORED))
    if sys.version_info[:2] == RUNTIME_VERSION:  # another interpreter's bytecode would be dead weight
        compiled_all = compileall.compile_dir(
            staging,
            quiet=2,
            workers=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        if not compiled_all:
            shutil.rmtree(staging, ignore_errors=True)
            raise SyntaxError(f"{source} does not compile")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
