"""disburse against moto and a stand-in bank: LoanApproved (a stream record in an SQS message) ->
DISBURSING -> ACTIVE with dates and the posting; rejected -> FAILED and the reservation released;
an answer lost after the bank applied the payout -> redelivery pays out once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from scf.adapters.dynamodb.models import PaymentItem
from tests.reliability.money_harness import LENDER, MoneyWorld, money_world

pytestmark = pytest.mark.integration

SUPPLIER_ACCOUNT = "6217000099998888"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def approved(world: MoneyWorld, loan_id: str = "L0001", principal: int = 10_000_000) -> None:
    world.add_supplier("S1", SUPPLIER_ACCOUNT)
    world.approve_loan(loan_id, "S1", principal, term_days=45)


def test_an_approved_loan_is_paid_out_and_becomes_active(world: MoneyWorld) -> None:
    world.set_today(date(2026, 3, 2))
    approved(world)
    _, answer = world.deliver("disbursements")
    assert answer == {"batchItemFailures": []}

    loan = world.loan("L0001")
    assert loan.status == "ACTIVE"
    assert loan.value_date == "2026-03-02"  # the bank's value date
    assert loan.maturity_date == "2026-04-16"  # + 45 days
    assert loan.payment_id == "PAYL0001"
    assert loan.principal_changes == [["2026-03-02", 10_000_000]]

    payment = PaymentItem.get(*PaymentItem.key("PAYL0001"))
    assert (payment.status, payment.direction, payment.value_date) == ("SETTLED", "PAYOUT", "2026-03-02")
    assert payment.bank_reference

    order = world.bank.payments["PAYL0001"]
    assert order["amount"] == "100000.00"
    body = world.bank.bodies["PAYL0001"]
    assert LENDER["account_number"] in body and SUPPLIER_ACCOUNT in body  # lender -> supplier

    assert [p.posting_id for p in world.postings("L0001")] == ["DISBURSEMENT#PAYL0001"]
    assert world.ledger("L0001")["loans_receivable"] == 10_000_000
    world.assert_ledger_matches_loan("L0001")
    assert world.exposure("S1").principal_minor == 10_000_000  # still reserved: now outstanding


def test_a_rejected_payout_fails_the_loan_and_releases_the_reservation(world: MoneyWorld) -> None:
    world.bank.faults.reject_accounts.add(SUPPLIER_ACCOUNT)
    approved(world)
    assert world.exposure("S1").principal_minor == 10_000_000
    _, answer = world.deliver("disbursements")
    assert answer == {"batchItemFailures": []}

    loan = world.loan("L0001")
    assert loan.status == "FAILED" and loan.value_date is None
    assert world.exposure("S1").principal_minor == 0
    assert PaymentItem.get(*PaymentItem.key("PAYL0001")).status == "REJECTED"
    assert world.postings("L0001") == []


def test_a_lost_answer_then_redelivery_pays_out_exactly_once(world: MoneyWorld) -> None:
    """The bank applies the payout, the answer is lost and the bank cannot be asked either: the
    handler fails the message; the redelivery asks the bank by payment id and completes without
    sending again."""
    approved(world)
    world.bank.faults.lose_answer_next = 1
    world.bank.faults.status_unavailable = True
    event, answer = world.deliver("disbursements")
    assert len(answer["batchItemFailures"]) == 1
    assert world.loan("L0001").status == "DISBURSING"
    assert world.bank.applied("PAYL0001") == 1

    world.bank.faults.status_unavailable = False
    posts_before = len(world.bank.posts)
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    assert world.invoke_sqs("disbursements", event) == {"batchItemFailures": []}
    assert len(world.bank.posts) == posts_before  # asked, not sent again
    assert world.loan("L0001").status == "ACTIVE"
    assert len(world.postings("L0001")) == 1
    world.assert_ledger_matches_loan("L0001")


def test_a_lost_answer_is_recovered_within_one_delivery(world: MoneyWorld) -> None:
    approved(world)
    world.bank.faults.lose_answer_next = 1
    _, answer = world.deliver("disbursements")
    assert answer == {"batchItemFailures": []}
    assert world.loan("L0001").status == "ACTIVE"
    assert world.bank.posts.count("PAYL0001") == 1 and "PAYL0001" in world.bank.gets


def test_a_batch_of_loans_with_one_poison_message(world: MoneyWorld) -> None:
    world.add_supplier("S1", SUPPLIER_ACCOUNT)
    for index in range(3):
        world.approve_loan(f"L{index}", "S1", 1_000_000 * (index + 1))
    event, _ = world.deliver("disbursements")
    assert {world.loan(f"L{index}").status for index in range(3)} == {"ACTIVE"}
    # A record that is not an outbox stream record fails alone.
    event["Records"][0]["body"] = '{"not": "a stream record"}'
    event["Records"][0]["messageId"] = "poison"
    assert world.invoke_sqs("disbursements", event) == {"batchItemFailures": [{"itemIdentifier": "poison"}]}


def test_redelivery_of_a_completed_disbursement_changes_nothing(world: MoneyWorld) -> None:
    approved(world)
    event, _ = world.deliver("disbursements")
    before = world.loan("L0001").version
    assert world.invoke_sqs("disbursements", event) == {"batchItemFailures": []}
    assert world.loan("L0001").version == before
    assert world.bank.posts.count("PAYL0001") == 1


def test_the_payout_goes_to_the_account_recorded_at_approval_after_the_master_data_changed(
    world: MoneyWorld,
) -> None:
    at_approval = {"bank_code": "SIMBANK", "account_number": SUPPLIER_ACCOUNT, "name": "Supplier S1 Ltd"}
    world.add_supplier("S1", SUPPLIER_ACCOUNT)
    world.approve_loan("L0001", "S1", 10_000_000, payout_account=at_approval)
    world.add_supplier("S1", "6217000055556666")  # a later supplier file changes the account

    world.deliver("disbursements")

    body = world.bank.bodies["PAYL0001"]
    assert SUPPLIER_ACCOUNT in body and "6217000055556666" not in body
    payment = PaymentItem.get(*PaymentItem.key("PAYL0001"))
    assert payment.account == {**at_approval, "masked": "************8888"}
