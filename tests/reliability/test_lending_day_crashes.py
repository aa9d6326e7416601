"""The daily job crashed mid-way (before or after a loan's OVERDUE write committed) and run again
for the same day, also racing a repayment: every invariant holds. The overdue counts (the
currency's exposure, the supplier's in every currency) equal the stored OVERDUE loans, each
LoanOverdue event exists once per OVERDUE loan, the ledger agrees with every loan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import LoanItem, OutboxItem, SupplierOverdueItem
from tests.reliability.money_harness import MoneyWorld, money_world, sqs_event

pytestmark = pytest.mark.reliability

VALUE = date(2026, 1, 1)
MATURITY = VALUE + timedelta(days=30)
LOANS = ("L1", "L2", "L3", "L4")


class Crash(RuntimeError):
    """The process died here (a Lambda timeout, an out-of-memory kill)."""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def matured(world: MoneyWorld) -> MoneyWorld:
    """Four loans of S1 paid out on 2026-01-01 for 30 days; the business date their maturity."""
    world.set_today(VALUE)
    world.add_supplier("S1", "6217000011113333")
    for n, loan_id in enumerate(LOANS):
        world.approve_loan(loan_id, "S1", 1_000_000, created_at=f"2026-01-01T00:00:0{n}+00:00")
    world.deliver("disbursements")
    assert {world.loan(loan_id).status for loan_id in LOANS} == {"ACTIVE"}
    world.set_today(MATURITY)
    return world


def crash_on_call(monkeypatch: pytest.MonkeyPatch, nth: int, when: str) -> None:
    """The `nth` OVERDUE write of the process crashes, `before` it or `after` it committed."""
    original: Callable[..., Any] = DynamoLoanStore.mark_overdue
    calls = {"n": 0}

    @wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth and when == "before":
            raise Crash("before mark_overdue")
        result = original(*args, **kwargs)
        if calls["n"] == nth and when == "after":
            raise Crash("after mark_overdue")
        return result

    monkeypatch.setattr(DynamoLoanStore, "mark_overdue", wrapper)


def run_overdue(world: MoneyWorld, receive_count: int) -> dict[str, Any]:
    body = {"scf": "daily", "step": "OVERDUE", "business_date": MATURITY.isoformat()}
    return world.invoke_sqs("repayments", sqs_event([body], receive_count))


def assert_invariants(world: MoneyWorld) -> None:
    overdue = [loan_id for loan_id in LOANS if world.loan(loan_id).status == "OVERDUE"]
    assert int(world.exposure("S1").overdue_loans) == len(overdue)
    every = SupplierOverdueItem.get(*SupplierOverdueItem.key("S1"), consistent_read=True)
    assert int(every.overdue_loans or 0) == len(overdue)
    for loan_id in LOANS:
        item = world.loan(loan_id)
        assert item.gsi2pk == f"LOANS#{item.status}"
        event_written = OutboxItem.count(f"OUTBOX#LoanOverdue-{loan_id}-{MATURITY}") == 1
        assert event_written == (item.status == "OVERDUE")
        world.assert_ledger_matches_loan(loan_id)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("nth", [1, 3])
def test_a_crashed_run_and_its_redelivery_end_as_one_clean_run(
    matured: MoneyWorld, monkeypatch: pytest.MonkeyPatch, nth: int, when: str
) -> None:
    with monkeypatch.context() as patch:
        crash_on_call(patch, nth, when)
        crashed = run_overdue(matured, receive_count=1)
    assert len(crashed["batchItemFailures"]) == 1  # the message goes back to the queue
    assert_invariants(matured)  # what was committed before the crash is whole

    assert run_overdue(matured, receive_count=2) == {"batchItemFailures": []}
    assert run_overdue(matured, receive_count=3) == {"batchItemFailures": []}  # a third time: nothing

    assert {matured.loan(loan_id).status for loan_id in LOANS} == {"OVERDUE"}
    assert_invariants(matured)
    assert int(matured.exposure("S1").overdue_loans) == len(LOANS)


def test_a_payoff_between_the_jobs_read_and_its_write_leaves_the_loan_repaid(
    matured: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job read L2 ACTIVE; L2 is paid off before its OVERDUE write: the write is refused,
    the job reloads L2 and leaves it REPAID, counted nowhere."""
    original = DynamoLoanStore.mark_overdue

    def repay_l2_first(self: DynamoLoanStore, record: Any, *args: Any, **kwargs: Any) -> None:
        if record.loan.loan_id == "L2" and matured.loan("L2").status == "ACTIVE":
            view = matured.api("GET", "/v1/loans/L2", supplier_id="S1")
            assert view.body is not None
            answer = matured.api(
                "POST",
                "/v1/loans/L2/repayments",
                supplier_id="S1",
                body={"amount": view.body["payoff"]},
                headers={"Idempotency-Key": "payoff-L2"},
            )
            assert answer.status == 202, answer.body
            matured.deliver("repayments")
            assert matured.loan("L2").status == "REPAID"
        original(self, record, *args, **kwargs)

    monkeypatch.setattr(DynamoLoanStore, "mark_overdue", repay_l2_first)
    assert run_overdue(matured, receive_count=1) == {"batchItemFailures": []}

    statuses = {loan_id: matured.loan(loan_id).status for loan_id in LOANS}
    assert statuses == {"L1": "OVERDUE", "L2": "REPAID", "L3": "OVERDUE", "L4": "OVERDUE"}
    assert_invariants(matured)
    assert LoanItem.get(*LoanItem.key("L2")).gsi2pk == "LOANS#REPAID"
