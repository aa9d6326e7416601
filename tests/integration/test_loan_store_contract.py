"""The same scenarios against FakeLoanStore and DynamoLoanStore (moto): the fake keeps the adapter's
conditions (a status moves once, a posting and a payment order are written once, exposure never
goes below zero, a stale version is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import pytest

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import (
    ExposureItem,
    PostingItem,
    SupplierItem,
    SupplierOverdueItem,
)
from scf.adapters.dynamodb.transactions import BadPageToken, connection, table_name
from scf.clock import FixedClock
from scf.domain.ids import refund_payment_id
from scf.domain.ledger import extension_posting, repayment_posting
from scf.domain.loan import Loan, LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.policy import DEFAULT_POLICY
from scf.events import REFUND_PAID
from scf.service.disbursement import PayoutService
from scf.service.lending_day import LendingDayService, Step
from scf.service.loan_store import LoanStore, RefundOrder, StaleWrite
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentReport, PaymentStatus
from scf.service.refunds import RefundService
from scf.service.repayment import RepaymentService, apply_to_loan
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore
from tests.support import loan_item

pytestmark = pytest.mark.integration

TODAY = date(2026, 1, 1)
NOW = datetime(2026, 1, 1, 1, tzinfo=UTC)
LENDER = Account(bank_code="LENDERBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000099998888", name="Supplier Ltd")


def approved_loan(*, loan_id: str = "L1", principal_minor: int = 10_000_000) -> Loan:
    return Loan(
        loan_id=loan_id,
        supplier_id="S1",
        status=LoanStatus.APPROVED,
        currency="CNY",
        principal_minor=principal_minor,
        outstanding_principal_minor=principal_minor,
        annual_rate=Decimal("0.10"),
        term_days=30,
    )


class World(Protocol):
    @property
    def store(self) -> LoanStore: ...

    def add_approved_loan(self, loan: Loan, *, reserved: int, created_at: str) -> None: ...

    def exposure_principal(self) -> int: ...

    def posting_ids(self, loan_id: str) -> list[str]: ...

    def overdue_count(self, currency: str = "CNY") -> int: ...

    def overdue_in_every_currency(self) -> int: ...

    def outbox_ids(self) -> set[str]: ...


@dataclass
class FakeWorld:
    store: FakeLoanStore

    def add_approved_loan(self, loan: Loan, *, reserved: int, created_at: str) -> None:
        self.store.add_loan(loan, created_at=created_at)
        self.store.exposure("S1", "CNY").principal_minor += reserved - loan.principal_minor

    def exposure_principal(self) -> int:
        return self.store.exposure("S1", "CNY").principal_minor

    def posting_ids(self, loan_id: str) -> list[str]:
        return sorted(p for p in self.store.postings if self.store.posting_loans[p] == loan_id)

    def overdue_count(self, currency: str = "CNY") -> int:
        return self.store.exposure("S1", currency).overdue_loans

    def overdue_in_every_currency(self) -> int:
        return self.store.every_currency["S1"].overdue_loans

    def outbox_ids(self) -> set[str]:
        return set(self.store.outbox)


@dataclass
class DynamoWorld:
    store: DynamoLoanStore

    def add_approved_loan(self, loan: Loan, *, reserved: int, created_at: str) -> None:
        loan_item(loan, created_at=created_at, counted=False).save()  # as stored before gsi2 and the counters
        ExposureItem(*ExposureItem.key(loan.supplier_id, loan.currency)).update(
            actions=[
                ExposureItem.principal_minor.set((ExposureItem.principal_minor | 0) + reserved),
                ExposureItem.overdue_loans.set(ExposureItem.overdue_loans | 0),
                ExposureItem.supplier_id.set(loan.supplier_id),
                ExposureItem.currency.set(loan.currency),
            ]
        )

    def exposure_principal(self) -> int:
        return int(ExposureItem.get(*ExposureItem.key("S1", "CNY"), consistent_read=True).principal_minor)

    def posting_ids(self, loan_id: str) -> list[str]:
        return sorted(
            item.posting_id for item in PostingItem.query(f"LEDGER#{loan_id}", consistent_read=True)
        )

    def overdue_count(self, currency: str = "CNY") -> int:
        item = ExposureItem.get(*ExposureItem.key("S1", currency), consistent_read=True)
        return int(item.overdue_loans or 0)

    def overdue_in_every_currency(self) -> int:
        item = SupplierOverdueItem.get(*SupplierOverdueItem.key("S1"), consistent_read=True)
        return int(item.overdue_loans or 0)

    def outbox_ids(self) -> set[str]:
        client = connection().client
        items = client.scan(TableName=table_name())["Items"]  # a test's look at the whole table
        return {i["pk"]["S"].removeprefix("OUTBOX#") for i in items if i["pk"]["S"].startswith("OUTBOX#")}


@pytest.fixture(params=["fake", "dynamo"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "fake":
        fake = FakeLoanStore()
        fake.add_supplier("S1", SUPPLIER)
        yield FakeWorld(fake)
        return
    request.getfixturevalue("tables")
    SupplierItem(
        *SupplierItem.key("S1"),
        supplier_id="S1",
        name="Supplier S1",
        status="ACTIVE",
        bank_code=SUPPLIER.bank_code,
        account_number=SUPPLIER.account_number,
        account_name=SUPPLIER.name,
        account_verified=True,
        updated_at="2026-01-01T00:00:00+00:00",
    ).save()
    yield DynamoWorld(DynamoLoanStore())


def with_approved_loan(
    world: World,
    *,
    loan_id: str = "L1",
    reserved: int = 10_000_000,
    created_at: str = "2026-01-01T00:00:00+00:00",
) -> Loan:
    approved = approved_loan(loan_id=loan_id)
    world.add_approved_loan(approved, reserved=reserved, created_at=created_at)
    return approved


def payouts(world: World, bank: FakeBankGateway) -> PayoutService:
    return PayoutService(
        loans=world.store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=FixedClock(TODAY, NOW)
    )


def test_a_loan_leaves_approved_once(world: World) -> None:
    with_approved_loan(world)
    record = world.store.get_loan("L1")
    assert record is not None
    disbursing = record.loan.start_disbursement()
    world.store.start_disbursement(record, disbursing, "PAYL1", "SIMBANK", NOW.isoformat(), account=SUPPLIER)

    with pytest.raises(StaleWrite):
        world.store.start_disbursement(
            record, disbursing, "PAYL1", "SIMBANK", NOW.isoformat(), account=SUPPLIER
        )


def test_a_settled_payout_is_posted_once(world: World) -> None:
    with_approved_loan(world)

    status = payouts(world, FakeBankGateway(value_date=TODAY)).disburse("L1")

    assert status is LoanStatus.ACTIVE
    assert world.posting_ids("L1") == ["DISBURSEMENT#PAYL1"]
    assert world.exposure_principal() == 10_000_000


def test_a_rejected_payout_releases_the_reservation(world: World) -> None:
    with_approved_loan(world)
    bank = FakeBankGateway(value_date=TODAY)
    bank.reject("PAYL1")

    status = payouts(world, bank).disburse("L1")

    assert status is LoanStatus.FAILED
    assert world.exposure_principal() == 0
    assert world.posting_ids("L1") == []


def test_exposure_never_goes_below_zero(world: World) -> None:
    with_approved_loan(world, reserved=5_000_000)  # less than the principal: the release must refuse
    record = world.store.get_loan("L1")
    assert record is not None
    disbursing = record.loan.start_disbursement()
    world.store.start_disbursement(record, disbursing, "PAYL1", "SIMBANK", NOW.isoformat(), account=SUPPLIER)
    current = world.store.get_loan("L1")
    assert current is not None
    rejected = PaymentReport("PAYL1", "SIMBANK", PaymentStatus.REJECTED, "pain.002", reason="AC04")

    with pytest.raises(StaleWrite):
        world.store.fail_disbursement(current, current.loan.fail(), rejected, NOW.isoformat())

    after = world.store.get_loan("L1")
    assert after is not None and after.loan.status is LoanStatus.DISBURSING
    assert world.exposure_principal() == 5_000_000


def test_a_repayment_is_applied_once(world: World) -> None:
    with_approved_loan(world)
    bank = FakeBankGateway(value_date=TODAY)
    payouts(world, bank).disburse("L1")
    repayments = RepaymentService(
        loans=world.store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=FixedClock(TODAY, NOW)
    )
    pending = repayments.request("S1", "L1", 50_000, "k1")
    before = world.store.get_loan("L1")
    assert before is not None
    repayments.apply(pending.requested_event().payload, redelivered=False)
    outcome = before.loan.repay(pending.amount_minor, TODAY)
    applied = replace(
        pending, status=RepaymentStatus.APPLIED, allocation=outcome.allocation, value_date=TODAY
    )

    with pytest.raises(StaleWrite):
        world.store.apply_repayment(
            before,
            outcome.loan,
            applied,
            stored=True,
            posting=repayment_posting(pending.repayment_id, outcome.allocation),
            principal_repaid=outcome.allocation.principal,
            overdue_delta=outcome.overdue_delta,
            now=NOW.isoformat(),
        )

    assert world.posting_ids("L1") == sorted(["DISBURSEMENT#PAYL1", f"REPAYMENT#{pending.repayment_id}"])


def test_a_repayment_fails_once(world: World) -> None:
    with_approved_loan(world)
    bank = FakeBankGateway(value_date=TODAY)
    payouts(world, bank).disburse("L1")
    repayments = RepaymentService(
        loans=world.store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=FixedClock(TODAY, NOW)
    )
    pending = repayments.request("S1", "L1", 50_000, "k1")
    world.store.fail_repayment(pending, "INSUFFICIENT_FUNDS", NOW.isoformat())

    with pytest.raises(StaleWrite):
        world.store.fail_repayment(pending, "AGAIN", NOW.isoformat())

    stored = world.store.get_repayment(pending.repayment_id)
    assert stored is not None and stored.failure_reason == "INSUFFICIENT_FUNDS"


def test_a_loan_not_paid_out_takes_no_repayment_request(world: World) -> None:
    with_approved_loan(world)
    repayment = Repayment(
        repayment_id="RP1",
        loan_id="L1",
        supplier_id="S1",
        status=RepaymentStatus.PENDING,
        source=RepaymentSource.SUPPLIER,
        amount_minor=50_000,
        currency="CNY",
    )

    with pytest.raises(StaleWrite):
        world.store.request_repayment(repayment, repayment.requested_event(), NOW)

    assert world.store.get_repayment("RP1") is None


def test_loans_come_newest_first_in_pages_of_their_own_list(world: World) -> None:
    for day, loan_id in enumerate(("L1", "L2", "L3"), start=1):
        with_approved_loan(world, loan_id=loan_id, created_at=f"2026-01-0{day}T00:00:00+00:00")

    first = world.store.loans_of("S1", limit=2, next_token=None)
    rest = world.store.loans_of("S1", limit=2, next_token=first.next_token)

    assert [r.loan.loan_id for r in first.items + rest.items] == ["L3", "L2", "L1"]
    with pytest.raises(BadPageToken):
        world.store.loans_of("S2", limit=2, next_token=first.next_token)


# -- bank answers: the payment lifecycle and PaymentOutcomeService --------------------------------------


def held_payout(world: World) -> FakeBankGateway:
    """L1 approved and its payout held by the bank (PENDING): the loan DISBURSING."""
    with_approved_loan(world)
    bank = FakeBankGateway(value_date=TODAY)
    bank.hold("PAYL1")
    assert payouts(world, bank).disburse("L1") is LoanStatus.DISBURSING
    return bank


def outcomes(world: World) -> PaymentOutcomeService:
    return PaymentOutcomeService(loans=world.store, clock=FixedClock(TODAY, NOW))


def bank_says(status: PaymentStatus, payment_id: str = "PAYL1", **fields: Any) -> PaymentReport:
    return PaymentReport(payment_id, "SIMBANK", status, "pain.002", **fields)


def effects(world: World, payment_id: str) -> list[tuple[str, str]]:
    payment = world.store.get_payment(payment_id)
    assert payment is not None
    return [(stored.report.status.value, stored.effect) for stored in payment.reports]


def test_a_held_payout_keeps_its_bank_account_and_the_banks_answer(world: World) -> None:
    held_payout(world)

    payment = world.store.get_payment("PAYL1")

    assert payment is not None
    assert (payment.status, payment.bank_code, payment.account) == ("SENT", "SIMBANK", SUPPLIER)
    assert effects(world, "PAYL1") == [("PENDING", "RECORDED")]


def test_a_settlement_report_activates_the_loan_once(world: World) -> None:
    held_payout(world)

    first = outcomes(world).apply(bank_says(PaymentStatus.SETTLED, value_date=date(2026, 1, 2)))
    again = outcomes(world).apply(bank_says(PaymentStatus.SETTLED, value_date=date(2026, 1, 2)))

    record = world.store.get_loan("L1")
    assert (first, again) == ("SETTLED", "RECORDED")
    assert record is not None and record.loan.value_date == date(2026, 1, 2)
    assert world.posting_ids("L1") == ["DISBURSEMENT#PAYL1"]
    assert effects(world, "PAYL1") == [
        ("PENDING", "RECORDED"),
        ("SETTLED", "SETTLED"),
        ("SETTLED", "RECORDED"),
    ]


def test_a_rejection_report_fails_the_loan_and_releases_its_reservation(world: World) -> None:
    held_payout(world)

    effect = outcomes(world).apply(bank_says(PaymentStatus.REJECTED, reason="AC01"))

    record = world.store.get_loan("L1")
    payment = world.store.get_payment("PAYL1")
    assert effect == "REJECTED"
    assert record is not None and record.loan.status is LoanStatus.FAILED
    assert payment is not None and payment.status == "REJECTED"
    assert world.exposure_principal() == 0


def test_a_return_after_settlement_changes_nothing_on_the_loan(world: World) -> None:
    held_payout(world)
    outcomes(world).apply(bank_says(PaymentStatus.SETTLED, value_date=TODAY))

    effect = outcomes(world).apply(bank_says(PaymentStatus.REJECTED, reason="AC04"))

    record = world.store.get_loan("L1")
    assert effect == "PAYOUT_RETURNED"
    assert record is not None and record.loan.status is LoanStatus.ACTIVE
    assert world.exposure_principal() == 10_000_000


def test_a_payments_final_outcome_is_written_once(world: World) -> None:
    held_payout(world)
    record = world.store.get_loan("L1")
    assert record is not None
    outcomes(world).apply(bank_says(PaymentStatus.SETTLED, value_date=TODAY))
    settled = bank_says(PaymentStatus.SETTLED, value_date=TODAY)

    with pytest.raises(StaleWrite):
        world.store.fail_disbursement(record, record.loan.fail(), settled, NOW.isoformat())


def test_reports_from_another_bank_or_about_no_payment_change_nothing(world: World) -> None:
    held_payout(world)
    elsewhere = PaymentReport("PAYL1", "OTHERBANK", PaymentStatus.REJECTED, "pain.002", reason="AC01")

    assert outcomes(world).apply(elsewhere) == "NOT_SENDERS_PAYMENT"
    assert outcomes(world).apply(bank_says(PaymentStatus.SETTLED, "PAYNONE")) == "UNKNOWN_PAYMENT"
    assert effects(world, "PAYL1") == [("PENDING", "RECORDED")]


def held_collection(world: World) -> str:
    """L1 paid out on TODAY; a collection of 500.00 held by the bank: the repayment PENDING."""
    with_approved_loan(world)
    bank = FakeBankGateway(value_date=TODAY)
    payouts(world, bank).disburse("L1")
    repayments = RepaymentService(
        loans=world.store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=FixedClock(TODAY, NOW)
    )
    pending = repayments.request("S1", "L1", 50_000, "k1")
    bank.hold(pending.repayment_id)
    status = repayments.apply(pending.requested_event().payload, redelivered=False)
    assert status is RepaymentStatus.PENDING
    return pending.repayment_id


def test_a_settled_collection_report_applies_the_repayment_on_its_settlement_date(world: World) -> None:
    repayment_id = held_collection(world)

    effect = outcomes(world).apply(
        bank_says(PaymentStatus.SETTLED, repayment_id, value_date=date(2026, 1, 11))
    )

    repayment = world.store.get_repayment(repayment_id)
    assert effect == "SETTLED"
    assert repayment is not None
    assert (repayment.status, repayment.value_date) == (RepaymentStatus.APPLIED, date(2026, 1, 11))
    assert effects(world, repayment_id) == [("PENDING", "RECORDED"), ("SETTLED", "SETTLED")]
    assert world.posting_ids("L1") == sorted(["DISBURSEMENT#PAYL1", f"REPAYMENT#{repayment_id}"])


def test_a_rejected_collection_report_fails_the_repayment(world: World) -> None:
    repayment_id = held_collection(world)

    effect = outcomes(world).apply(bank_says(PaymentStatus.REJECTED, repayment_id, reason="AM04"))

    repayment = world.store.get_repayment(repayment_id)
    payment = world.store.get_payment(repayment_id)
    assert effect == "REJECTED"
    assert repayment is not None and repayment.status is RepaymentStatus.FAILED
    assert payment is not None and payment.status == "REJECTED"
    assert world.posting_ids("L1") == ["DISBURSEMENT#PAYL1"]


# -- the daily job: loans by status and maturity, OVERDUE stored once, LoanDueSoon once --------------

MATURITY = date(2026, 1, 31)  # paid out on TODAY for 30 days


def paid_out(world: World, *loan_ids: str) -> None:
    bank = FakeBankGateway(value_date=TODAY)
    for n, loan_id in enumerate(loan_ids):
        with_approved_loan(world, loan_id=loan_id, created_at=f"2026-01-01T00:00:0{n}+00:00")
        assert payouts(world, bank).disburse(loan_id) is LoanStatus.ACTIVE


def ids(records: list[Any]) -> list[str]:
    return [record.loan.loan_id for record in records]


def day_job(world: World, day: date) -> LendingDayService:
    return LendingDayService(loans=world.store, clock=FixedClock(day, NOW))


def test_active_loans_are_read_by_maturity(world: World) -> None:
    paid_out(world, "L1", "L2")

    assert ids(world.store.active_loans_maturing_by(MATURITY - timedelta(days=1))) == []
    assert ids(world.store.active_loans_maturing_by(MATURITY)) == ["L1", "L2"]
    assert ids(world.store.active_loans_maturing_by(MATURITY + timedelta(days=9))) == ["L1", "L2"]
    assert ids(world.store.active_loans_maturing_on(MATURITY)) == ["L1", "L2"]
    assert ids(world.store.active_loans_maturing_on(MATURITY + timedelta(days=1))) == []


def test_a_loan_is_marked_overdue_once_with_its_count_and_event(world: World) -> None:
    paid_out(world, "L1", "L2")
    stale = world.store.get_loan("L1")
    assert stale is not None

    first = day_job(world, MATURITY).run(Step.OVERDUE, MATURITY)
    again = day_job(world, MATURITY).run(Step.OVERDUE, MATURITY)

    assert (first.written, again.loans_read, again.written) == (2, 0, 0)
    assert world.overdue_count() == 2 and world.overdue_in_every_currency() == 2
    assert world.outbox_ids() >= {f"LoanOverdue-L1-{MATURITY}", f"LoanOverdue-L2-{MATURITY}"}
    assert ids(world.store.active_loans_maturing_by(MATURITY)) == []
    with pytest.raises(StaleWrite):  # a second writer with what it read before: nothing written
        marked = stale.loan.mark_overdue(MATURITY)
        world.store.mark_overdue(stale, marked, marked.overdue_event(), business_date=MATURITY, now=NOW)
    assert world.overdue_count() == 2


def test_the_overdue_write_needs_maturity_on_or_before_the_business_date(world: World) -> None:
    paid_out(world, "L1")
    record = world.store.get_loan("L1")
    assert record is not None
    marked = record.loan.mark_overdue(MATURITY)

    with pytest.raises(StaleWrite):
        world.store.mark_overdue(
            record, marked, marked.overdue_event(), business_date=MATURITY - timedelta(days=1), now=NOW
        )

    after = world.store.get_loan("L1")
    assert after is not None and after.loan.status is LoanStatus.ACTIVE and world.overdue_count() == 0


def test_an_overdue_loan_is_repaid_or_extended_back_to_active(world: World) -> None:
    paid_out(world, "L1", "L2")
    day_job(world, MATURITY).run(Step.OVERDUE, MATURITY)
    on = MATURITY + timedelta(days=1)
    repayments = RepaymentService(
        loans=world.store,
        gateways=FakeGateways(bank=FakeBankGateway(value_date=on)),
        lender=LENDER,
        clock=FixedClock(on, NOW),
    )
    record = world.store.get_loan("L1")
    assert record is not None
    pending = repayments.request("S1", "L1", record.loan.position(on).payoff, "k1")
    assert repayments.apply(pending.requested_event().payload, redelivered=False) is RepaymentStatus.APPLIED
    overdue = world.store.get_loan("L2")
    assert overdue is not None
    outcome = overdue.loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
    world.store.extend(
        overdue,
        outcome.loan,
        reclassification=extension_posting("L2", outcome.penalty_reclassified)
        if outcome.penalty_reclassified
        else None,
        overdue_delta=outcome.overdue_delta,
        request_hash="h",
        now=NOW.isoformat(),
    )

    repaid, extended = world.store.get_loan("L1"), world.store.get_loan("L2")
    assert repaid is not None and repaid.loan.status is LoanStatus.REPAID
    assert extended is not None and extended.loan.status is LoanStatus.ACTIVE
    assert world.overdue_count() == 0 and world.overdue_in_every_currency() == 0
    new_maturity = MATURITY + timedelta(days=30)
    assert ids(world.store.active_loans_maturing_on(new_maturity)) == ["L2"]
    assert ids(world.store.active_loans_maturing_by(MATURITY + timedelta(days=29))) == []


def test_due_soon_is_written_once_per_loan_and_maturity(world: World) -> None:
    paid_out(world, "L1")
    day = MATURITY - timedelta(days=3)

    first = day_job(world, day).run(Step.DUE_SOON, day)
    again = day_job(world, day).run(Step.DUE_SOON, day)

    assert (first.written, again.written) == (1, 0)
    assert {e for e in world.outbox_ids() if e.startswith("LoanDueSoon")} == {f"LoanDueSoon-L1-{MATURITY}"}


# -- refunds: the index of loans owed money, one reservation, one outcome ------------------------------

REFUND_DAY = date(2026, 1, 5)


def overpaid(world: World, loan_id: str, excess_minor: int) -> None:
    """L paid out on TODAY, then a bank credit on REFUND_DAY paying it off with `excess_minor` more."""
    record = world.store.get_loan(loan_id)
    assert record is not None
    amount = record.loan.position(REFUND_DAY).payoff + excess_minor
    credit = Repayment(
        f"RB{loan_id}{amount}",
        loan_id,
        "S1",
        RepaymentStatus.PENDING,
        RepaymentSource.BANK_CREDIT,
        amount,
        "CNY",
    )
    apply_to_loan(
        world.store,
        record,
        credit,
        moved_on=REFUND_DAY,
        stored=False,
        policy=DEFAULT_POLICY,
        now=NOW.isoformat(),
    )


def refund_job(world: World, bank: FakeBankGateway) -> RefundService:
    clock = FixedClock(REFUND_DAY, NOW)
    return RefundService(loans=world.store, gateways=FakeGateways(bank=bank), lender=LENDER, clock=clock)


def test_an_overpaid_loan_is_on_the_refund_index_and_refunded_once(world: World) -> None:
    paid_out(world, "L1", "L2")
    overpaid(world, "L1", 500)
    overpaid(world, "L2", 0)  # paid off exactly: owes nothing back
    assert ids(world.store.loans_owed_refunds()) == ["L1"]
    bank = FakeBankGateway(value_date=REFUND_DAY)

    first = refund_job(world, bank).run(REFUND_DAY)
    second = refund_job(world, bank).run(REFUND_DAY)

    refund_id = refund_payment_id("S1", "CNY", REFUND_DAY.isoformat())
    assert (first.written, second.written, bank.sent_ids()) == (1, 0, [refund_id])
    record = world.store.get_loan("L1")
    assert record is not None
    assert (record.loan.overpayment_minor, record.loan.refunded_minor, record.loan.refund_id) == (
        500,
        500,
        None,
    )
    assert f"REFUND#{refund_id}#L1" in world.posting_ids("L1")
    assert f"{REFUND_PAID}-{refund_id}" in world.outbox_ids()
    assert world.store.loans_owed_refunds() == []
    payment = world.store.get_payment(refund_id)
    assert payment is not None and payment.refund is not None and payment.status == "SETTLED"
    assert payment.refund.parts == (("L1", 500),) and payment.account == SUPPLIER


def test_a_refund_is_reserved_once_and_only_on_loans_as_read(world: World) -> None:
    paid_out(world, "L1")
    overpaid(world, "L1", 500)
    read = world.store.get_loan("L1")
    assert read is not None
    refund = RefundOrder("RF1", "S1", "CNY", REFUND_DAY, parts=(("L1", 500),))
    overpaid(world, "L1", 100)  # a repayment moved the loan after it was read

    with pytest.raises(StaleWrite):
        world.store.reserve_refund(
            refund,
            [read],
            [read.loan.reserve_refund("RF1")],
            bank_code="SIMBANK",
            account=SUPPLIER,
            now=NOW.isoformat(),
        )
    assert world.store.get_payment("RF1") is None
    fresh = world.store.get_loan("L1")
    assert fresh is not None and fresh.loan.refund_owed_minor == 600
    reserve = {"bank_code": "SIMBANK", "account": SUPPLIER, "now": NOW.isoformat()}
    world.store.reserve_refund(refund, [fresh], [fresh.loan.reserve_refund("RF1")], **reserve)
    again = world.store.get_loan("L1")
    assert again is not None
    with pytest.raises(StaleWrite):
        world.store.reserve_refund(refund, [again], [replace(again.loan, refund_id=None)], **reserve)


def test_a_rejected_refund_report_makes_the_money_owed_again(world: World) -> None:
    paid_out(world, "L1")
    overpaid(world, "L1", 500)
    refund_id = refund_payment_id("S1", "CNY", REFUND_DAY.isoformat())
    bank = FakeBankGateway(value_date=REFUND_DAY)
    bank.hold(refund_id)
    refund_job(world, bank).run(REFUND_DAY)
    held = world.store.get_loan("L1")
    assert held is not None and (held.loan.refund_pending_minor, held.loan.refund_id) == (500, refund_id)

    effect = outcomes(world).apply(bank_says(PaymentStatus.REJECTED, refund_id, reason="AC04"))

    after = world.store.get_loan("L1")
    assert effect == "REJECTED" and after is not None
    assert (after.loan.refund_owed_minor, after.loan.refunded_minor, after.loan.refund_id) == (500, 0, None)
    assert ids(world.store.loans_owed_refunds()) == ["L1"]
    assert f"{REFUND_PAID}-{refund_id}" not in world.outbox_ids()
