"""The daily REFUND step (RefundService, contract sections 3 and 10) on the in-memory store and bank:
one refund per supplier and currency a business day, to its verified account, idempotent by its
business key; the bank's answer settles it (refunded, postings, RefundPaid) or makes it owed again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scf.clock import FixedClock
from scf.domain.ids import REFUND_PAYMENT_ID, refund_payment_id
from scf.domain.ledger import balances
from scf.domain.loan import LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.policy import DEFAULT_POLICY
from scf.errors import InvalidInput
from scf.events import REFUND_PAID, TARGET_DOMAIN_EVENTS
from scf.service.lending_day import Step
from scf.service.loans import LoanService
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentReport, PaymentStatus
from scf.service.refunds import RefundService
from scf.service.repayment import apply_to_loan
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
DAY = date(2026, 1, 11)
NEXT_DAY = DAY + timedelta(days=1)
LENDER = Account(bank_code="LENDERBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000011113333", name="Supplier Ltd")


def overpay(store: FakeLoanStore, loan_id: str, excess_minor: int, *, on: date = DAY) -> None:
    """A bank credit paying the loan off with `excess_minor` more (the repayment path)."""
    record = store.get_loan(loan_id)
    assert record is not None
    amount = record.loan.position(on).payoff + excess_minor
    repayment = Repayment(
        repayment_id=f"RB-{loan_id}-{amount}",
        loan_id=loan_id,
        supplier_id=record.loan.supplier_id,
        status=RepaymentStatus.PENDING,
        source=RepaymentSource.BANK_CREDIT,
        amount_minor=amount,
        currency=record.loan.currency,
    )
    apply_to_loan(store, record, repayment, moved_on=on, stored=False, policy=DEFAULT_POLICY, now="t")


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    for loan_id, currency in (("L1", "CNY"), ("L2", "CNY"), ("L3", "USD")):
        store.add_loan(a_loan(loan_id=loan_id, currency=currency, value_date=VALUE))
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=DAY)


def refunds(store: FakeLoanStore, bank: FakeBankGateway, today: date = DAY) -> RefundService:
    clock = FixedClock(today, datetime.combine(today, datetime.min.time(), tzinfo=UTC))
    return RefundService(loans=store, gateways=FakeGateways(bank=bank), clock=clock, lender=LENDER)


def loan_refund(store: FakeLoanStore, loan_id: str) -> tuple[int, int, int]:
    loan = store.loans[loan_id].loan
    return loan.overpayment_minor, loan.refunded_minor, loan.refund_pending_minor


def test_what_a_supplier_is_owed_goes_back_as_one_refund_per_currency(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    overpay(store, "L2", 250)
    overpay(store, "L3", 100)

    result = refunds(store, bank).run(DAY)

    assert (result.step, result.loans_read, result.written) == (Step.REFUND, 3, 2)
    cny = refund_payment_id("S1", "CNY", DAY.isoformat())
    usd = refund_payment_id("S1", "USD", DAY.isoformat())
    assert sorted(bank.sent_ids()) == sorted([cny, usd])
    sent = {order.payment_id: order for order in bank.sent}
    assert (sent[cny].amount_minor, sent[cny].creditor, sent[cny].debtor) == (750, SUPPLIER, LENDER)
    assert sent[usd].amount_minor == 100
    assert REFUND_PAYMENT_ID.fullmatch(cny)
    assert loan_refund(store, "L1") == (500, 500, 0) and loan_refund(store, "L2") == (250, 250, 0)
    assert store.loans_owed_refunds() == []


def test_a_settled_refund_posts_per_loan_and_announces_refund_paid(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    overpay(store, "L2", 250)

    refunds(store, bank).run(DAY)

    refund_id = refund_payment_id("S1", "CNY", DAY.isoformat())
    for loan_id in ("L1", "L2"):
        mine = [p for pid, p in store.postings.items() if store.posting_loans[pid] == loan_id]
        assert balances(mine)["supplier_overpayment"] == 0  # owed, then paid back: nothing left
    event = store.outbox[f"{REFUND_PAID}-{refund_id}"]
    assert event.target == TARGET_DOMAIN_EVENTS
    assert event.payload == {
        "refund_id": refund_id,
        "kind": "OVERPAYMENT",
        "supplier_id": "S1",
        "item_id": None,
        "currency": "CNY",
        "amount": "7.50",
        "business_date": "2026-01-11",
        "value_date": "2026-01-11",
        "loans": [{"loan_id": "L1", "amount": "5.00"}, {"loan_id": "L2", "amount": "2.50"}],
    }
    assert SUPPLIER.account_number not in str(event.payload)


def test_running_the_step_twice_for_a_day_pays_once(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    overpay(store, "L1", 500)
    refunds(store, bank).run(DAY)
    overpay(store, "L2", 300)  # owed after today's refund: it waits for the next business day

    again = refunds(store, bank).run(DAY)

    assert again.written == 0 and len(bank.sent) == 1
    assert loan_refund(store, "L2") == (300, 0, 0)
    refunds(store, bank, NEXT_DAY).run(NEXT_DAY)
    assert loan_refund(store, "L2") == (300, 300, 0) and len(bank.sent) == 2


def test_an_unverified_account_gets_no_refund_and_the_money_stays_owed(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    store.unverified.add("S1")

    result = refunds(store, bank).run(DAY)

    assert result.written == 0 and bank.sent == []
    assert loan_refund(store, "L1") == (500, 0, 0) and len(store.loans_owed_refunds()) == 1


def test_a_refund_the_bank_holds_is_closed_by_its_report_and_never_paid_again(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    refund_id = refund_payment_id("S1", "CNY", DAY.isoformat())
    bank.hold(refund_id)
    refunds(store, bank).run(DAY)
    assert loan_refund(store, "L1") == (500, 0, 500)

    refunds(store, bank, NEXT_DAY).run(NEXT_DAY)  # held by the bank: nothing new to send
    assert bank.sent_ids() == [refund_id]

    clock = FixedClock(NEXT_DAY, datetime(2026, 1, 12, tzinfo=UTC))
    settled = PaymentReport(refund_id, "SIMBANK", PaymentStatus.SETTLED, "pain.002", value_date=NEXT_DAY)
    assert PaymentOutcomeService(loans=store, clock=clock).apply(settled) == "SETTLED"
    assert loan_refund(store, "L1") == (500, 500, 0)
    assert store.outbox[f"{REFUND_PAID}-{refund_id}"].payload["value_date"] == "2026-01-12"


def test_a_rejected_refund_is_owed_again_and_paid_the_next_business_day(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    first = refund_payment_id("S1", "CNY", DAY.isoformat())
    bank.reject(first, "AC04")

    refunds(store, bank).run(DAY)
    assert loan_refund(store, "L1") == (500, 0, 0)
    assert store.payments[first]["status"] == "REJECTED" and not any(
        e.startswith(REFUND_PAID) for e in store.outbox
    )
    refunds(store, bank).run(DAY)  # the same day: today's refund was tried
    refunds(store, bank, NEXT_DAY).run(NEXT_DAY)

    assert bank.sent_ids() == [first, refund_payment_id("S1", "CNY", NEXT_DAY.isoformat())]
    assert loan_refund(store, "L1") == (500, 500, 0)


def test_a_repaid_loan_paid_again_is_all_overpayment_and_refunded(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 0)  # exactly the payoff: nothing owed
    assert store.loans["L1"].loan.status is LoanStatus.REPAID and store.loans_owed_refunds() == []
    overpay(store, "L1", 900)  # money for a loan that owes nothing

    refunds(store, bank).run(DAY)

    assert loan_refund(store, "L1") == (900, 900, 0)


def test_a_day_not_begun_is_refused(store: FakeLoanStore, bank: FakeBankGateway) -> None:
    with pytest.raises(InvalidInput):
        refunds(store, bank).run(NEXT_DAY)


def test_the_loan_shows_what_it_received_in_excess_and_what_was_paid_back(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    overpay(store, "L1", 500)
    view = LoanService(loans=store, clock=FixedClock(DAY)).get("S1", "L1")
    assert (view["overpayment"], view["refunded"], view["refund_pending"]) == ("5.00", "0.00", "0.00")

    refunds(store, bank).run(DAY)

    view = LoanService(loans=store, clock=FixedClock(DAY)).get("S1", "L1")
    assert (view["overpayment"], view["refunded"], view["refund_pending"]) == ("5.00", "5.00", "0.00")
