"""The `scf` command line against a state directory."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from infra.local import tokens
from infra.local.cli import main
from infra.local.state import write_clock, write_json_atomically


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCF_LOCAL_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def running(state: Path) -> dict[str, object]:
    private, public = tokens.generate_keys(state)
    write_clock(state / "clock", date(2026, 5, 4))
    env = {
        "api_url": "http://127.0.0.1:1",
        "clock_file": str(state / "clock"),
        "private_key_file": str(private),
        "public_key_file": str(public),
        "token_issuer": "http://127.0.0.1:1/local-user-pool",
        "pid": os.getpid(),  # a live process stands for the stack
    }
    write_json_atomically(state / "env.json", env)
    return env


def test_without_a_running_stack_every_command_says_so_and_exits_1(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["local", "env"], ["local", "token", "--ops"], ["local", "clock", "show"], ["demo"]):
        assert main(argv) == 1
        assert "not running" in capsys.readouterr().err


def test_a_stale_env_file_counts_as_not_running(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_json_atomically(state / "env.json", {"pid": 2**22 + 12345})
    assert main(["local", "env"]) == 1
    assert "not running" in capsys.readouterr().err


def test_env_prints_one_json_object(running: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "env"]) == 0
    assert json.loads(capsys.readouterr().out) == running


def test_tokens_are_signed_with_the_stacks_key(
    running: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    public = Path(str(running["public_key_file"])).read_bytes()
    issuer = str(running["token_issuer"])
    assert main(["local", "token", "--supplier", "SUP-9"]) == 0
    claims = tokens.verify(capsys.readouterr().out.strip(), public, issuer)
    assert claims["custom:supplier_id"] == "SUP-9" and claims["iss"] == issuer
    assert main(["local", "token", "--ops"]) == 0
    assert tokens.verify(capsys.readouterr().out.strip(), public, issuer)["cognito:groups"] == "ops"


def test_the_clock_is_shown_and_set(running: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "clock", "show"]) == 0
    assert capsys.readouterr().out.strip() == "2026-05-04"
    assert main(["local", "clock", "set", "2026-06-30"]) == 0
    assert capsys.readouterr().out.strip() == "2026-06-30"
    assert Path(str(running["clock_file"])).read_text().strip() == "2026-06-30"
    with pytest.raises(SystemExit):
        main(["local", "clock", "set", "2026-02-30"])


def test_env_prints_one_value_for_scripts(
    running: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "env", "api_url"]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:1\n"  # unquoted: API=$(scf local env api_url)
    assert main(["local", "env", "pid"]) == 0
    assert capsys.readouterr().out == f"{os.getpid()}\n"
    assert main(["local", "env", "no_such_key"]) == 1
    assert "api_url" in capsys.readouterr().err  # says which keys there are
