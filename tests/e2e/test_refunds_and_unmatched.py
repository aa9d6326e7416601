"""Refunds and unmatched bank items through the local stack: an overpayment comes back to the
supplier's account the next business day (`scf local clock set`; the simulated bank's books show
the RF payment), and a credit naming no loan, assigned by ops, repays the loan it names."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from infra.local.cli import main as scf
from infra.local.loop import LocalClient, Timeline, apply_until_active, expect, onboard
from scf.domain.ids import refund_payment_id
from tests.integration.statement_world import camt054, camt_entry

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 30.0


def eventually(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def active_loan(local: LocalClient) -> tuple[str, str, dict[str, Any]]:
    """A new supplier (at SIMBANK, verified) with an ACTIVE loan of 10,000.00: (supplier, token, loan)."""
    supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
    token = local.token(supplier_id=supplier_id)
    onboard(local, supplier_id, Timeline())
    _, loan, _ = apply_until_active(local, token, "10000.00", 15, [])
    return supplier_id, token, loan


def loan_view(local: LocalClient, token: str, loan_id: str) -> dict[str, Any]:
    return expect(local.call("GET", f"/v1/loans/{loan_id}", token), 200)


def test_an_overpayment_comes_back_to_the_supplier_the_next_business_day(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    local = LocalClient(env)
    supplier_id, token, loan = active_loan(local)
    loan_id = loan["loan_id"]
    payoff = loan_view(local, token, loan_id)["payoff"]
    excess_payment = f"{int(payoff.split('.')[0]) + 5}.{payoff.split('.')[1]}"  # payoff + 5.00
    expect(
        local.call(
            "POST",
            f"/v1/loans/{loan_id}/repayments",
            token,
            {"amount": excess_payment},
            idempotency_key="over-1",
        ),
        202,
    )
    repaid = eventually(
        "the loan REPAID with 5.00 overpayment",
        lambda: v if (v := loan_view(local, token, loan_id))["status"] == "REPAID" else None,
    )
    assert (repaid["overpayment"], repaid["refunded"]) == ("5.00", "0.00")

    next_day = local.business_date() + timedelta(days=1)
    assert scf(["local", "clock", "set", next_day.isoformat()]) == 0
    capsys.readouterr()

    refunded = loan_view(local, token, loan_id)
    assert (refunded["overpayment"], refunded["refunded"], refunded["refund_pending"]) == (
        "5.00",
        "5.00",
        "0.00",
    )
    refund_id = refund_payment_id(supplier_id, "CNY", next_day.isoformat())
    books = requests.get(f"{env['bank_url']}/_admin/payments", timeout=5).json()
    (paid,) = [p for p in books["payments"] if p["payment_id"] == refund_id]
    assert (paid["direction"], paid["amount"], paid["status"]) == ("PAYOUT", "5.00", "SETTLED")


def test_an_unmatched_credit_assigned_by_ops_repays_the_loan(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    local = LocalClient(env)
    _, token, loan = active_loan(local)
    loan_id = loan["loan_id"]
    ops = local.token(ops=True)
    reference = "E2E-" + uuid.uuid4().hex[:10].upper()
    account = env["banks"]["SIMBANK"]["accounts"][0]
    number = account["account_number"] if isinstance(account, dict) else str(account)
    statement = tmp_path / "credit.xml"
    statement.write_bytes(
        camt054(
            [camt_entry("1000.00", "CRDT", reference=reference, remittance="a transfer naming nothing")],
            account=number,
            message_id=reference,
        )
    )
    assert scf(["local", "drop", str(statement), f"SIMBANK/e2e/{reference}.xml"]) == 0
    capsys.readouterr()

    def listed() -> dict[str, Any] | None:
        page = expect(local.call("GET", "/v1/unmatched", ops, params={"limit": "100"}), 200)
        ours = [i for i in page["items"] if i["references"].get("bank_reference") == reference]
        return ours[0] if ours else None

    item = eventually("the credit on the ops list", listed)
    assert (item["status"], item["amount"], item["direction"]) == ("OPEN", "1000.00", "CREDIT")
    body = {"action": "ASSIGN", "loan_id": loan_id, "note": "the supplier's own transfer"}
    answer = expect(
        local.call(
            "POST", f"/v1/unmatched/{item['item_id']}/resolution", ops, body, idempotency_key=reference
        ),
        200,
    )
    assert answer["resolution"]["action"] == "ASSIGN" and answer["status"] == "RESOLVED"
    again = local.call(
        "POST", f"/v1/unmatched/{item['item_id']}/resolution", ops, body, idempotency_key="other"
    )
    assert again.status_code == 409

    repaid = eventually(
        "the loan repaid by 1,000.00",
        lambda: v if (v := loan_view(local, token, loan_id))["outstanding_principal"] != "10000.00" else None,
    )
    (repayment,) = [
        r for r in repaid["repayments"] if r["repayment_id"] == answer["resolution"]["repayment_id"]
    ]
    assert (repayment["status"], repayment["source"], repayment["amount"]) == (
        "APPLIED",
        "BANK_CREDIT",
        "1000.00",
    )
