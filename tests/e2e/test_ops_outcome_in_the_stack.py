"""A payout FILEBANK never answered, closed by ops through the local stack (docs/operations.md, runbook
"PayoutNotActive"): the bank loses the payout's file (fault `drop_order_rate`), the loan waits
DISBURSING with its limit reserved; ops are refused while the bank may still answer, then record
the rejection they got from the bank: the loan is FAILED and the supplier's limit available again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scf.service.inquiries import IN_FLIGHT
from tests.e2e.test_banks import Stack
from tests.e2e.test_inquiry_in_the_stack import lost_payout

pytestmark = pytest.mark.e2e


def sent_long_ago(stack: Stack, payment_id: str) -> None:
    """Arrange "sent 20 minutes ago" (the stack's timestamps are real): the bank had its time."""
    long_ago = (datetime.now(UTC) - IN_FLIGHT - timedelta(minutes=5)).isoformat()
    stack.table.update_item(
        Key={"pk": f"PAYMENT#{payment_id}", "sk": "PAYMENT"},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": long_ago},
    )


def test_ops_record_the_rejection_of_a_payout_whose_file_was_lost(local_stack: Any) -> None:
    stack = Stack(local_stack.env)
    supplier = stack.onboard("FILEBANK")
    available = stack.credit_line(supplier)["available"]
    loan_id, payment_id = lost_payout(stack, supplier)
    assert stack.loan(supplier, loan_id)["status"] == "DISBURSING"
    assert stack.credit_line(supplier)["available"] != available  # reserved
    ops = stack.local.token(ops=True)
    body = {"status": "REJECTED", "reason": "AC04: account closed, per the bank's portal"}

    def record(key: str) -> Any:
        return stack.local.call("POST", f"/v1/ops/payments/{payment_id}/outcome", ops, body, key)

    too_early = record(str(uuid.uuid4()))
    assert (too_early.status_code, too_early.json()["code"]) == (409, "PAYMENT_TOO_RECENT")

    sent_long_ago(stack, payment_id)
    key = str(uuid.uuid4())
    answer = record(key)

    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in ("status", "effect", "loan_status", "payment_status")} == {
        "status": "REJECTED",
        "effect": "REJECTED",
        "loan_status": "FAILED",
        "payment_status": "REJECTED",
    }
    assert stack.loan(supplier, loan_id)["status"] == "FAILED"
    assert stack.credit_line(supplier)["available"] == available
    assert record(key).json() == answer.json()  # the retry: the first answer
    again = record(str(uuid.uuid4()))
    assert (again.status_code, again.json()["code"]) == (409, "PAYMENT_ALREADY_FINAL")
