"""The daily REPUBLISH through the local stack: a repayment whose message was lost (it stays
PENDING, its outbox event gone with the message) is applied after the next business day's job,
which `scf local clock set` fires, publishes its `RepaymentRequested` again through the pipe."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from infra.local.cli import main as scf
from infra.local.loop import LocalClient, Timeline, apply_until_active, onboard
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.domain.loan import Repayment, RepaymentSource, RepaymentStatus
from tests.e2e.test_daily_job_in_the_stack import item, table

pytestmark = pytest.mark.e2e


def stored(env: dict[str, Any], pk: str, sk: str) -> dict[str, Any]:
    found = item(env, pk, sk)
    assert found is not None, pk
    return found


def lost_repayment(env: dict[str, Any], repayment: Repayment) -> None:
    """The repayment PENDING as its writer stores it (with the pending index), and no outbox item:
    the state a message lost for good leaves once the event's item has expired."""
    written = DynamoLoanStore._repayment_item(repayment, datetime.now(UTC).isoformat())
    values = {name: TypeDeserializer().deserialize(value) for name, value in written.serialize().items()}
    table(env).put_item(Item=values)


def applied(env: dict[str, Any], repayment_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        repayment = stored(env, f"REPAYMENT#{repayment_id}", "REPAYMENT")
        if repayment["status"] != "PENDING" or time.monotonic() > deadline:
            return repayment
        time.sleep(0.2)


def test_a_repayment_whose_message_was_lost_is_applied_after_the_next_days_republish(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    local = LocalClient(env)
    supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
    token = local.token(supplier_id=supplier_id)
    onboard(local, supplier_id, Timeline())
    _, loan, _ = apply_until_active(local, token, "10000.00", 30, [])
    loan_id = loan["loan_id"]
    repayment_id = "RB" + uuid.uuid4().hex[:20].upper()
    lost_repayment(
        env,
        Repayment(
            repayment_id=repayment_id,
            loan_id=loan_id,
            supplier_id=supplier_id,
            status=RepaymentStatus.PENDING,
            source=RepaymentSource.BANK_CREDIT,
            amount_minor=100_000,
            currency="CNY",
        ),
    )
    assert stored(env, f"REPAYMENT#{repayment_id}", "REPAYMENT")["gsi2pk"] == "REPAYMENTS#PENDING"
    next_day = local.business_date() + timedelta(days=1)

    assert scf(["local", "clock", "set", next_day.isoformat()]) == 0
    assert capsys.readouterr().out.strip() == next_day.isoformat()

    repayment = applied(env, repayment_id)  # the republished event may still be on its way
    assert repayment["status"] == "APPLIED"
    assert "gsi2pk" not in repayment
    event = stored(env, f"OUTBOX#RepaymentRequested-{repayment_id}", "EVENT")
    assert event["republished_on"] == next_day.isoformat()
    view = local.call("GET", f"/v1/repayments/{repayment_id}", token).json()
    assert view["status"] == "APPLIED"
