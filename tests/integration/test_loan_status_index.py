"""gsi2 (loans by stored status and maturity, docs/access-patterns.md "Loans by status") follows
every write that changes a loan's status or maturity: approval, disbursement start, completion and
failure, OVERDUE, extension, REPAID."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from scf.adapters.dynamodb.credit_repository import _loan_item
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import ExposureItem, LoanItem, SupplierItem
from scf.clock import FixedClock
from scf.domain.ledger import extension_posting
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.service.credit import NewLoan
from scf.service.disbursement import PayoutService
from scf.service.lending_day import LendingDayService, Step
from scf.service.payments import Account
from scf.service.repayment import RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways

pytestmark = pytest.mark.integration

TODAY = date(2026, 1, 1)
MATURITY = TODAY + timedelta(days=30)
NOW = datetime(2026, 1, 1, 1, tzinfo=UTC)
LENDER = Account(bank_code="LENDERBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000099998888", name="Supplier Ltd")


def index_of(loan_id: str) -> tuple[str | None, str | None]:
    item = LoanItem.get(*LoanItem.key(loan_id), consistent_read=True)
    return item.gsi2pk, item.gsi2sk


def approve(loan_id: str) -> None:
    """The loan as the decision's transaction writes it (its item; the reservation beside it)."""
    new = NewLoan(
        loan_id=loan_id,
        supplier_id="S1",
        application_id=f"APP-{loan_id}",
        currency="CNY",
        principal_minor=10_000_000,
        annual_rate="0.10",
        penalty_multiplier="1.5",
        day_count="ACT/360",
        term_days=30,
        created_at=NOW.isoformat(),
        payout_account=SUPPLIER,
    )
    _loan_item(new).save()
    ExposureItem(*ExposureItem.key("S1", "CNY")).update(
        actions=[
            ExposureItem.principal_minor.set((ExposureItem.principal_minor | 0) + 10_000_000),
            ExposureItem.overdue_loans.set(ExposureItem.overdue_loans | 0),
        ]
    )


@pytest.fixture
def store(tables: Any) -> DynamoLoanStore:
    SupplierItem(
        *SupplierItem.key("S1"),
        supplier_id="S1",
        name="Supplier S1",
        status="ACTIVE",
        bank_code=SUPPLIER.bank_code,
        account_number=SUPPLIER.account_number,
        account_name=SUPPLIER.name,
        account_verified=True,
        updated_at=NOW.isoformat(),
    ).save()
    return DynamoLoanStore()


def test_every_status_and_maturity_change_moves_the_loan_in_the_index(store: DynamoLoanStore) -> None:
    for loan_id in ("L1", "L2", "L3"):
        approve(loan_id)
    assert index_of("L1") == ("LOANS#APPROVED", "0000-00-00#L1")

    bank = FakeBankGateway(value_date=TODAY)
    bank.hold("PAYL2")
    bank.reject("PAYL3")
    payouts = PayoutService(
        loans=store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=FixedClock(TODAY, NOW)
    )
    assert [payouts.disburse(loan_id) for loan_id in ("L1", "L2", "L3")] == [
        LoanStatus.ACTIVE,
        LoanStatus.DISBURSING,
        LoanStatus.FAILED,
    ]
    assert index_of("L1") == ("LOANS#ACTIVE", f"{MATURITY}#L1")
    assert index_of("L2") == ("LOANS#DISBURSING", "0000-00-00#L2")
    assert index_of("L3") == ("LOANS#FAILED", "0000-00-00#L3")

    LendingDayService(loans=store, clock=FixedClock(MATURITY, NOW)).run(Step.OVERDUE, MATURITY)
    assert index_of("L1") == ("LOANS#OVERDUE", f"{MATURITY}#L1")

    on = MATURITY + timedelta(days=1)
    overdue = store.get_loan("L1")
    assert overdue is not None
    outcome = overdue.loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
    store.extend(
        overdue,
        outcome.loan,
        reclassification=extension_posting("L1", outcome.penalty_reclassified)
        if outcome.penalty_reclassified
        else None,
        overdue_delta=outcome.overdue_delta,
        request_hash="h",
        now=NOW.isoformat(),
    )
    new_maturity = MATURITY + timedelta(days=30)
    assert index_of("L1") == ("LOANS#ACTIVE", f"{new_maturity}#L1")

    repayments = RepaymentService(
        loans=store,
        gateways=FakeGateways(bank=FakeBankGateway(value_date=on)),
        lender=LENDER,
        clock=FixedClock(on, NOW),
    )
    active = store.get_loan("L1")
    assert active is not None
    pending = repayments.request("S1", "L1", active.loan.position(on).payoff, "k1")
    assert repayments.apply(pending.requested_event().payload, redelivered=False) is RepaymentStatus.APPLIED
    assert index_of("L1") == ("LOANS#REPAID", f"{new_maturity}#L1")


def test_the_index_is_queried_not_the_table(store: DynamoLoanStore) -> None:
    """The job's reads are Query calls on gsi2: a loan without the index attributes is not seen."""
    approve("L1")
    item = LoanItem.get(*LoanItem.key("L1"), consistent_read=True)
    item.status, item.maturity_date, item.gsi2pk, item.gsi2sk = "ACTIVE", MATURITY.isoformat(), None, None
    item.save()  # an ACTIVE loan as written before the index existed
    assert store.active_loans_maturing_by(MATURITY) == []
