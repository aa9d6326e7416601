"""What a bank answer about one of our payments does (PaymentOutcomeService), on the in-memory
store: one test per effect code and per rule of contract section 7."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scf.clock import FixedClock
from scf.domain.loan import Loan, LoanStatus, RepaymentStatus
from scf.service.disbursement import PayoutService
from scf.service.loan_store import Effect
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentReport, PaymentStatus
from scf.service.repayment import RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 1, tzinfo=UTC)
LENDER = Account(bank_code="FILEBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="FILEBANK", account_number="6217000099998888", name="Supplier Ltd")


def approved_loan() -> Loan:
    return a_loan()


def paid_out_loan(value_date: date) -> Loan:
    return a_loan(value_date=value_date, maturity_date=date(2026, 3, 1))


def report(
    status: PaymentStatus,
    *,
    payment_id: str = "PAYL1",
    bank_code: str = "FILEBANK",
    value_date: date | None = None,
    reason: str | None = None,
) -> PaymentReport:
    return PaymentReport(
        payment_id=payment_id,
        bank_code=bank_code,
        status=status,
        source="pain.002",
        value_date=value_date,
        reason=reason,
    )


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=TODAY)


@pytest.fixture
def outcomes(store: FakeLoanStore) -> PaymentOutcomeService:
    return PaymentOutcomeService(loans=store, clock=FixedClock(TODAY, NOW))


def payout_sent(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    """L1 approved and its payout held by the bank (a file sent): the loan DISBURSING."""
    store.add_loan(approved_loan(), payout_account=SUPPLIER)
    bank.hold("PAYL1")
    payouts = PayoutService(
        loans=store, gateways=FakeGateways(bank=bank), clock=FixedClock(TODAY, NOW), lender=LENDER
    )
    assert payouts.disburse("L1") is LoanStatus.DISBURSING


def collection_sent(store: FakeLoanStore, bank: FakeBankGateway, *, amount_minor: int = 50_000) -> str:
    """L1 paid out on 2026-01-30 and a collection for it held by the bank: the repayment PENDING."""
    store.add_loan(paid_out_loan(date(2026, 1, 30)))
    repayments = RepaymentService(
        loans=store, gateways=FakeGateways(bank=bank), clock=FixedClock(TODAY, NOW), lender=LENDER
    )
    pending = repayments.request("S1", "L1", amount_minor, "k1")
    bank.hold(pending.repayment_id)
    status = repayments.apply(pending.requested_event().payload, redelivered=False)
    assert status is RepaymentStatus.PENDING
    return pending.repayment_id


# -- payouts -----------------------------------------------------------------------------------------


def test_a_settlement_activates_the_loan_from_the_banks_settlement_date(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    effect = outcomes.apply(report(PaymentStatus.SETTLED, value_date=date(2026, 3, 3)))

    loan = store.loans["L1"].loan
    assert effect == "SETTLED"
    assert (loan.status, loan.value_date, loan.maturity_date) == (
        LoanStatus.ACTIVE,
        date(2026, 3, 3),
        date(2026, 4, 2),
    )
    assert list(store.postings) == ["DISBURSEMENT#PAYL1"]
    assert store.payments["PAYL1"]["status"] == "SETTLED"


def test_a_rejection_before_settlement_fails_the_loan_and_releases_its_reservation(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    effect = outcomes.apply(report(PaymentStatus.REJECTED, reason="AC01"))

    assert effect == "REJECTED"
    assert store.loans["L1"].loan.status is LoanStatus.FAILED
    assert store.exposure("S1", "CNY").principal_minor == 0
    assert store.postings == {}


def test_a_rejection_after_settlement_is_a_returned_payout_that_changes_nothing(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)
    outcomes.apply(report(PaymentStatus.SETTLED, value_date=TODAY))

    effect = outcomes.apply(report(PaymentStatus.REJECTED, reason="AC04"))

    assert effect == "PAYOUT_RETURNED"
    assert store.loans["L1"].loan.status is LoanStatus.ACTIVE
    assert store.exposure("S1", "CNY").principal_minor == 10_000_000
    assert store.payments["PAYL1"]["status"] == "SETTLED"


def test_a_status_that_is_not_final_is_recorded_and_changes_nothing(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    effect = outcomes.apply(report(PaymentStatus.PENDING))

    assert effect == "RECORDED"
    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING
    assert store.payments["PAYL1"]["status"] == "SENT"


def test_the_same_outcome_again_is_recorded_once_more_and_posts_nothing(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)
    outcomes.apply(report(PaymentStatus.SETTLED, value_date=TODAY))

    effect = outcomes.apply(report(PaymentStatus.SETTLED, value_date=TODAY))  # the camt.054 booking

    assert effect == "RECORDED"
    assert list(store.postings) == ["DISBURSEMENT#PAYL1"]


def test_every_report_is_kept_in_order_with_its_effect(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    outcomes.apply(report(PaymentStatus.PENDING))
    outcomes.apply(report(PaymentStatus.SETTLED, value_date=TODAY))
    outcomes.apply(report(PaymentStatus.REJECTED, reason="AC04"))

    assert store.reports_of("PAYL1") == [
        (PaymentStatus.PENDING, "RECORDED"),  # the gateway's answer when the file was written
        (PaymentStatus.PENDING, "RECORDED"),
        (PaymentStatus.SETTLED, "SETTLED"),
        (PaymentStatus.REJECTED, "PAYOUT_RETURNED"),
    ]


def test_a_report_from_a_bank_the_payment_did_not_go_through_changes_nothing(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    effect = outcomes.apply(report(PaymentStatus.REJECTED, bank_code="OTHERBANK", reason="AC01"))

    assert effect == "NOT_SENDERS_PAYMENT"
    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING
    assert len(store.reports_of("PAYL1")) == 1  # only the gateway's own answer


def test_a_report_about_no_payment_of_ours_is_an_unknown_payment(outcomes: PaymentOutcomeService) -> None:
    assert outcomes.apply(report(PaymentStatus.SETTLED, payment_id="PAYNOSUCH")) == "UNKNOWN_PAYMENT"


# -- collections -------------------------------------------------------------------------------------


def test_a_settled_collection_is_applied_on_the_settlement_date(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment_id = collection_sent(store, bank)

    effect = outcomes.apply(
        report(PaymentStatus.SETTLED, payment_id=repayment_id, value_date=date(2026, 2, 27))
    )

    repayment = store.repayments[repayment_id]
    assert effect == "SETTLED"
    assert (repayment.status, repayment.value_date) == (RepaymentStatus.APPLIED, date(2026, 2, 27))
    assert store.payments[repayment_id]["status"] == "SETTLED"


def test_a_rejected_collection_fails_the_repayment_and_leaves_the_loan(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment_id = collection_sent(store, bank)
    before = store.loans["L1"].loan

    effect = outcomes.apply(report(PaymentStatus.REJECTED, payment_id=repayment_id, reason="AM04"))

    repayment = store.repayments[repayment_id]
    assert effect == "REJECTED"
    assert (repayment.status, repayment.failure_reason) == (RepaymentStatus.FAILED, "AM04")
    assert store.loans["L1"].loan == before


def test_a_collection_returned_after_it_settled_is_a_conflict_for_ops(
    outcomes: PaymentOutcomeService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment_id = collection_sent(store, bank)
    outcomes.apply(report(PaymentStatus.SETTLED, payment_id=repayment_id, value_date=TODAY))
    loan = store.loans["L1"].loan

    effect = outcomes.apply(report(PaymentStatus.REJECTED, payment_id=repayment_id, reason="MD06"))

    assert effect == Effect.OUTCOME_CONFLICT
    assert store.loans["L1"].loan == loan
    assert store.repayments[repayment_id].status is RepaymentStatus.APPLIED
