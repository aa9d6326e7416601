"""`scf local drop` and `scf local report` against the running local stack: the README tour's way
of sending files as the platform does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.cli import main
from infra.local.emulator import client
from scf.adapters.dynamodb.models import FileItem, SupplierItem

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


def stored(env: dict[str, Any], key: tuple[str, str]) -> bool:
    table = client("dynamodb", env["aws_endpoint_url"], env["region"])
    answer = table.get_item(TableName=env["table_name"], Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}})
    return "Item" in answer


def test_a_platform_file_dropped_as_a_bank_is_rejected_and_changes_nothing_then_the_platform_sends_it(
    local_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CONTRACT.md section 6, "Senders are authenticated": the uploader, not the key, is the sender."""
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    file = tmp_path / "suppliers.csv"
    file.write_text(SUPPLIERS + "S-SENDER-1,Sender One,ACTIVE,SIMBANK,3,Sender One,true\n")
    key = "platform/cli/sent-by.csv"

    assert main(["local", "drop", str(file), key, "--as", "SIMBANK"]) == 0
    rejected = json.loads(capsys.readouterr().out)
    assert (rejected["status"], rejected["rows_accepted"]) == ("REJECTED", 0)
    assert [e["code"] for e in rejected["errors"]] == ["SENDER_NOT_AUTHORIZED"]
    env = local_stack.env
    assert not stored(env, SupplierItem.key("S-SENDER-1"))
    assert not stored(env, FileItem.key(rejected["sha256"]))

    assert main(["local", "drop", str(file), key]) == 0  # as the platform: the same bytes, no duplicate
    processed = json.loads(capsys.readouterr().out)
    assert (processed["status"], processed["rows_accepted"]) == ("PROCESSED", 1)
    assert stored(env, SupplierItem.key("S-SENDER-1"))

    assert main(["local", "drop", str(file), key, "--as", "NOBODY"]) == 1
    assert "no partner 'NOBODY'" in capsys.readouterr().err
