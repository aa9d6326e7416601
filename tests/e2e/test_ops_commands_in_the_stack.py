"""`scf ops` against the running local stack: a business day whose schedules never fired is run
with `scf ops rerun-day`, and a daily message that died in the dead-letter queue is brought back
with `scf ops redrive` (docs/operations.md)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from infra.local.cli import main as scf
from infra.local.daily import message_body
from infra.local.emulator import client
from infra.local.loop import LocalClient, Timeline, apply_until_active, onboard
from infra.local.state import read_clock, write_clock

pytestmark = pytest.mark.e2e


def loan_status(env: dict[str, Any], loan_id: str) -> str:
    stored = LocalClient(env).stored(f"LOAN#{loan_id}", "LOAN")
    assert stored is not None
    return str(stored["status"])


def a_loan_at_maturity_whose_day_never_ran(env: dict[str, Any]) -> tuple[str, date]:
    """An ACTIVE loan, and the clock moved to its maturity WITHOUT the daily job (as if the
    schedules had not fired): the loan is still ACTIVE."""
    local = LocalClient(env)
    supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
    token = local.token(supplier_id=supplier_id)
    onboard(local, supplier_id, Timeline())
    _, loan, _ = apply_until_active(local, token, "10000.00", 15, [])
    maturity = date.fromisoformat(loan["maturity_date"])
    clock = Path(env["clock_file"])
    write_clock(clock, max(maturity, read_clock(clock)))
    assert loan_status(env, loan["loan_id"]) == "ACTIVE"
    return loan["loan_id"], maturity


def test_rerun_day_runs_a_missed_day(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    loan_id, maturity = a_loan_at_maturity_whose_day_never_ran(env)

    code = scf(["ops", "rerun-day", maturity.isoformat(), "--step", "OVERDUE"])

    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [{"step": "OVERDUE", "business_date": maturity.isoformat(), "sent": True}]
    assert loan_status(env, loan_id) == "OVERDUE"


def test_redrive_brings_a_dead_lettered_daily_message_back(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    loan_id, maturity = a_loan_at_maturity_whose_day_never_ran(env)
    overdue = next(s for s in env["schedules"] if '"OVERDUE"' in s["input"])
    sqs = client("sqs", env["aws_endpoint_url"], env["region"])
    sqs.send_message(QueueUrl=env["queues"]["repayments_dlq"], MessageBody=message_body(overdue, maturity))

    assert scf(["ops", "redrive", "repayments", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["waiting"], dry["moved"], loan_status(env, loan_id)) == (1, 0, "ACTIVE")

    assert scf(["ops", "redrive", "repayments"]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert (moved["moved"], moved["failed"]) == (1, 0)
    deadline = time.monotonic() + 30
    while loan_status(env, loan_id) != "OVERDUE" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert loan_status(env, loan_id) == "OVERDUE"
