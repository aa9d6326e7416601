"""A bank blip through the local stack: SIMBANK answers every payout 503 (fault `error_rate`), so
disburse's record fails with BankUnavailable and is made visible again within seconds
(scf.adapters.sqs.BackoffBatchProcessor); the bank is back and the loan is ACTIVE long before the
disbursements queue's 720 s visibility timeout would have brought the message back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scf.service.payments import payout_payment_id
from tests.e2e.test_banks import Stack, eventually

pytestmark = pytest.mark.e2e

BACKED_OFF = "dependency unavailable; record visible again soon"
WAIT = 60.0  # generous on a loaded machine, and still far below the 720 s visibility timeout


def backed_off_since(log: Path, offset: int) -> bool | None:
    with log.open("rb") as lines:
        lines.seek(offset)
        written = lines.read().decode(errors="replace")
    found = any(line.startswith("[disburse]") and BACKED_OFF in line for line in written.splitlines())
    return True if found else None


def test_a_payout_whose_bank_was_briefly_down_is_active_within_seconds(local_stack: Any) -> None:
    stack = Stack(local_stack.env)
    supplier = stack.onboard("SIMBANK")
    offset = local_stack.log.stat().st_size
    stack.faults(error_rate=1.0, latency_ms=50, reject_accounts=[])
    try:
        loan_id = stack.apply(supplier)["loan_id"]
        eventually("disburse backed off", lambda: backed_off_since(local_stack.log, offset))
    finally:
        stack.faults(error_rate=0.0)

    def active() -> dict[str, Any] | None:
        loan = stack.loan(supplier, loan_id)
        return loan if loan["status"] == "ACTIVE" else None

    eventually(f"loan {loan_id} ACTIVE after the bank came back", active, timeout=WAIT)
    booked = stack.bank_payment(payout_payment_id(loan_id))  # booked exactly once
    assert booked["status"] == "SETTLED"
