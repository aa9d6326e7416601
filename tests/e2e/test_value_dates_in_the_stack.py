"""Value dates through the local stack (contract section 3): a bank credit booked before the loan's
maturity but ingested after it, when the daily job has already stored the loan OVERDUE, takes
effect on its booking date, so the supplier owes no penalty interest."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.cli import main as scf
from infra.local.loop import LocalClient
from tests.e2e.test_refunds_and_unmatched import active_loan, eventually, loan_view
from tests.integration.statement_world import camt054, camt_entry

pytestmark = pytest.mark.e2e


def test_a_credit_booked_before_maturity_and_ingested_late_owes_no_penalty(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    local = LocalClient(env)
    _, token, loan = active_loan(local)
    loan_id = loan["loan_id"]
    maturity = date.fromisoformat(loan["maturity_date"])
    booked = maturity - timedelta(days=2)  # the supplier paid two days before maturity
    assert scf(["local", "clock", "set", (maturity + timedelta(days=5)).isoformat()]) == 0
    assert loan_view(local, token, loan_id)["status"] == "OVERDUE"  # stored by the daily job
    reference = "E2E-" + uuid.uuid4().hex[:10].upper()
    account = env["banks"]["SIMBANK"]["accounts"][0]
    number = account["account_number"] if isinstance(account, dict) else str(account)
    statement = tmp_path / "late-credit.xml"
    statement.write_bytes(
        camt054(
            [
                camt_entry(
                    "10500.00", "CRDT", reference=reference, remittance=f"repay {loan_id}", booked=str(booked)
                )
            ],
            account=number,
            message_id=reference,
        )
    )

    assert scf(["local", "drop", str(statement), f"SIMBANK/e2e/{reference}.xml"]) == 0
    capsys.readouterr()

    repaid = eventually(
        "the loan repaid by the late credit",
        lambda: v if (v := loan_view(local, token, loan_id))["status"] == "REPAID" else None,
    )
    (credit,) = [r for r in repaid["repayments"] if r["source"] == "BANK_CREDIT"]
    assert credit["value_date"] == booked.isoformat()
    assert credit["allocation"]["penalty"] == "0.00"
    assert credit["allocation"]["principal"] == "10000.00"
    assert repaid["penalty_due"] == "0.00"
