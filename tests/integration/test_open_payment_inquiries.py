"""The daily status inquiry on moto: the open-payment index (gsi2 PAYMENTS#OPEN#<kind>) follows every
payment order from its SENT write to its final outcome, and the INQUIRE step through each owner's
queue (disburse: payouts, apply_repayment: collections) against the stand-in bank and the signed
REST bank (contract sections 7 and 10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.backfill_open_payments import backfill
from scf.adapters.banks.rest_signed import RestSignedBankGateway
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import PaymentItem
from scf.adapters.secrets import StaticSecrets
from scf.clock import FixedClock
from scf.domain.loan import LoanStatus
from scf.service.disbursement import PayoutService
from scf.service.inquiries import InquiryService
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, BankUnavailable, PaymentKind
from tests.fakes import FakeGateways
from tests.integration.rest_bank import RestBank
from tests.integration.test_apply_repayment import count_calls, repay
from tests.integration.test_loan_status_index import approve
from tests.reliability.money_harness import MoneyWorld, money_world, sqs_event

pytestmark = pytest.mark.integration

# Timestamps are real (the clock file holds only the business date): the payments are sent today,
# and the inquiry runs two business days later, so they are all before its cutoff.
SENT_ON = datetime.now(ZoneInfo("Asia/Shanghai")).date()
INQUIRY_DAY = SENT_ON + timedelta(days=2)
ACCOUNT = "6217000011113333"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def payment(payment_id: str) -> PaymentItem:
    return PaymentItem.get(*PaymentItem.key(payment_id), consistent_read=True)


def inquire(world: MoneyWorld, queue: str, day: date = INQUIRY_DAY) -> dict[str, object]:
    world.set_today(day)
    event = sqs_event([{"scf": "daily", "step": "INQUIRE", "business_date": day.isoformat()}])
    return world.invoke_sqs(queue, event)


def payout_never_received(world: MoneyWorld) -> None:
    """L1 approved; its payout order written (SENT) but every POST refused before applying."""
    world.set_today(SENT_ON)
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000)
    world.bank.faults.unavailable_next = 100
    _, answer = world.deliver("disbursements")
    assert answer["batchItemFailures"], "the payout should have failed"
    world.bank.faults.unavailable_next = 0
    assert (world.loan("L1").status, world.bank.applied("PAYL1")) == ("DISBURSING", 0)
    world.bank.gets.clear()


def test_a_payout_order_is_in_the_open_index_of_its_kind_until_its_outcome(world: MoneyWorld) -> None:
    payout_never_received(world)

    sent = payment("PAYL1")
    assert sent.gsi2pk == "PAYMENTS#OPEN#PAYOUT"
    assert sent.gsi2sk is not None and sent.gsi2sk.endswith("Z#PAYL1")
    moment = datetime.fromisoformat(sent.created_at).astimezone(UTC)
    assert sent.gsi2sk.startswith(moment.strftime("%Y-%m-%dT%H:%M:%S.%f"))

    assert inquire(world, "disbursements") == {"batchItemFailures": []}

    settled = payment("PAYL1")
    assert (settled.status, settled.gsi2pk, settled.gsi2sk) == ("SETTLED", None, None)


def test_the_payouts_inquiry_sends_again_what_the_bank_never_received_once(world: MoneyWorld) -> None:
    payout_never_received(world)

    assert inquire(world, "disbursements") == {"batchItemFailures": []}
    assert inquire(world, "disbursements") == {"batchItemFailures": []}  # the day's message again

    assert world.loan("L1").status == "ACTIVE"
    assert world.bank.applied("PAYL1") == 1
    assert world.bank.gets.count("PAYL1") == 2  # asked by the step, then by disburse before sending
    world.assert_ledger_matches_loan("L1")


def test_a_rejected_payout_leaves_the_open_index(world: MoneyWorld) -> None:
    world.set_today(SENT_ON)
    world.add_supplier("S1", ACCOUNT)
    world.bank.faults.reject_accounts = {ACCOUNT}
    world.approve_loan("L1", "S1", 10_000_000)
    world.deliver("disbursements")

    rejected = payment("PAYL1")
    assert (world.loan("L1").status, rejected.status, rejected.gsi2pk) == ("FAILED", "REJECTED", None)


def collection_never_received(world: MoneyWorld) -> str:
    world.set_today(SENT_ON)
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000)
    world.deliver("disbursements")
    repayment_id = repay(world, "1000.00", "k1")
    world.bank.faults.unavailable_next = 100
    _, failed = world.deliver("repayments")
    assert failed["batchItemFailures"]
    world.bank.faults.unavailable_next = 0
    world.bank.gets.clear()
    return repayment_id


def test_the_collections_inquiry_runs_on_the_repayments_queue_for_collections_only(
    world: MoneyWorld,
) -> None:
    repayment_id = collection_never_received(world)
    assert payment(repayment_id).gsi2pk == "PAYMENTS#OPEN#COLLECTION"

    assert inquire(world, "disbursements") == {"batchItemFailures": []}
    assert world.bank.gets == []  # not disburse's payment

    assert inquire(world, "repayments") == {"batchItemFailures": []}
    applied = world.api("GET", f"/v1/repayments/{repayment_id}", supplier_id="S1").body
    assert applied is not None and applied["status"] == "APPLIED"
    assert (world.bank.applied(repayment_id), payment(repayment_id).gsi2pk) == (1, None)


def test_a_bank_down_for_the_inquiry_returns_the_message_to_the_queue(world: MoneyWorld) -> None:
    payout_never_received(world)
    world.bank.faults.status_unavailable = True

    answer = inquire(world, "disbursements")

    assert len(answer["batchItemFailures"]) == 1  # type: ignore[arg-type]
    assert world.loan("L1").status == "DISBURSING"


# -- the signed REST bank ---------------------------------------------------------------------------

REST_TODAY = date(2026, 12, 3)
SECRET = b"restbank-secret-0001"
LENDER = Account("RESTBANK", "6222000011112222", "SCF Lender")
SUPPLIER = Account("RESTBANK", "6217000099998888", "Supplier Ltd")


@pytest.fixture
def rest_bank() -> Iterator[RestBank]:
    server = RestBank({"K1": SECRET}, today=REST_TODAY)
    yield server
    server.close()


def test_a_rest_payout_whose_answer_timed_out_is_settled_by_the_inquiry_without_a_second_post(
    tables: Any, rest_bank: RestBank
) -> None:
    gateway = RestSignedBankGateway(
        rest_bank.url,
        "K1",
        StaticSecrets({"K1": SECRET}),
        bank_code="RESTBANK",
        timeout=(1.0, 0.25),  # below the bank's hang after applying
        attempts=1,
        clock=FixedClock(REST_TODAY),
    )
    store = DynamoLoanStore()
    gateways = FakeGateways(bank=gateway)
    sent_clock = FixedClock(REST_TODAY, datetime(2026, 12, 3, 1, tzinfo=UTC))
    approve("L1")
    payouts = PayoutService(loans=store, gateways=gateways, clock=sent_clock, lender=LENDER)
    rest_bank.faults.hang_next_posts = 1
    with pytest.raises(BankUnavailable):
        payouts.disburse("L1")
    assert rest_bank.requests_for("PAYL1") == ["POST"]

    next_day = REST_TODAY + timedelta(days=1)
    job_clock = FixedClock(next_day, datetime(2026, 12, 3, 16, 5, tzinfo=UTC))
    inquiries = InquiryService(
        loans=store,
        gateways=gateways,
        outcomes=PaymentOutcomeService(loans=store, clock=job_clock),
        clock=job_clock,
        resend={PaymentKind.PAYOUT: payouts.pay_again},
    )
    result = inquiries.run(next_day, job_clock.now())

    loan = store.get_loan("L1")
    assert loan is not None and loan.loan.status is LoanStatus.ACTIVE
    assert loan.loan.value_date == REST_TODAY  # the bank's settlement date
    assert rest_bank.requests_for("PAYL1") == ["POST", "GET"]
    assert (result.loans_read, result.written) == (1, 1)


def test_a_rejected_collection_leaves_the_open_index(world: MoneyWorld) -> None:
    world.set_today(SENT_ON)
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000)
    world.deliver("disbursements")
    world.bank.faults.reject_accounts = {ACCOUNT}
    repayment_id = repay(world, "1000.00", "k1")
    world.deliver("repayments")

    rejected = payment(repayment_id)
    assert (rejected.status, rejected.gsi2pk, rejected.gsi2sk) == ("REJECTED", None, None)


# -- the backfill of payments written before the index ---------------------------------------------


def legacy_payment(payment_id: str, status: str, created_at: str) -> None:
    """A payment order as written before the open-payment index existed (no gsi2 keys)."""
    PaymentItem(
        *PaymentItem.key(payment_id),
        payment_id=payment_id,
        loan_id="L9",
        direction="PAYOUT",
        status=status,
        amount_minor=100,
        currency="CNY",
        bank_code="SIMBANK",
        created_at=created_at,
        updated_at=created_at,
    ).save()


def test_the_backfill_indexes_open_payments_written_before_the_index_once(tables: Any) -> None:
    legacy_payment("PAYL9", "SENT", "2026-01-01T02:00:00+08:00")
    legacy_payment("RPOLD1", "SENT", "2026-01-01T03:00:00+00:00")
    legacy_payment("PAYL8", "SETTLED", "2026-01-01T01:00:00+00:00")
    store = DynamoLoanStore()
    before = datetime(2026, 1, 2, tzinfo=UTC)
    assert store.open_payments(PaymentKind.PAYOUT, before) == []

    first, second = backfill(), backfill()

    assert (first.found, first.indexed, second.found) == (2, 2, 0)
    assert [p.payment_id for p in store.open_payments(PaymentKind.PAYOUT, before)] == ["PAYL9"]
    assert [p.payment_id for p in store.open_payments(PaymentKind.COLLECTION, before)] == ["RPOLD1"]
    assert payment("PAYL9").gsi2sk == "2025-12-31T18:00:00.000000Z#PAYL9"
    assert payment("PAYL8").gsi2pk is None


def test_dynamodb_calls_of_the_inquiry_follow_the_index(world: MoneyWorld) -> None:
    """One Query of the open payouts, then per payment what its answer needs; never a Scan."""
    calls = count_calls(world)  # before the handlers make their clients
    payout_never_received(world)
    calls.clear()

    inquire(world, "disbursements")
    # the open payouts (gsi2), the payment again by key; the bank says UNKNOWN, so disburse runs:
    # loan, payment, then (the bank SETTLED it now) loan + payment SETTLED + posting + exposure
    assert calls == ["Query", "GetItem", "GetItem", "GetItem", "TransactWriteItems"]

    calls.clear()
    inquire(world, "disbursements")
    assert calls == ["Query"]  # nothing open: a second run of the day reads one empty page
