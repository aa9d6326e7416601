"""apply_repayment against moto and a stand-in bank: the loan and repayment API, collection through
the supplier's bank, the waterfall in one transaction, the ledger agreeing with the loan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scf.adapters.dynamodb.models import OutboxItem, PoolItem, RepaymentItem
from scf.domain.pool import OpenEntry, Pool
from tests.reliability.money_harness import MoneyWorld, money_world

pytestmark = pytest.mark.integration

ACCOUNT = "6217000011113333"
VALUE = date(2026, 1, 1)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def active(world: MoneyWorld) -> MoneyWorld:
    """Loan L1 of supplier S1: 100,000.00 at 10%, 30 days, value date 2026-01-01 (ACTIVE)."""
    world.set_today(VALUE)
    world.add_supplier("S1", ACCOUNT)
    world.add_supplier("S2", "6217000044445555")
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    assert world.loan("L1").status == "ACTIVE"
    return world


def repay(world: MoneyWorld, amount: str, key: str, loan_id: str = "L1", supplier_id: str = "S1") -> str:
    answer = world.api(
        "POST",
        f"/v1/loans/{loan_id}/repayments",
        supplier_id=supplier_id,
        body={"amount": amount},
        headers={"Idempotency-Key": key},
    )
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "PENDING"
    repayment_id: str = answer.body["repayment_id"]
    return repayment_id


def test_loan_view_as_of_the_business_date(active: MoneyWorld) -> None:
    active.set_today(date(2026, 1, 11))
    answer = active.api("GET", "/v1/loans/L1", supplier_id="S1")
    assert answer.status == 200
    expected = {
        "loan_id": "L1",
        "status": "ACTIVE",
        "currency": "CNY",
        "principal": "100000.00",
        "outstanding_principal": "100000.00",
        "interest_due": "277.78",
        "penalty_due": "0.00",
        "payoff": "100277.78",
        "annual_rate": "0.10",
        "term_days": 30,
        "value_date": "2026-01-01",
        "maturity_date": "2026-01-31",
        "extended": False,
        "repayments": [],
    }
    assert {key: answer.body[key] for key in expected} == expected


@pytest.mark.parametrize(("loan_id", "supplier_id"), [("L1", "S2"), ("NOPE", "S1")])
def test_another_suppliers_loan_and_an_unknown_loan_are_404(
    active: MoneyWorld, loan_id: str, supplier_id: str
) -> None:
    answer = active.api("GET", f"/v1/loans/{loan_id}", supplier_id=supplier_id)

    assert (answer.status, answer.headers["content-type"]) == (404, "application/problem+json")


def test_repaying_another_suppliers_loan_is_404(active: MoneyWorld) -> None:
    answer = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S2",
        body={"amount": "1.00"},
        headers={"Idempotency-Key": "k-stranger"},
    )

    assert answer.status == 404


def test_a_token_without_a_supplier_is_403(active: MoneyWorld) -> None:
    answer = active.api("GET", "/v1/loans/L1", supplier_id=None)

    assert answer.status == 403


def test_a_repayment_without_an_idempotency_key_is_400(active: MoneyWorld) -> None:
    answer = active.api("POST", "/v1/loans/L1/repayments", supplier_id="S1", body={"amount": "1.00"})

    assert (answer.status, answer.body["field"]) == (400, "Idempotency-Key")
    assert active.pending("repayments") == []


def test_payoff_repays_the_loan_and_releases_the_exposure(active: MoneyWorld) -> None:
    active.set_today(date(2026, 1, 21))
    payoff = active.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    assert payoff == "100555.56"  # 20 days of interest
    repayment_id = repay(active, payoff, "k-payoff")
    assert active.api("GET", f"/v1/repayments/{repayment_id}", supplier_id="S1").body["status"] == "PENDING"

    _, answer = active.deliver("repayments")
    assert answer == {"batchItemFailures": []}

    repayment = active.api("GET", f"/v1/repayments/{repayment_id}", supplier_id="S1").body
    assert repayment == {
        "repayment_id": repayment_id,
        "loan_id": "L1",
        "status": "APPLIED",
        "source": "SUPPLIER",
        "amount": "100555.56",
        "currency": "CNY",
        "allocation": {
            "penalty": "0.00",
            "interest": "555.56",
            "principal": "100000.00",
            "overpayment": "0.00",
        },
        "value_date": "2026-01-21",
        "failure_reason": None,
    }
    loan = active.api("GET", "/v1/loans/L1", supplier_id="S1").body
    assert (loan["status"], loan["payoff"], len(loan["repayments"])) == ("REPAID", "0.00", 1)
    assert active.exposure("S1").principal_minor == 0
    collection = active.bank.payments[repayment_id]
    assert (collection["direction"], collection["amount"]) == ("COLLECTION", "100555.56")
    ledger = active.ledger("L1")
    assert ledger["loans_receivable"] == 0 and ledger["interest_income"] == -55_556
    assert ledger["bank_operating"] == 55_556  # 100,000.00 out, 100,555.56 in
    active.assert_ledger_matches_loan("L1")


def test_partial_repayments_follow_the_worked_example(active: MoneyWorld) -> None:
    active.set_today(date(2026, 1, 11))
    first = repay(active, "40000.00", "k-1")
    active.deliver("repayments")
    assert active.api("GET", f"/v1/repayments/{first}", supplier_id="S1").body["allocation"] == {
        "penalty": "0.00",
        "interest": "277.78",
        "principal": "39722.22",
        "overpayment": "0.00",
    }
    assert active.exposure("S1").principal_minor == 6_027_778

    active.set_today(date(2026, 2, 5))
    loan = active.api("GET", "/v1/loans/L1", supplier_id="S1").body
    assert (loan["status"], loan["interest_due"], loan["penalty_due"], loan["payoff"]) == (
        "OVERDUE",
        "334.87",
        "125.58",
        "60738.23",
    )
    repay(active, "100.00", "k-2")  # penalty only
    active.deliver("repayments")
    stored = active.loan("L1")
    assert stored.status == "OVERDUE" and active.exposure("S1").overdue_loans == 1
    rest = active.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    assert rest == "60638.23"
    repay(active, "60700.00", "k-3")  # 61.77 too much
    active.deliver("repayments")
    loan = active.api("GET", "/v1/loans/L1", supplier_id="S1").body
    assert loan["status"] == "REPAID"
    assert [r["allocation"]["overpayment"] for r in loan["repayments"]] == ["0.00", "0.00", "61.77"]
    exposure = active.exposure("S1")
    assert (exposure.principal_minor, exposure.overdue_loans) == (0, 0)
    ledger = active.ledger("L1")
    assert (ledger["interest_income"], ledger["penalty_income"], ledger["supplier_overpayment"]) == (
        -61_265,
        -12_558,
        -6_177,
    )
    active.assert_ledger_matches_loan("L1")


def requested_events() -> list[OutboxItem]:
    return list(OutboxItem.scan(OutboxItem.event_type == "RepaymentRequested"))


def test_the_same_key_and_body_get_the_first_answer(active: MoneyWorld) -> None:
    first = repay(active, "10.00", "same-key")

    again = repay(active, "10.00", "same-key")

    assert again == first
    assert len(requested_events()) == 1


def test_the_same_key_with_another_body_is_422(active: MoneyWorld) -> None:
    first = repay(active, "10.00", "same-key")

    other = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S1",
        body={"amount": "11.00"},
        headers={"Idempotency-Key": "same-key"},
    )

    assert other.status == 422 and other.body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert repay(active, "10.00", "same-key") == first  # the first request still replays
    assert len(requested_events()) == 1


def test_two_suppliers_with_the_same_key_get_two_repayments(active: MoneyWorld) -> None:
    active.approve_loan("L2", "S2", 1_000_000)
    active.deliver("disbursements")
    first = repay(active, "10.00", "same-key", loan_id="L1", supplier_id="S1")

    second = repay(active, "10.00", "same-key", loan_id="L2", supplier_id="S2")

    assert second != first
    assert len(requested_events()) == 2


def test_a_supplier_cannot_replay_another_suppliers_key(active: MoneyWorld) -> None:
    repay(active, "10.00", "same-key", loan_id="L1", supplier_id="S1")

    replay = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S2",
        body={"amount": "10.00"},
        headers={"Idempotency-Key": "same-key"},
    )

    assert replay.status == 404  # S2's key is its own: a new request, for a loan S2 does not own
    assert len(requested_events()) == 1


@pytest.mark.parametrize("amount", ["10", "10.001", "-1.00", "0.00", 10.0, None, "NaN", "1e3"])
def test_bad_money_is_422_naming_the_field(active: MoneyWorld, amount: object) -> None:
    answer = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S1",
        body={"amount": amount},
        headers={"Idempotency-Key": "k-bad"},
    )

    assert (answer.status, answer.body["field"]) == (422, "amount")


def test_a_loan_that_is_not_active_takes_no_repayment(world: MoneyWorld) -> None:
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L9", "S1", 1_000_000)  # APPROVED, not paid out yet

    answer = world.api(
        "POST",
        "/v1/loans/L9/repayments",
        supplier_id="S1",
        body={"amount": "1.00"},
        headers={"Idempotency-Key": "k-early"},
    )

    assert (answer.status, answer.body["code"]) == (409, "LOAN_NOT_REPAYABLE")


def test_a_refused_collection_fails_the_repayment_and_leaves_the_loan(active: MoneyWorld) -> None:
    active.bank.faults.reject_accounts.add(ACCOUNT)
    repayment_id = repay(active, "500.00", "k-refused")
    before = active.loan("L1").version
    active.deliver("repayments")
    assert RepaymentItem.get(*RepaymentItem.key(repayment_id)).status == "FAILED"
    assert active.loan("L1").version == before
    assert len(active.postings("L1")) == 1  # only the disbursement


def test_money_already_received_is_applied_without_collection(active: MoneyWorld) -> None:
    """A settlement sweep (or bank credit) arrives as RepaymentRequested with its source; no
    RepaymentItem needs to exist before, and the bank is not asked for money."""
    active.set_today(date(2026, 1, 2))
    OutboxItem(
        *OutboxItem.key("RepaymentRequested-SWEEP1"),
        target="repayments",
        event_type="RepaymentRequested",
        payload='{"repayment_id":"SWEEP1","loan_id":"L1","supplier_id":"S1","amount":"5000.00",'
        '"currency":"CNY","source":"SETTLEMENT_SWEEP"}',
        created_at="2026-01-02T00:00:00+00:00",
        expires_at=datetime.now(UTC) + timedelta(days=7),
    ).save()
    posts = len(active.bank.posts)
    active.deliver("repayments")
    assert len(active.bank.posts) == posts
    repayment = active.api("GET", "/v1/repayments/SWEEP1", supplier_id="S1").body
    assert repayment["source"] == "SETTLEMENT_SWEEP" and repayment["status"] == "APPLIED"
    assert repayment["allocation"]["interest"] == "27.78"
    active.assert_ledger_matches_loan("L1")


def test_list_loans_newest_first_paginated(world: MoneyWorld) -> None:
    world.add_supplier("S1", ACCOUNT)
    world.add_supplier("S2", "6217000044445555")
    for day in range(1, 6):
        world.approve_loan(f"L{day}", "S1", 1_000_000, created_at=f"2026-01-0{day}T00:00:00+00:00")
    world.approve_loan("OTHER", "S2", 1_000_000)
    seen: list[str] = []
    token = None
    while True:
        query = {"limit": "2", **({"next_token": token} if token else {})}
        page = world.api("GET", "/v1/loans", supplier_id="S1", query=query).body
        seen += [item["loan_id"] for item in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == ["L5", "L4", "L3", "L2", "L1"]
    assert world.api("GET", "/v1/loans", supplier_id="S1", query={"next_token": "garbage"}).status == 422
    assert world.api("GET", "/v1/loans", supplier_id="S1", query={"limit": "0"}).status == 422


def test_extension_moves_maturity_when_the_borrowing_base_covers_it(active: MoneyWorld) -> None:
    pool = Pool()
    pool.stages["INVOICED"]["INV1"] = OpenEntry(date(2026, 1, 20), 20_000_000, False)  # base 180,000.00
    PoolItem(
        *PoolItem.key("S1", "CNY"),
        supplier_id="S1",
        currency="CNY",
        state=pool.to_state(),
        updated_at="2026-01-20T00:00:00+00:00",
    ).save()
    active.set_today(date(2026, 1, 23))
    too_early = active.api(
        "POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "x"}
    )
    assert too_early.status == 409 and too_early.body["code"] == "EXTENSION_TOO_EARLY"
    active.set_today(date(2026, 2, 2))  # 2 days past maturity
    answer = active.api("POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "e1"})
    assert answer.status == 200, answer.body
    assert (answer.body["maturity_date"], answer.body["extended"], answer.body["status"]) == (
        "2026-03-02",
        True,
        "ACTIVE",
    )
    assert answer.body["penalty_due"] == "0.00" and answer.body["interest_due"] == "888.89"  # 32 normal days
    again = active.api("POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "e1"})
    assert again.status == 200 and again.body["maturity_date"] == "2026-03-02"
    twice = active.api("POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "e2"})
    assert twice.status == 409 and twice.body["code"] == "ALREADY_EXTENDED"


def test_extension_refused_without_a_covering_borrowing_base(active: MoneyWorld) -> None:
    active.set_today(date(2026, 1, 30))

    answer = active.api("POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "e"})

    assert (answer.status, answer.body["code"]) == (409, "BORROWING_BASE_SHORT")


def count_calls(world: MoneyWorld) -> list[str]:
    calls: list[str] = []
    world.session.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def test_dynamodb_calls_per_disbursement_and_repayment(world: MoneyWorld) -> None:
    """Contract section 9 asks to count them; these are the numbers docs/money.md states."""
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000)
    calls = count_calls(world)
    world.deliver("disbursements")
    # loan, supplier account, APPROVED -> DISBURSING (+ payment order), -> ACTIVE (+ posting)
    assert calls == ["GetItem", "GetItem", "TransactWriteItems", "TransactWriteItems"]

    calls.clear()
    repay(world, "100.00", "k-count")
    # idempotency look-up, loan, repayment + outbox (loan still repayable)
    assert calls == ["GetItem", "GetItem", "TransactWriteItems"]

    calls.clear()
    world.deliver("repayments")
    # repayment, loan, payment order (none yet), supplier account, payment order written before the
    # collection, the loan's repayments (value date floor), loan + exposure + repayment + posting
    # + payment SETTLED
    assert calls == [
        "GetItem",
        "GetItem",
        "GetItem",
        "GetItem",
        "TransactWriteItems",
        "Query",
        "TransactWriteItems",
    ]
