"""Redelivery and crashes on the money path: whatever step crashes (before or after it commits),
and however often a message arrives, the story ends in the state of a clean run: paid out once,
each repayment applied once, the ledger agreeing with the loan, the exposure back to zero."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

import pytest

import scf.service.disbursement as disbursement_service
import scf.service.repayment as repayment_service
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import LoanItem, RepaymentItem
from tests.reliability.money_harness import MoneyWorld, money_world

pytestmark = pytest.mark.reliability

ACCOUNT = "6217000011113333"


class Crash(RuntimeError):
    """The process died here (a Lambda timeout, an out-of-memory kill, a lost answer)."""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def crash_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, when: str) -> dict[str, int]:
    """Make `owner.name` crash once, `before` it runs or `after` it ran (and committed)."""
    original: Callable[..., Any] = getattr(owner, name)
    state = {"crashed": 0}

    @wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if state["crashed"] == 0 and when == "before":
            state["crashed"] += 1
            raise Crash(f"before {name}")
        result = original(*args, **kwargs)
        if state["crashed"] == 0 and when == "after":
            state["crashed"] += 1
            raise Crash(f"after {name}")
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return state


def deliver_until_done(world: MoneyWorld, target: str, *, twice: bool = False) -> int:
    """Deliver the pending events; failed ones come back with a higher receive count (as SQS does).
    `twice`: every message is delivered a second time even after it succeeded. Returns rounds."""
    event, answer = world.deliver(target)
    rounds = 1
    receive = 1
    while answer["batchItemFailures"] or (twice and receive == 1):
        failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        receive += 1
        records = [r for r in event["Records"] if r["messageId"] in failed or (twice and receive == 2)]
        for record in records:
            record["attributes"]["ApproximateReceiveCount"] = str(receive)
        event = {"Records": records}
        answer = world.invoke_sqs(target, event)
        rounds += 1
        assert rounds < 6, "a message would end in the DLQ"
    return rounds


def post_repayment(world: MoneyWorld, amount: str, key: str) -> str:
    """The client retries on a 5xx with the same Idempotency-Key, as the contract allows."""
    for _ in range(3):
        answer = world.api(
            "POST",
            "/v1/loans/L1/repayments",
            supplier_id="S1",
            body={"amount": amount},
            headers={"Idempotency-Key": key},
        )
        if answer.status == 202:
            repayment_id: str = answer.body["repayment_id"]
            return repayment_id
        assert answer.status == 500, answer.body
    raise AssertionError("the repayment was never accepted")


def story(world: MoneyWorld, *, twice: bool = False, rounds: list[int] | None = None) -> dict[str, Any]:
    """Pay out 100,000.00, repay 40,000.00 on day 10, pay off 5 days after maturity. `rounds`
    collects how many deliveries each step needed."""
    rounds = [] if rounds is None else rounds
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    rounds.append(deliver_until_done(world, "disbursements", twice=twice))

    world.set_today(date(2026, 1, 11))
    post_repayment(world, "40000.00", "first")
    rounds.append(deliver_until_done(world, "repayments", twice=twice))

    world.set_today(date(2026, 2, 5))
    payoff = world.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    post_repayment(world, payoff, "payoff")
    rounds.append(deliver_until_done(world, "repayments", twice=twice))
    return snapshot(world)


def snapshot(world: MoneyWorld) -> dict[str, Any]:
    loan = world.loan("L1")
    exposure = world.exposure("S1")
    world.assert_ledger_matches_loan("L1")
    repayments = sorted(
        (item.amount_minor, item.status, tuple(sorted((item.allocation or {}).items())))
        for item in RepaymentItem.scan(RepaymentItem.sk == "REPAYMENT")
    )
    return {
        "loan": (
            loan.status,
            loan.value_date,
            loan.maturity_date,
            loan.outstanding_principal_minor,
            loan.interest_paid_minor,
            loan.penalty_paid_minor,
            loan.principal_changes,
        ),
        "exposure": (exposure.principal_minor, exposure.overdue_loans),
        "ledger": world.ledger("L1"),
        "postings": sorted(p.posting_id.split("#")[0] for p in world.postings("L1")),
        "repayments": repayments,
        "bank": sorted((p["direction"], p["amount"], p["status"]) for p in world.bank.payments.values()),
    }


CLEAN = {
    "loan": (
        "REPAID",
        "2026-01-01",
        "2026-01-31",
        0,
        61_265,
        12_558,
        [["2026-01-01", 10_000_000], ["2026-01-11", 6_027_778], ["2026-02-05", 0]],
    ),
    "exposure": (0, 0),
    "ledger": {
        "bank_operating": 73_823,
        "interest_income": -61_265,
        "loans_receivable": 0,
        "penalty_income": -12_558,
        "supplier_overpayment": 0,
    },
    "postings": ["DISBURSEMENT", "REPAYMENT", "REPAYMENT"],
    "repayments": [
        (
            4_000_000,
            "APPLIED",
            (("interest", 27_778), ("overpayment", 0), ("penalty", 0), ("principal", 3_972_222)),
        ),
        (
            6_073_823,
            "APPLIED",
            (("interest", 33_487), ("overpayment", 0), ("penalty", 12_558), ("principal", 6_027_778)),
        ),
    ],
    "bank": [
        ("COLLECTION", "40000.00", "SETTLED"),
        ("COLLECTION", "60738.23", "SETTLED"),
        ("PAYOUT", "100000.00", "SETTLED"),
    ],
}


def test_the_clean_run(world: MoneyWorld) -> None:
    assert story(world) == CLEAN


def test_every_message_delivered_twice(world: MoneyWorld) -> None:
    assert story(world, twice=True) == CLEAN
    assert world.bank.posts.count("PAYL1") == 1  # the second delivery found the loan ACTIVE


CRASH_POINTS = [
    (DynamoLoanStore, "start_disbursement"),
    (disbursement_service, "execute"),  # the payout call to the bank
    (DynamoLoanStore, "complete_disbursement"),
    (DynamoLoanStore, "request_repayment"),  # the API transaction
    (DynamoLoanStore, "start_collection"),  # the collection's payment order, before the bank call
    (repayment_service, "execute"),  # the collection call to the bank
    (DynamoLoanStore, "apply_repayment"),
]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(("owner", "name"), CRASH_POINTS, ids=[f"{o.__name__}.{n}" for o, n in CRASH_POINTS])
def test_a_crash_at_any_step_then_redelivery_ends_clean(
    world: MoneyWorld, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, when: str
) -> None:
    state = crash_once(monkeypatch, owner, name, when)
    assert story(world) == CLEAN
    assert state["crashed"] == 1
    assert len(world.bank.payments) == 3  # one payout, two collections: money moved once each


def test_a_transaction_whose_answer_was_lost_is_not_repeated(world: MoneyWorld) -> None:
    """botocore after-call hook: TransactWriteItems commits in moto, then the caller gets an error,
    the first three times it is called (start, complete, first API request...)."""
    lost = {"left": 3}

    def lose_answer(**_: Any) -> None:
        if lost["left"]:
            lost["left"] -= 1
            raise Crash("answer lost after commit")

    world.session.register("after-call.dynamodb.TransactWriteItems", lose_answer)
    assert story(world) == CLEAN
    assert lost["left"] == 0


def test_a_concurrent_change_is_reloaded_not_overwritten(
    world: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loan changes between the read and the write (another writer landed first): the version
    condition fails the transaction, the use case reloads and applies on the fresh state."""
    original_apply = DynamoLoanStore.apply_repayment
    raced = {"times": 0}

    def apply_repayment(self: DynamoLoanStore, *args: Any, **kwargs: Any) -> None:
        if raced["times"] == 0:
            raced["times"] += 1
            item = LoanItem.get(*LoanItem.key("L1"), consistent_read=True)
            item.update(actions=[LoanItem.updated_at.set("touched by a concurrent writer")])
        original_apply(self, *args, **kwargs)

    monkeypatch.setattr(DynamoLoanStore, "apply_repayment", apply_repayment)
    rounds: list[int] = []
    assert story(world, rounds=rounds) == CLEAN
    assert raced["times"] == 1
    assert rounds == [1, 1, 1]  # resolved inside the delivery, not by a redelivery


def test_random_crashes_and_duplicates(world: MoneyWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = int(os.environ.get("SCF_TEST_SEED", random.SystemRandom().randrange(2**32)))
    print(f"SCF_TEST_SEED={seed}")
    rng = random.Random(seed)
    for owner, name in rng.sample(CRASH_POINTS, k=3):
        crash_once(monkeypatch, owner, name, rng.choice(["before", "after"]))
    world.bank.faults.lose_answer_next = rng.randint(0, 2)
    world.bank.faults.unavailable_next = rng.randint(0, 2)
    assert story(world, twice=rng.random() < 0.5) == CLEAN, f"SCF_TEST_SEED={seed}"


def test_money_collected_before_a_crash_is_applied_even_after_the_loan_was_paid_off(
    world: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bank took 40,000.00, then the process died; the supplier paid the loan off before the
    message came back. The redelivery asks the bank before looking at the loan: the money is
    applied as overpayment (owed back), never marked FAILED, never collected twice."""
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    deliver_until_done(world, "disbursements")
    world.set_today(date(2026, 1, 11))
    crash_once(monkeypatch, repayment_service, "execute", "after")
    first_id = post_repayment(world, "40000.00", "first")
    first_delivery, answer = world.deliver("repayments")
    assert len(answer["batchItemFailures"]) == 1
    world.set_today(date(2026, 2, 5))
    payoff = world.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    post_repayment(world, payoff, "payoff")
    deliver_until_done(world, "repayments")
    assert world.loan("L1").status == "REPAID"

    for record in first_delivery["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    answer = world.invoke_sqs("repayments", first_delivery)

    first = RepaymentItem.get(*RepaymentItem.key(first_id))
    assert answer == {"batchItemFailures": []}
    assert (first.status, first.allocation["overpayment"]) == ("APPLIED", 4_000_000)
    assert first.value_date == "2026-02-05"  # never before the payoff already applied
    assert world.bank.posts.count(first_id) == 1
    assert world.ledger("L1")["supplier_overpayment"] == -4_000_000
    world.assert_ledger_matches_loan("L1")
