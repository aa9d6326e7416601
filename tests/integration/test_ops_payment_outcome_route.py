"""`POST /v1/ops/payments/{id}/outcome` through apply_repayment against moto: the answer ops got
from the bank out of band closes a payout whose bank never answered, exactly as the bank's own
report would (docs/operations.md, runbook "PayoutNotActive"); every write within the function's
table grants (tests/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.models import OutboxItem, PaymentItem
from scf.service.inquiries import IN_FLIGHT
from tests.integration.test_apply_repayment import ACCOUNT
from tests.integration.test_open_payment_inquiries import SENT_ON, payout_never_received
from tests.reliability.money_harness import FakeContext, MoneyWorld, api_event, money_world

pytestmark = pytest.mark.integration

OPS = {"sub": "ops-anna", "cognito:groups": "ops", "token_use": "id"}
REJECTED = {"status": "REJECTED", "reason": "AC04: account closed (bank portal, ticket 77)"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def stuck(world: MoneyWorld) -> MoneyWorld:
    """L1 DISBURSING, its payout SENT 20 minutes ago and never answered; its limit reserved."""
    payout_never_received(world)
    sent = PaymentItem.get(*PaymentItem.key("PAYL1"), consistent_read=True)
    sent.update(
        actions=[
            PaymentItem.created_at.set((datetime.now(UTC) - IN_FLIGHT - timedelta(minutes=5)).isoformat())
        ]
    )
    assert world.exposure("S1").principal_minor == 10_000_000
    return world


def outcome(world: MoneyWorld, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    event = api_event(
        "POST",
        "/v1/ops/payments/PAYL1/outcome",
        supplier_id=None,
        body=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )
    event["requestContext"]["authorizer"]["claims"] = OPS
    raw = world.apply_repayment.handler(event, FakeContext())
    return raw["statusCode"], json.loads(raw["body"])


def test_a_payout_ops_record_as_rejected_fails_the_loan_and_gives_the_limit_back(stuck: MoneyWorld) -> None:
    status, answer = outcome(stuck, REJECTED)

    assert (status, answer["effect"], answer["loan_status"]) == (200, "REJECTED", "FAILED")
    assert stuck.loan("L1").status == "FAILED"
    assert stuck.exposure("S1").principal_minor == 0
    failed = json.loads(OutboxItem.get(*OutboxItem.key("LoanFailed-L1"), consistent_read=True).payload)
    assert (failed["payment_id"], failed["reason"]) == ("PAYL1", "AC04")
    payment = PaymentItem.get(*PaymentItem.key("PAYL1"), consistent_read=True)
    kept = json.loads(payment.reports[-1])
    assert (payment.status, payment.gsi2pk, kept["source"], kept["by"]) == (
        "REJECTED",
        None,
        "ops",
        "ops-anna",
    )


def test_a_payout_ops_record_as_settled_activates_the_loan_with_its_posting(stuck: MoneyWorld) -> None:
    body = {"status": "SETTLED", "reason": "booked, per the bank by phone", "value_date": SENT_ON.isoformat()}

    status, answer = outcome(stuck, body)

    assert (status, answer["effect"], answer["loan_status"]) == (200, "SETTLED", "ACTIVE")
    assert stuck.loan("L1").value_date == SENT_ON.isoformat()
    assert stuck.ledger("L1")["loans_receivable"] == 10_000_000
    stuck.assert_ledger_matches_loan("L1")


def test_a_retry_with_the_same_key_gets_the_first_answer(stuck: MoneyWorld) -> None:
    first = outcome(stuck, REJECTED, key="ops-retry-1")

    again = outcome(stuck, REJECTED, key="ops-retry-1")

    assert again == first


def test_a_payment_with_an_outcome_already_is_refused_and_unchanged(stuck: MoneyWorld) -> None:
    outcome(stuck, REJECTED)

    status, problem = outcome(stuck, {"status": "SETTLED", "reason": "x", "value_date": SENT_ON.isoformat()})

    assert (status, problem["code"], problem["detail"]) == (
        409,
        "PAYMENT_ALREADY_FINAL",
        "payment PAYL1 is REJECTED already",
    )
    assert stuck.loan("L1").status == "FAILED"


def test_a_payment_sent_moments_ago_is_left_to_the_bank(world: MoneyWorld) -> None:
    payout_never_received(world)

    status, problem = outcome(world, REJECTED)

    assert (status, problem["code"]) == (409, "PAYMENT_TOO_RECENT")
    assert world.loan("L1").status == "DISBURSING"


def test_suppliers_may_not_record_an_outcome(stuck: MoneyWorld) -> None:
    answer = stuck.api(
        "POST",
        "/v1/ops/payments/PAYL1/outcome",
        supplier_id="S1",
        body=REJECTED,
        headers={"Idempotency-Key": "k"},
    )

    assert (answer.status, answer.body["code"]) == (403, "NOT_OPS")
    assert stuck.loan("L1").status == "DISBURSING"


def test_an_unknown_payment_is_404(world: MoneyWorld) -> None:
    world.add_supplier("S1", ACCOUNT)
    status, problem = outcome(world, REJECTED)

    assert (status, problem["code"]) == (404, "PAYMENT_NOT_FOUND")


def test_the_ops_loan_view_shows_who_recorded_the_answer_and_why(stuck: MoneyWorld) -> None:
    outcome(stuck, REJECTED)
    event = api_event("GET", "/v1/ops/loans/L1", supplier_id=None)
    event["requestContext"]["authorizer"]["claims"] = OPS

    view = json.loads(stuck.apply_repayment.handler(event, FakeContext())["body"])

    reported = [e for e in view["history"] if e["event"] == "PaymentReported"][-1]
    assert reported["by"] == "ops-anna"
    assert {k: reported["detail"][k] for k in ("source", "status", "effect", "reason")} == {
        "source": "ops",
        "status": "REJECTED",
        "effect": "REJECTED",
        "reason": REJECTED["reason"],
    }
    assert "request" not in reported["detail"]
