"""The daily status inquiry through the local stack: FILEBANK loses a payout's file before reading
it (fault `drop_order_rate`), so the bank never answers and the loan waits DISBURSING; the next
business day (`scf local clock set`) disburse's INQUIRE step finds the order unknown at the bank,
writes it again with the same payment id, the bank answers and the loan is ACTIVE, paid once."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.local.cli import main as scf
from scf.service.payments import payout_payment_id
from tests.e2e.test_banks import Stack, Supplier, eventually

pytestmark = pytest.mark.e2e


def payment_item(stack: Stack, payment_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = stack.table.get_item(
        Key={"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT"}, ConsistentRead=True
    ).get("Item")
    return found


def marker_written(stack: Stack, payment_id: str) -> bool:
    return bool(stack.keys(stack.env["outbound_bucket"], f"_sent/FILEBANK/{payment_id}.json"))


def lost_payout(stack: Stack, supplier: Supplier) -> tuple[str, str]:
    """A loan of a FILEBANK `supplier` whose payout file the bank lost: (loan id, payment id); the
    loan waits DISBURSING."""
    sent_on = stack.local.business_date()
    stack.faults(drop_order_rate=1.0, latency_ms=50, reject_accounts=[])
    try:
        loan_id = stack.apply(supplier)["loan_id"]
        payment_id = payout_payment_id(loan_id)

        def lost() -> bool | None:
            gone = stack.outbound_message("FILEBANK", sent_on, payment_id) is None
            return True if marker_written(stack, payment_id) and gone else None

        eventually(f"the file of {payment_id} written, then lost", lost)
    finally:
        stack.faults(drop_order_rate=0.0)
    return loan_id, payment_id


def test_a_payout_file_the_bank_never_received_is_sent_again_by_the_next_days_inquiry(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    stack = Stack(local_stack.env)
    supplier = stack.onboard("FILEBANK")
    sent_on = stack.local.business_date()
    loan_id, payment_id = lost_payout(stack, supplier)
    time.sleep(1.0)  # the bank would have answered by now
    assert stack.loan(supplier, loan_id)["status"] == "DISBURSING"
    opened = payment_item(stack, payment_id)
    assert opened is not None and (opened["status"], opened["gsi2pk"]) == ("SENT", "PAYMENTS#OPEN#PAYOUT")

    # Timestamps are real, the business date is the clock file's: a day after both, so the order
    # was sent before the step's cutoff (15 minutes before it was due).
    real_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    next_day = max(sent_on, real_today) + timedelta(days=1)
    if datetime.now(ZoneInfo("Asia/Shanghai")).time() >= datetime.strptime("23:45", "%H:%M").time():
        next_day += timedelta(days=1)
    assert scf(["local", "clock", "set", next_day.isoformat()]) == 0
    assert capsys.readouterr().out.strip() == next_day.isoformat()

    def active() -> dict[str, Any] | None:
        loan = stack.loan(supplier, loan_id)
        return loan if loan["status"] == "ACTIVE" else None

    loan = eventually(f"loan {loan_id} ACTIVE after the inquiry", active)
    assert date.fromisoformat(loan["value_date"]) == next_day  # the bank booked it on the resend's day
    booked = stack.bank_payment(payment_id)  # exactly one booking of the payment id
    assert (booked["status"], booked["channel"]) == ("SETTLED", "file")
    closed = payment_item(stack, payment_id)
    assert closed is not None and closed["status"] == "SETTLED" and "gsi2pk" not in closed
