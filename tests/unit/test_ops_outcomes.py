"""An answer ops obtained from the bank out of band (OpsOutcomeService), on the in-memory store: it
closes an open payment exactly as the bank's own report would, once, and never a payment that is
final already or that the bank may still be answering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from scf.service.disbursement import PayoutService
from scf.service.inquiries import IN_FLIGHT
from scf.service.ops_outcomes import OpsOutcomeService
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentReport, PaymentStatus
from scf.service.repayment import RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 2)
SENT = datetime(2026, 3, 2, 1, tzinfo=UTC)
LATER = SENT + IN_FLIGHT
LENDER = Account(bank_code="FILEBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="FILEBANK", account_number="6217000099998888", name="Supplier Ltd")
REJECTED = {"status": "REJECTED", "reason": "bank portal: AC04 account closed"}
SETTLED = {"status": "SETTLED", "reason": "bank by phone: booked", "value_date": "2026-03-02"}


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=TODAY)


def ops(store: FakeLoanStore, at: datetime = LATER) -> OpsOutcomeService:
    clock = FixedClock(TODAY, at)
    return OpsOutcomeService(
        loans=store, outcomes=PaymentOutcomeService(loans=store, clock=clock), clock=clock
    )


def record(
    service: OpsOutcomeService, body: dict[str, Any], key: str = "k1", payment_id: str = "PAYL1"
) -> Any:
    return service.record(payment_id, body, by="ops-anna", idempotency_key=key)


def payout_sent(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    """L1's payout in a file the bank never answered: the loan DISBURSING, its limit reserved."""
    store.add_loan(a_loan(), payout_account=SUPPLIER)
    bank.hold("PAYL1")
    payouts = PayoutService(
        loans=store, gateways=FakeGateways(bank=bank), clock=FixedClock(TODAY, SENT), lender=LENDER
    )
    assert payouts.disburse("L1") is LoanStatus.DISBURSING


def test_a_payout_rejected_by_ops_fails_the_loan_and_releases_its_reservation(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    answer = record(ops(store), REJECTED)

    assert (answer["status"], answer["effect"], answer["loan_status"]) == ("REJECTED", "REJECTED", "FAILED")
    assert store.loans["L1"].loan.status is LoanStatus.FAILED
    assert store.exposure("S1", "CNY").principal_minor == 0


def test_a_payout_settled_by_ops_activates_the_loan_from_the_value_date_with_its_posting(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)

    answer = record(ops(store), SETTLED | {"value_date": "2026-03-01", "bank_reference": "REF-9"})

    assert (answer["effect"], answer["loan_status"], answer["payment_status"]) == (
        "SETTLED",
        "ACTIVE",
        "SETTLED",
    )
    assert store.loans["L1"].loan.value_date == date(2026, 3, 1)
    assert list(store.postings) == ["DISBURSEMENT#PAYL1"]


def test_the_report_is_kept_as_from_ops_with_who_and_why(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    payout_sent(store, bank)

    record(ops(store), REJECTED)

    kept = store.get_payment("PAYL1")
    assert kept is not None
    last = kept.reports[-1].report
    assert (last.source, last.by, last.reason, last.bank_code) == (
        "ops",
        "ops-anna",
        "bank portal: AC04 account closed",
        "FILEBANK",
    )


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)
    first = record(ops(store), REJECTED)
    kept = store.reports_of("PAYL1")

    again = record(ops(store, LATER + timedelta(hours=1)), REJECTED)

    assert again == first
    assert store.reports_of("PAYL1") == kept


def test_the_same_key_with_another_body_is_refused(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    payout_sent(store, bank)
    record(ops(store), REJECTED)

    with pytest.raises(IdempotencyKeyReused):
        record(ops(store), REJECTED | {"reason": "another reason"})


def test_a_payment_already_final_is_not_changed(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    payout_sent(store, bank)
    record(ops(store), REJECTED)

    with pytest.raises(Conflict) as refused:
        record(ops(store), SETTLED, key="k2")

    assert (refused.value.code, refused.value.message) == (
        "PAYMENT_ALREADY_FINAL",
        "payment PAYL1 is REJECTED already",
    )
    assert store.loans["L1"].loan.status is LoanStatus.FAILED


def test_a_payment_sent_less_than_the_inquirys_wait_ago_is_left_to_the_bank(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payout_sent(store, bank)
    kept = store.reports_of("PAYL1")

    with pytest.raises(Conflict) as refused:
        record(ops(store, LATER - timedelta(seconds=1)), REJECTED)

    assert refused.value.code == "PAYMENT_TOO_RECENT"
    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING
    assert store.reports_of("PAYL1") == kept


def test_an_unknown_payment_is_not_found_whatever_the_value_date(store: FakeLoanStore) -> None:
    with pytest.raises(NotFound) as refused:
        record(ops(store), SETTLED | {"value_date": "2099-01-01"}, payment_id="PAYNOPE")

    assert refused.value.code == "PAYMENT_NOT_FOUND"


def test_a_bank_report_arriving_first_leaves_the_ops_answer_recorded_as_a_conflict(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    """The race: the bank's file lands between the check and the write; the bank's outcome holds."""
    payout_sent(store, bank)
    service = ops(store)
    bank_report = PaymentReport("PAYL1", "FILEBANK", PaymentStatus.SETTLED, "camt.054", value_date=TODAY)
    real_apply = service.outcomes.apply

    def bank_first(report: PaymentReport) -> str:
        real_apply(bank_report)
        return real_apply(report)

    object.__setattr__(service, "outcomes", type("Racing", (), {"apply": staticmethod(bank_first)})())

    answer = record(service, REJECTED)

    assert (answer["effect"], answer["payment_status"], answer["loan_status"]) == (
        "PAYOUT_RETURNED",
        "SETTLED",
        "ACTIVE",
    )


def test_a_collection_rejected_by_ops_fails_the_repayment(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    store.add_loan(a_loan(value_date=date(2026, 1, 30), maturity_date=date(2026, 3, 1)))
    repayments = RepaymentService(
        loans=store, gateways=FakeGateways(bank=bank), clock=FixedClock(TODAY, SENT), lender=LENDER
    )
    pending = repayments.request("S1", "L1", 50_000, "k1")
    bank.hold(pending.repayment_id)
    repayments.apply(pending.requested_event().payload, redelivered=False)

    answer = record(ops(store), REJECTED, payment_id=pending.repayment_id)

    assert answer["effect"] == "REJECTED"
    assert store.repayments[pending.repayment_id].status is RepaymentStatus.FAILED


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"status": "PENDING", "reason": "x"}, "status", "INVALID_STATUS"),
        ({"status": "REJECTED"}, "reason", "INVALID_VALUE"),
        ({"status": "REJECTED", "reason": "   "}, "reason", "INVALID_VALUE"),
        ({"status": "REJECTED", "reason": "x" * 141}, "reason", "INVALID_VALUE"),
        ({"status": "SETTLED", "reason": "x"}, "value_date", "VALUE_DATE_REQUIRED"),
        ({"status": "SETTLED", "reason": "x", "value_date": "2026-3-1"}, "value_date", "INVALID_DATE"),
        (
            {"status": "SETTLED", "reason": "x", "value_date": "2026-03-03"},
            "value_date",
            "VALUE_DATE_IN_FUTURE",
        ),
        (
            {"status": "REJECTED", "reason": "x", "value_date": "2026-03-01"},
            "value_date",
            "VALUE_DATE_NOT_ALLOWED",
        ),
        (
            {"status": "REJECTED", "reason": "x", "bank_reference": "r" * 36},
            "bank_reference",
            "INVALID_VALUE",
        ),
        ({"status": "REJECTED", "reason": "x", "bank_reference": None}, "bank_reference", "INVALID_VALUE"),
    ],
)
def test_a_request_the_rules_refuse_changes_nothing(
    store: FakeLoanStore, bank: FakeBankGateway, body: dict[str, Any], field: str, code: str
) -> None:
    payout_sent(store, bank)

    with pytest.raises(InvalidInput) as refused:
        record(ops(store), body)

    assert (refused.value.field, refused.value.code) == (field, code)
    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING
