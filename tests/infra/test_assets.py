"""Code assets staged with their bytecode (infra/assets.py): what Lambda loads never compiles again."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from infra import assets

pytestmark = pytest.mark.infra


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path / "build" / "assets")
    monkeypatch.setattr(assets, "LOCK", tmp_path / "build" / "assets.lock")
    code = tmp_path / "handler_code"
    (code / "pkg").mkdir(parents=True)
    (code / "handler.py").write_text(
        "from pkg.rules import ANSWER\n\ndef handler(event, context):\n    return ANSWER\n"
    )
    (code / "pkg" / "__init__.py").write_text("")
    (code / "pkg" / "rules.py").write_text("ANSWER = 42\n")
    for cache in ("__pycache__", ".pytest_cache", ".mypy_cache"):
        (code / cache).mkdir()
        (code / cache / "junk.pyc").write_bytes(b"stale")
    return code


def test_every_module_is_staged_with_unchecked_hash_bytecode_for_the_runtime(source: Path) -> None:
    staged = assets.compiled(source)

    for module in ("handler", "pkg/__init__", "pkg/rules"):
        pyc = staged / Path(module).parent / "__pycache__" / f"{Path(module).name}.cpython-311.pyc"
        assert pyc.read_bytes()[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 1  # PEP 552: hash-based, unchecked


def test_the_tools_caches_and_foreign_bytecode_are_not_copied(source: Path) -> None:
    staged = assets.compiled(source)

    assert not (staged / ".pytest_cache").exists() and not (staged / ".mypy_cache").exists()
    assert not (staged / "__pycache__" / "junk.pyc").exists()


def test_the_staged_code_runs_from_its_bytecode_alone(source: Path) -> None:
    staged = assets.compiled(source)
    (staged / "pkg" / "rules.py").write_text("ANSWER = 0\n")  # a stale source is never read again

    answer = subprocess.run(
        [sys.executable, "-c", "import handler; print(handler.handler({}, None))"],
        cwd=staged,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert answer == "42"


def test_a_changed_source_is_staged_anew_and_an_unchanged_one_reused(source: Path) -> None:
    first = assets.compiled(source)
    assert assets.compiled(source) == first

    (source / "pkg" / "rules.py").write_text("ANSWER = 43\n")
    second = assets.compiled(source)

    assert second != first
    assert assets.digest(source) in second.name
    assert assets.source_digest(second) == assets.digest(source)


def test_a_source_that_does_not_compile_is_refused_and_nothing_is_staged(source: Path) -> None:
    (source / "pkg" / "rules.py").write_text("ANSWER = (\n")

    with pytest.raises(SyntaxError, match="does not compile"):
        assets.compiled(source)

    assert not any(assets.ASSETS_DIR.iterdir())
