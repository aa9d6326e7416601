"""Domain events through the local stack (contract sections 9 and 10, docs/events.md): a loan applied
for, paid out and repaid puts LoanApproved, LoanActivated, RepaymentApplied and LoanRepaid on the
bus, in that order, each once, and `scf local events` prints them as `{detail_type, time, detail}`."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from infra.local.cli import main as scf
from infra.local.loop import run_loop

pytestmark = pytest.mark.e2e


def printed_events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert scf(["local", "events"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_loan_applied_for_and_repaid_publishes_its_events_in_order(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    result = run_loop(local_stack.env, amount="20000.00", term_days=30)
    loan_id = str(result.application["loan_id"])
    repayment_id = str(result.repayment["repayment_id"])
    wanted = ["LoanApproved", "LoanActivated", "RepaymentApplied", "LoanRepaid"]

    deadline = time.monotonic() + 30
    while True:
        events = printed_events(capsys)
        mine = [e for e in events if e["detail"].get("loan_id") == loan_id]
        if len(mine) >= len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert [e["detail_type"] for e in mine] == wanted
    for event in mine:
        assert set(event) == {"detail_type", "time", "detail"}
        assert event["detail"]["event_id"].startswith(f"{event['detail_type']}-")
        assert event["detail"]["version"] == "1"
    approved, activated, applied, repaid = (e["detail"] for e in mine)
    assert approved["amount"] == activated["principal"] == "20000.00"
    assert activated["value_date"] == result.loan_active["value_date"]
    assert applied["repayment_id"] == repaid["repayment_id"] == repayment_id
    assert applied["amount"] == result.repayment["amount"]
    assert repaid["event_id"] == f"LoanRepaid-{loan_id}"
    payloads = json.dumps([e["detail"] for e in mine])
    assert "account" not in payloads  # never an account number (nor a field that could hold one)
