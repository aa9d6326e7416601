"""`scf local drop` and `scf local report` against the running local stack: the README tour's way
of sending files as the platform does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.cli import main

pytestmark = pytest.mark.e2e

SUPPLIERS = "supplier_id,name,status,bank_code,account_number,account_name,account_verified\n"


def test_drop_waits_for_the_files_report_and_a_second_drop_gets_its_own(
    local_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    first = tmp_path / "suppliers.csv"
    first.write_text(SUPPLIERS + "S-DROP-1,Drop One,ACTIVE,SIMBANK,1,Drop One,true\n")
    key = "platform/cli/suppliers.csv"

    assert main(["local", "drop", str(first), key]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["key"], report["status"], report["rows_accepted"]) == (key, "PROCESSED", 1)

    # the same bytes uploaded again at the same key: a new upload of a file seen before
    assert main(["local", "drop", str(first), key]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["status"], again["duplicate_of"], again["sha256"]) == ("DUPLICATE", key, report["sha256"])

    second = tmp_path / "suppliers-2.csv"
    second.write_text(SUPPLIERS + "S-DROP-2,Drop Two,ACTIVE,SIMBANK,2,Drop Two,maybe\n")
    assert main(["local", "drop", str(second), key]) == 0
    newer = json.loads(capsys.readouterr().out)
    assert newer["sha256"] != report["sha256"]
    assert [(e["line"], e["field"]) for e in newer["errors"]] == [(2, "account_verified")]

    assert main(["local", "report", key]) == 0
    assert json.loads(capsys.readouterr().out) == newer
    assert main(["local", "report", "platform/cli/never-sent.csv"]) == 1
