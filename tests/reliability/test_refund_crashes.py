"""The daily REFUND step crashed mid-way (after its reservation, after the bank moved the money) and
run again for the same day, and racing a repayment on the same loan: the supplier is paid back
exactly what it is owed, once (the bank moved money once per refund id), and the ledger agrees."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import OutboxItem, PaymentItem
from scf.domain.ids import refund_payment_id
from scf.domain.money import format_amount
from tests.reliability.money_harness import MoneyWorld, money_world

pytestmark = pytest.mark.reliability

VALUE = date(2026, 1, 1)
PAID_OFF = VALUE + timedelta(days=10)
REFUND_DAY = PAID_OFF + timedelta(days=1)
LOANS = ("L1", "L2")
REFUND_ID = refund_payment_id("S1", "CNY", REFUND_DAY.isoformat())


class Crash(RuntimeError):
    """The process died here (a Lambda timeout, an out-of-memory kill)."""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def overpaid(world: MoneyWorld) -> MoneyWorld:
    """L1 and L2 of S1 paid out on 2026-01-01, paid off on 2026-01-11 with 5.00 and 2.50 too much."""
    world.set_today(VALUE)
    world.add_supplier("S1", "6217000011113333")
    for n, loan_id in enumerate(LOANS):
        world.approve_loan(loan_id, "S1", 1_000_000, created_at=f"2026-01-01T00:00:0{n}+00:00")
    world.deliver("disbursements")
    world.set_today(PAID_OFF)
    for loan_id, excess in (("L1", 500), ("L2", 250)):
        view = world.api("GET", f"/v1/loans/{loan_id}", supplier_id="S1").body
        assert view is not None
        payoff = int(view["payoff"].replace(".", ""))
        world.bank_credit(loan_id, "S1", payoff + excess, key=f"payoff-{loan_id}")
    world.deliver("repayments")
    assert {world.loan(loan_id).status for loan_id in LOANS} == {"REPAID"}
    world.set_today(REFUND_DAY)
    return world


def crash_around(monkeypatch: pytest.MonkeyPatch, method: str, when: str) -> None:
    """The first call of DynamoLoanStore.`method` crashes, `before` it or `after` it committed."""
    original: Callable[..., Any] = getattr(DynamoLoanStore, method)
    calls = {"n": 0}

    @wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1 and when == "before":
            raise Crash(f"before {method}")
        result = original(*args, **kwargs)
        if calls["n"] == 1 and when == "after":
            raise Crash(f"after {method}")
        return result

    monkeypatch.setattr(DynamoLoanStore, method, wrapper)


def assert_refunded_once(world: MoneyWorld, owed: dict[str, int]) -> None:
    assert world.bank.posts.count(REFUND_ID) == 1 and world.bank.applied(REFUND_ID) == 1
    assert world.bank.payments[REFUND_ID]["amount"] == format_amount(sum(owed.values()))
    payment = PaymentItem.get(*PaymentItem.key(REFUND_ID), consistent_read=True)
    assert payment.status == "SETTLED"
    for loan_id, amount in owed.items():
        loan = world.loan(loan_id)
        assert (loan.overpayment_minor, loan.refunded_minor, loan.refund_pending_minor) == (amount, amount, 0)
        assert loan.refund_id is None
        world.assert_ledger_matches_loan(loan_id)
    assert OutboxItem.count(f"OUTBOX#RefundPaid-{REFUND_ID}") == 1


@pytest.mark.parametrize(
    ("method", "when", "asks_bank"),
    [("reserve_refund", "after", True), ("close_refund", "before", True), ("close_refund", "after", False)],
)
def test_a_crashed_refund_run_and_its_redelivery_pay_once(
    overpaid: MoneyWorld, monkeypatch: pytest.MonkeyPatch, method: str, when: str, asks_bank: bool
) -> None:
    with monkeypatch.context() as patch:
        crash_around(patch, method, when)
        crashed = overpaid.daily("REFUND")
    assert len(crashed["batchItemFailures"]) == 1  # the message goes back to the queue

    assert overpaid.daily("REFUND", receive_count=2) == {"batchItemFailures": []}
    assert overpaid.daily("REFUND", receive_count=3) == {"batchItemFailures": []}  # a third time: nothing

    # An open refund is asked about before anything is sent; a closed one is left alone.
    assert (REFUND_ID in overpaid.bank.gets) is asks_bank

    assert_refunded_once(overpaid, {"L1": 500, "L2": 250})


def test_a_bank_credit_between_the_steps_read_and_its_reservation_is_refunded_with_it(
    overpaid: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step read L1 owing 5.00; 1.00 more arrives for L1 before the reservation: the
    reservation is refused (the loan moved), the step reads again and pays back 6.00."""
    original = DynamoLoanStore.reserve_refund
    raced = {"done": False}

    def credit_first(self: DynamoLoanStore, *args: Any, **kwargs: Any) -> None:
        if not raced["done"]:
            raced["done"] = True
            overpaid.bank_credit("L1", "S1", 100, key="late-L1")
            overpaid.deliver("repayments")
        original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoLoanStore, "reserve_refund", credit_first)
    assert overpaid.daily("REFUND") == {"batchItemFailures": []}

    assert_refunded_once(overpaid, {"L1": 600, "L2": 250})
