"""Paying out an approved loan (PayoutService) on the in-memory store and bank."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scf.clock import FixedClock
from scf.domain.loan import Loan, LoanStatus
from scf.service.banks import BankConfig, BankDirectory
from scf.service.disbursement import PayoutService
from scf.service.loan_store import LoanNotFound, SupplierAccountMissing
from scf.service.payments import Account, BankUnavailable, PaymentStatus
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 1, tzinfo=UTC)
LENDER = Account(bank_code="LENDERBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000099998888", name="Supplier Ltd")


def approved_loan(*, loan_id: str = "L1", principal_minor: int = 10_000_000) -> Loan:
    """Approved before accounts were recorded on loans (see the tests that record one)."""
    return a_loan(loan_id=loan_id, principal_minor=principal_minor, term_days=45)


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    store.add_loan(approved_loan())
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=TODAY)


@pytest.fixture
def payouts(store: FakeLoanStore, bank: FakeBankGateway) -> PayoutService:
    clock = FixedClock(TODAY, NOW)
    return PayoutService(loans=store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=clock)


def test_a_settled_payout_activates_the_loan_from_the_banks_value_date(
    payouts: PayoutService, store: FakeLoanStore
) -> None:
    status = payouts.disburse("L1")

    loan = store.loans["L1"].loan
    assert status is LoanStatus.ACTIVE
    assert (loan.status, loan.value_date, loan.maturity_date) == (
        LoanStatus.ACTIVE,
        TODAY,
        date(2026, 4, 16),
    )


def test_a_settled_payout_writes_the_disbursement_posting(
    payouts: PayoutService, store: FakeLoanStore
) -> None:
    payouts.disburse("L1")

    assert list(store.postings) == ["DISBURSEMENT#PAYL1"]
    assert store.payments["PAYL1"]["status"] == "SETTLED"


def test_the_payout_goes_from_the_lender_to_the_supplier(
    payouts: PayoutService, bank: FakeBankGateway
) -> None:
    payouts.disburse("L1")

    (order,) = bank.sent
    assert (order.payment_id, order.debtor, order.creditor, order.amount_minor) == (
        "PAYL1",
        LENDER,
        SUPPLIER,
        10_000_000,
    )


def test_a_rejected_payout_fails_the_loan_and_releases_the_reservation(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.reject("PAYL1")

    status = payouts.disburse("L1")

    assert status is LoanStatus.FAILED
    assert store.exposure("S1", "CNY").principal_minor == 0
    assert store.postings == {}


def test_a_lost_answer_leaves_the_loan_disbursing(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.lose_answer_to.add("PAYL1")

    with pytest.raises(BankUnavailable):
        payouts.disburse("L1")

    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING


def test_a_redelivery_asks_the_bank_first_and_never_pays_twice(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.lose_answer_to.add("PAYL1")
    with pytest.raises(BankUnavailable):
        payouts.disburse("L1")

    status = payouts.disburse("L1")

    assert status is LoanStatus.ACTIVE
    assert bank.sent_ids() == ["PAYL1"]
    assert bank.asked == ["PAYL1"]
    assert list(store.postings) == ["DISBURSEMENT#PAYL1"]


def test_a_loan_already_active_is_left_alone(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    payouts.disburse("L1")
    version = store.loans["L1"].version

    status = payouts.disburse("L1")

    assert status is LoanStatus.ACTIVE
    assert store.loans["L1"].version == version
    assert bank.sent_ids() == ["PAYL1"] and bank.asked == []


def test_an_unknown_loan_is_not_found(payouts: PayoutService) -> None:
    with pytest.raises(LoanNotFound, match="loan NOPE was not found"):
        payouts.disburse("NOPE")


def test_a_supplier_without_a_bank_account_is_not_paid(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    del store.accounts["S1"]

    with pytest.raises(SupplierAccountMissing):
        payouts.disburse("L1")

    assert store.loans["L1"].loan.status is LoanStatus.APPROVED
    assert bank.sent == []


def test_a_payout_the_bank_holds_leaves_the_loan_disbursing_with_its_payment_recorded(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.hold("PAYL1")

    status = payouts.disburse("L1")

    assert status is LoanStatus.DISBURSING
    assert store.loans["L1"].loan.status is LoanStatus.DISBURSING
    assert (store.payments["PAYL1"]["status"], store.payments["PAYL1"]["bank_code"]) == ("SENT", "SIMBANK")
    assert store.reports_of("PAYL1") == [(PaymentStatus.PENDING, "RECORDED")]
    assert store.postings == {}
    assert store.exposure("S1", "CNY").principal_minor == 10_000_000


def test_a_redelivered_payout_the_bank_holds_is_asked_about_not_sent_again(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.hold("PAYL1")
    payouts.disburse("L1")

    status = payouts.disburse("L1")

    assert status is LoanStatus.DISBURSING
    assert bank.sent_ids() == ["PAYL1"] and bank.asked == ["PAYL1"]


def test_the_payout_goes_to_the_account_recorded_at_approval_not_to_changed_master_data(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    approved_then = Account(bank_code="SIMBANK", account_number="6217000011110000", name="Supplier Ltd")
    store.add_loan(approved_loan(loan_id="L2"), payout_account=approved_then)
    store.add_supplier("S1", SUPPLIER)  # the master data changed after the approval
    payouts = PayoutService(
        loans=store, gateways=FakeGateways(bank=bank), clock=FixedClock(TODAY, NOW), lender=LENDER
    )

    payouts.disburse("L2")

    assert [order.creditor for order in bank.sent] == [approved_then]
    assert store.payments["PAYL2"]["account"] == approved_then


def test_a_loan_approved_before_accounts_were_recorded_pays_the_suppliers_account(
    payouts: PayoutService, store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    assert store.loans["L1"].payout_account is None

    payouts.disburse("L1")

    assert [order.creditor for order in bank.sent] == [SUPPLIER]
    assert store.payments["PAYL1"]["account"] == SUPPLIER


def test_with_a_bank_directory_an_on_us_payout_goes_from_the_lenders_account_at_that_bank(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    at_simbank = Account(bank_code="SIMBANK", account_number="6212000033334444", name="SCF Lender")
    banks = BankDirectory(
        default_bank="LENDERBANK",
        banks={
            "LENDERBANK": BankConfig("LENDERBANK", "simulated", (LENDER,)),
            "SIMBANK": BankConfig("SIMBANK", "iso20022-file", (at_simbank,)),
        },
    )
    gateways = FakeGateways(bank=bank)
    payouts = PayoutService(loans=store, gateways=gateways, clock=FixedClock(TODAY, NOW), banks=banks)

    payouts.disburse("L1")

    assert [order.debtor for order in bank.sent] == [at_simbank]
    assert gateways.asked_for == ["SIMBANK"]


def test_with_a_bank_directory_a_payout_to_another_bank_goes_through_the_default_bank(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    banks = BankDirectory(
        default_bank="LENDERBANK", banks={"LENDERBANK": BankConfig("LENDERBANK", "simulated", (LENDER,))}
    )
    gateways = FakeGateways(bank=bank)
    payouts = PayoutService(loans=store, gateways=gateways, clock=FixedClock(TODAY, NOW), banks=banks)

    payouts.disburse("L1")

    assert [order.debtor for order in bank.sent] == [LENDER]
    assert gateways.asked_for == ["LENDERBANK"]
    assert store.payments["PAYL1"]["bank_code"] == "LENDERBANK"
