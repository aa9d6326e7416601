"""`GET /v1/ops/loans/{id}` through apply_repayment against moto and the stand-in bank: any loan for
ops, with whose it is, its payout (account masked) and its history in time order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.models import ApplicationItem
from tests.integration.test_apply_repayment import ACCOUNT, VALUE, repay
from tests.reliability.money_harness import FakeContext, MoneyWorld, api_event, money_world

pytestmark = pytest.mark.integration

OPS = {"sub": "ops-1", "cognito:groups": "ops", "token_use": "id"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def active(world: MoneyWorld) -> MoneyWorld:
    """Loan L1 of supplier S1: 100,000.00 at 10%, 30 days, paid out on 2026-01-01 (ACTIVE)."""
    world.set_today(VALUE)
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    return world


def ops_loan(world: MoneyWorld, loan_id: str, claims: dict[str, str] | None = None) -> tuple[int, Any]:
    event = api_event("GET", f"/v1/ops/loans/{loan_id}", supplier_id=None)
    event["requestContext"]["authorizer"]["claims"] = claims or OPS
    raw = world.apply_repayment.handler(event, FakeContext())
    return raw["statusCode"], json.loads(raw["body"])


def events(view: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in view["history"]]


def test_ops_see_the_loan_fields_whose_it_is_and_its_payout_with_the_account_masked(
    active: MoneyWorld,
) -> None:
    active.set_today(date(2026, 1, 11))
    status, view = ops_loan(active, "L1")
    supplier_view = active.api("GET", "/v1/loans/L1", supplier_id="S1").body
    assert status == 200
    assert {k: view[k] for k in supplier_view} == supplier_view
    assert view["supplier_id"] == "S1" and view["application_id"] == "APP-L1"
    assert view["payout"] == {
        "payment_id": "PAYL1",
        "bank_code": "LENDERBANK",
        "account": "************3333",
        "status": "SETTLED",
    }
    assert ACCOUNT not in json.dumps(view)


def test_the_history_has_the_approval_payout_reports_and_repayments_in_time_order(
    active: MoneyWorld,
) -> None:
    active.set_today(date(2026, 1, 11))
    repayment_id = repay(active, "50000.00", "part-1")
    active.deliver("repayments")
    _, view = ops_loan(active, "L1")
    assert events(view) == [
        "LoanApproved",
        "PaymentSent",  # the payout order
        "PaymentReported",  # the bank settled it ...
        "LoanActivated",  # ... so the loan is ACTIVE from its value date
        "RepaymentRequested",
        "PaymentSent",  # the collection order
        "PaymentReported",
        "RepaymentApplied",
    ]
    stamps = [entry["at"] for entry in view["history"]]
    assert stamps == sorted(stamps) and all(stamp.endswith("Z") for stamp in stamps)
    approved, payout, settled, activated, requested, _, collected, applied = view["history"]
    assert (approved["by"], approved["detail"]["principal"]) == ("policy", "100000.00")
    assert (payout["detail"]["payment_id"], settled["by"], settled["detail"]["effect"]) == (
        "PAYL1",
        "LENDERBANK",
        "SETTLED",
    )
    assert activated["detail"] == {"value_date": "2026-01-01", "maturity_date": "2026-01-31"}
    assert (requested["by"], requested["detail"]["repayment_id"]) == ("S1", repayment_id)
    assert collected["detail"]["direction"] == "COLLECTION"
    assert applied["detail"]["value_date"] == "2026-01-11"
    assert applied["detail"]["allocation"] == {
        "penalty": "0.00",
        "interest": "277.78",
        "principal": "49722.22",
        "overpayment": "0.00",
    }


def test_a_loan_from_a_reviewed_application_shows_the_review_and_who_approved_it(
    world: MoneyWorld,
) -> None:
    world.set_today(VALUE)
    world.add_supplier("S1", ACCOUNT)
    ApplicationItem(
        *ApplicationItem.key("APP-L2"),
        application_id="APP-L2",
        supplier_id="S1",
        status="APPROVED",
        amount_minor=1_000_000,
        currency="CNY",
        term_days=30,
        reasons=[{"code": "BANK_ACCOUNT_UNVERIFIED", "message": "verify it"}],
        loan_id="L2",
        policy_version="2026-12-03.1",
        review={
            "decision": "APPROVE",
            "note": "called the bank",
            "by": "reviewer-7",
            "at": "2026-01-01T02:00:00Z",
        },
        created_at="2025-12-31T09:00:00Z",
        decided_at="2026-01-01T02:00:00Z",
    ).save()
    world.approve_loan("L2", "S1", 1_000_000, created_at="2026-01-01T02:00:00+00:00")  # from APP-L2
    status, view = ops_loan(world, "L2")
    assert status == 200 and view["payout"] is None  # not paid out yet
    assert events(view) == ["ApplicationHeldForReview", "ApplicationReviewed", "LoanApproved"]
    held, reviewed, approved = view["history"]
    assert (held["at"], held["by"], held["detail"]["reasons"]) == (
        "2025-12-31T09:00:00Z",
        "policy",
        ["BANK_ACCOUNT_UNVERIFIED"],
    )
    assert (reviewed["by"], reviewed["detail"]["note"]) == ("reviewer-7", "called the bank")
    assert (approved["at"], approved["by"]) == ("2026-01-01T02:00:00Z", "reviewer-7")


def test_a_repaid_loan_ends_its_history_with_the_repayment_that_cleared_it(active: MoneyWorld) -> None:
    active.set_today(date(2026, 1, 11))
    payoff = active.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    repayment_id = repay(active, payoff, "all")
    active.deliver("repayments")
    _, view = ops_loan(active, "L1")
    assert view["status"] == "REPAID"
    assert events(view)[-2:] == ["RepaymentApplied", "LoanRepaid"]
    assert view["history"][-1]["detail"] == {"repayment_id": repayment_id}


def test_an_overdue_loan_shows_it_from_the_start_of_its_maturity_date_in_business_time(
    active: MoneyWorld,
) -> None:
    active.set_today(date(2026, 2, 2))
    _, view = ops_loan(active, "L1")
    assert view["status"] == "OVERDUE"
    # Derived: from the start of the maturity date (this world stamps items with the wall clock, so
    # it sorts before them here; in the cloud the business date and the stamps move together).
    (overdue,) = [entry for entry in view["history"] if entry["event"] == "LoanOverdue"]
    assert overdue == {  # 2026-01-31 00:00 in Asia/Shanghai
        "at": "2026-01-30T16:00:00Z",
        "event": "LoanOverdue",
        "by": "system",
        "detail": {"maturity_date": "2026-01-31"},
    }


def test_a_supplier_token_gets_403_not_ops(active: MoneyWorld) -> None:
    status, problem = ops_loan(active, "L1", claims={"sub": "u", "custom:supplier_id": "S1"})
    assert (status, problem["code"]) == (403, "NOT_OPS")


@pytest.mark.parametrize("loan_id", ["LN00000000000000000000", "L" * 65])
def test_an_unknown_loan_is_404_to_ops(active: MoneyWorld, loan_id: str) -> None:
    status, problem = ops_loan(active, loan_id)
    assert (status, problem["code"]) == (404, "NOT_FOUND")
