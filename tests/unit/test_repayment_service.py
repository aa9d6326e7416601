"""Asking to repay and applying repayments (RepaymentService) on the in-memory store and bank."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scf.clock import FixedClock
from scf.domain.loan import Loan, LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.waterfall import Allocation
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, MalformedRequest, NotFound
from scf.service.loan_store import LoanNotFound
from scf.service.payments import Account, BankUnavailable, PaymentStatus
from scf.service.repayment import LoanNotRepayable, RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
FIVE_DAYS_OVERDUE = date(2026, 2, 5)  # maturity 2026-01-31: 30 days of interest, 5 of penalty
LENDER = Account(bank_code="LENDERBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000011113333", name="Supplier Ltd")


def paid_out_loan(*, loan_id: str = "L1", supplier_id: str = "S1") -> Loan:
    """100,000.00 at 10% a year, ACT/360, 30 days, paid out on 2026-01-01."""
    return a_loan(loan_id=loan_id, supplier_id=supplier_id, value_date=VALUE)


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    store.add_loan(paid_out_loan())
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=FIVE_DAYS_OVERDUE)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIVE_DAYS_OVERDUE, datetime(2026, 2, 5, 1, tzinfo=UTC))


@pytest.fixture
def repayments(store: FakeLoanStore, bank: FakeBankGateway, clock: FixedClock) -> RepaymentService:
    return RepaymentService(loans=store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=clock)


def requested(repayments: RepaymentService, *, amount_minor: int, key: str = "k1") -> Repayment:
    """S1 asks to repay L1, as the API does; returns the PENDING repayment."""
    return repayments.request("S1", "L1", amount_minor, key)


def apply(
    repayments: RepaymentService, repayment: Repayment, *, redelivered: bool = False
) -> RepaymentStatus:
    return repayments.apply(repayment.requested_event().payload, redelivered=redelivered)


# -- asking to repay --------------------------------------------------------------------------------


def test_a_request_is_stored_pending_with_its_event(
    repayments: RepaymentService, store: FakeLoanStore
) -> None:
    repayment = repayments.request("S1", "L1", 50_000, "k1")

    assert repayment.status is RepaymentStatus.PENDING
    assert store.repayments[repayment.repayment_id] == repayment
    assert list(store.outbox) == [f"RepaymentRequested-{repayment.repayment_id}"]


def test_the_same_key_and_body_get_the_first_answer(
    repayments: RepaymentService, store: FakeLoanStore
) -> None:
    first = repayments.request("S1", "L1", 50_000, "k1")

    again = repayments.request("S1", "L1", 50_000, "k1")

    assert again == first
    assert len(store.outbox) == 1


def test_the_same_key_with_another_body_is_refused(repayments: RepaymentService) -> None:
    repayments.request("S1", "L1", 50_000, "k1")

    with pytest.raises(IdempotencyKeyReused):
        repayments.request("S1", "L1", 60_000, "k1")


def test_keys_are_per_supplier(repayments: RepaymentService, store: FakeLoanStore) -> None:
    store.add_supplier("S2", SUPPLIER)
    store.add_loan(paid_out_loan(loan_id="L2", supplier_id="S2"))
    first = repayments.request("S1", "L1", 50_000, "same-key")

    other = repayments.request("S2", "L2", 50_000, "same-key")

    assert other.repayment_id != first.repayment_id


def test_another_suppliers_loan_is_not_found(repayments: RepaymentService) -> None:
    with pytest.raises(LoanNotFound, match="loan L1 was not found") as refused:
        repayments.request("S2", "L1", 50_000, "k1")

    assert isinstance(refused.value, NotFound)


def test_a_loan_not_paid_out_takes_no_repayment(repayments: RepaymentService, store: FakeLoanStore) -> None:
    store.add_loan(a_loan(loan_id="L9", principal_minor=1_000_000))

    with pytest.raises(LoanNotRepayable) as refused:
        repayments.request("S1", "L9", 50_000, "k1")

    assert isinstance(refused.value, Conflict) and refused.value.code == "LOAN_NOT_REPAYABLE"


def test_nothing_is_not_an_amount(repayments: RepaymentService) -> None:
    with pytest.raises(InvalidInput) as refused:
        repayments.request("S1", "L1", 0, "k1")

    assert refused.value.field == "amount"


# -- applying ----------------------------------------------------------------------------------------


def test_money_pays_penalty_then_interest(repayments: RepaymentService, store: FakeLoanStore) -> None:
    repayment = requested(repayments, amount_minor=50_000)

    status = apply(repayments, repayment)

    assert status is RepaymentStatus.APPLIED
    assert store.repayments[repayment.repayment_id].allocation == Allocation(
        penalty=20_833, interest=29_167, principal=0, overpayment=0
    )


def test_money_beyond_the_payoff_is_overpayment_and_repays_the_loan(
    repayments: RepaymentService, store: FakeLoanStore
) -> None:
    repayment = requested(repayments, amount_minor=10_110_000)  # payoff 101,041.66

    apply(repayments, repayment)

    assert store.repayments[repayment.repayment_id].allocation == Allocation(
        penalty=20_833, interest=83_333, principal=10_000_000, overpayment=5_834
    )
    assert store.loans["L1"].loan.status is LoanStatus.REPAID
    assert store.exposure("S1", "CNY").principal_minor == 0


def test_an_applied_repayment_is_posted_once(repayments: RepaymentService, store: FakeLoanStore) -> None:
    repayment = requested(repayments, amount_minor=50_000)

    apply(repayments, repayment)

    assert list(store.postings) == [f"REPAYMENT#{repayment.repayment_id}"]


def test_a_redelivery_applies_once_and_collects_once(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    apply(repayments, repayment)
    loan_after_first = store.loans["L1"]

    status = apply(repayments, repayment, redelivered=True)

    assert status is RepaymentStatus.APPLIED
    assert store.loans["L1"] == loan_after_first
    assert bank.sent_ids() == [repayment.repayment_id]


def test_a_redelivery_after_a_lost_answer_asks_the_bank_and_does_not_collect_again(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    bank.lose_answer_to.add(repayment.repayment_id)
    with pytest.raises(BankUnavailable):
        apply(repayments, repayment)

    status = apply(repayments, repayment, redelivered=True)

    assert status is RepaymentStatus.APPLIED
    assert bank.sent_ids() == [repayment.repayment_id]
    assert bank.asked == [repayment.repayment_id]


def test_a_refused_collection_fails_the_repayment_and_leaves_the_loan(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    bank.reject(repayment.repayment_id, reason="INSUFFICIENT_FUNDS")
    loan_before = store.loans["L1"]

    status = apply(repayments, repayment)

    assert status is RepaymentStatus.FAILED
    assert store.repayments[repayment.repayment_id].failure_reason == "INSUFFICIENT_FUNDS"
    assert store.loans["L1"] == loan_before
    assert store.postings == {}


def test_money_already_received_is_applied_without_collection(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    sweep = Repayment(
        repayment_id="SWEEP1",
        loan_id="L1",
        supplier_id="S1",
        status=RepaymentStatus.PENDING,
        source=RepaymentSource.SETTLEMENT_SWEEP,
        amount_minor=50_000,
        currency="CNY",
    )

    status = apply(repayments, sweep)

    assert status is RepaymentStatus.APPLIED
    assert bank.sent == [] and bank.asked == []


def test_an_event_without_its_fields_is_malformed(repayments: RepaymentService) -> None:
    with pytest.raises(MalformedRequest) as refused:
        repayments.apply({"repayment_id": "RP1"}, redelivered=False)

    assert refused.value.code == "MALFORMED_EVENT"


# -- the bank's answers and value dates ------------------------------------------------------------


def test_a_collection_the_bank_holds_leaves_the_repayment_pending_and_the_loan_unchanged(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    bank.hold(repayment.repayment_id)
    loan_before = store.loans["L1"]

    status = apply(repayments, repayment)

    assert status is RepaymentStatus.PENDING
    assert store.repayments[repayment.repayment_id].status is RepaymentStatus.PENDING
    assert store.loans["L1"] == loan_before
    assert store.payments[repayment.repayment_id]["status"] == "SENT"
    assert store.payments[repayment.repayment_id]["account"] == SUPPLIER
    assert store.reports_of(repayment.repayment_id) == [(PaymentStatus.PENDING, "RECORDED")]


def test_money_collected_before_a_crash_is_applied_as_overpayment_when_the_loan_was_paid_off_since(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    bank.lose_answer_to.add(repayment.repayment_id)  # the bank took the money, the answer was lost
    with pytest.raises(BankUnavailable):
        apply(repayments, repayment)
    payoff = requested(repayments, amount_minor=10_110_000, key="k-payoff")
    apply(repayments, payoff)
    assert store.loans["L1"].loan.status is LoanStatus.REPAID

    status = apply(repayments, repayment, redelivered=True)

    applied = store.repayments[repayment.repayment_id]
    assert status is RepaymentStatus.APPLIED
    assert applied.allocation == Allocation(penalty=0, interest=0, principal=0, overpayment=50_000)
    assert bank.sent_ids() == [repayment.repayment_id, payoff.repayment_id]


def test_a_redelivered_collection_the_bank_never_received_is_not_sent_for_a_paid_off_loan(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    repayment = requested(repayments, amount_minor=50_000)
    bank.unreachable = True
    with pytest.raises(BankUnavailable):
        apply(repayments, repayment)
    bank.unreachable = False
    apply(repayments, requested(repayments, amount_minor=10_110_000, key="k-payoff"))

    status = apply(repayments, repayment, redelivered=True)

    assert status is RepaymentStatus.FAILED
    assert store.repayments[repayment.repayment_id].failure_reason == "LOAN_NOT_REPAYABLE"
    assert store.payments[repayment.repayment_id]["status"] == "REJECTED"  # never sent later
    assert repayment.repayment_id not in bank.sent_ids()


def test_a_collection_takes_effect_on_the_banks_settlement_date(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.value_date = date(2026, 1, 11)  # settled then, processed on 2026-02-05
    repayment = requested(repayments, amount_minor=4_000_000)

    apply(repayments, repayment)

    applied = store.repayments[repayment.repayment_id]
    assert applied.value_date == date(2026, 1, 11)
    assert applied.allocation == Allocation(penalty=0, interest=27_778, principal=3_972_222, overpayment=0)


def test_a_collection_never_takes_effect_before_a_repayment_already_applied(
    repayments: RepaymentService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.value_date = date(2026, 1, 20)
    first = requested(repayments, amount_minor=100_000, key="k-first")
    apply(repayments, first)
    bank.value_date = date(2026, 1, 11)  # a late answer about money that moved earlier
    later = requested(repayments, amount_minor=100_000, key="k-later")

    apply(repayments, later)

    assert store.repayments[later.repayment_id].value_date == date(2026, 1, 20)


def test_money_already_received_takes_effect_on_the_day_it_moved(
    repayments: RepaymentService, store: FakeLoanStore
) -> None:
    credit = Repayment(
        repayment_id="BC1",
        loan_id="L1",
        supplier_id="S1",
        status=RepaymentStatus.PENDING,
        source=RepaymentSource.BANK_CREDIT,
        amount_minor=50_000,
        currency="CNY",
        value_date=date(2026, 1, 11),  # the booking date
    )

    apply(repayments, credit)

    assert store.repayments["BC1"].value_date == date(2026, 1, 11)
