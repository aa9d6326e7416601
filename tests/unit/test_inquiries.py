"""The daily status inquiry (InquiryService, step INQUIRE) on the in-memory store and bank: what
each bank answer does to a payment still without an outcome (contract sections 7 and 10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.service.disbursement import PayoutService
from scf.service.inquiries import IN_FLIGHT, INQUIRY_SOURCE, InquiryIncomplete, InquiryService
from scf.service.lending_day import LendingDayService, Step, StepNotOwned, daily_message
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, BankUnavailable, PaymentKind, PaymentResult, PaymentStatus
from scf.service.repayment import RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

SENT_ON = date(2026, 3, 2)
SENT_AT = datetime(2026, 3, 2, 1, tzinfo=UTC)  # 09:00 in Asia/Shanghai
NEXT_DAY = date(2026, 3, 3)
JOB_AT = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)  # 00:05 on NEXT_DAY in Asia/Shanghai
LENDER = Account(bank_code="SIMBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000099998888", name="Supplier Ltd")


class World:
    def __init__(self) -> None:
        self.store = FakeLoanStore()
        self.store.add_supplier("S1", SUPPLIER)
        self.bank = FakeBankGateway(value_date=SENT_ON)
        self.gateways = FakeGateways(bank=self.bank)

    def payouts(self, clock: FixedClock) -> PayoutService:
        return PayoutService(loans=self.store, gateways=self.gateways, clock=clock, lender=LENDER)

    def repayments(self, clock: FixedClock) -> RepaymentService:
        return RepaymentService(loans=self.store, gateways=self.gateways, clock=clock, lender=LENDER)

    def inquiries(self, *kinds: PaymentKind, at: datetime = JOB_AT) -> InquiryService:
        clock = FixedClock(NEXT_DAY, at)
        owners = {
            PaymentKind.PAYOUT: self.payouts(clock).pay_again,
            PaymentKind.COLLECTION: self.repayments(clock).collect_again,
        }
        return InquiryService(
            loans=self.store,
            gateways=self.gateways,
            outcomes=PaymentOutcomeService(loans=self.store, clock=clock),
            clock=clock,
            resend={kind: owners[kind] for kind in kinds or tuple(owners)},
        )

    def payout_held(self) -> None:
        """L1's payout sent on SENT_ON and held by the bank (a file bank without an answer yet)."""
        self.store.add_loan(a_loan(), payout_account=SUPPLIER)
        self.bank.hold("PAYL1")
        assert self.payouts(FixedClock(SENT_ON, SENT_AT)).disburse("L1") is LoanStatus.DISBURSING

    def payout_never_received(self) -> None:
        """L1's payout order written (SENT), but the bank never got it (unreachable, then gone)."""
        self.store.add_loan(a_loan(), payout_account=SUPPLIER)
        self.bank.unreachable = True
        with pytest.raises(BankUnavailable):
            self.payouts(FixedClock(SENT_ON, SENT_AT)).disburse("L1")
        self.bank.unreachable = False

    def collection_held(self, *, loan_status: LoanStatus = LoanStatus.ACTIVE) -> str:
        self.store.add_loan(a_loan(value_date=date(2026, 2, 1), status=loan_status))
        repayments = self.repayments(FixedClock(SENT_ON, SENT_AT))
        pending = repayments.request("S1", "L1", 50_000, "k1")
        self.bank.hold(pending.repayment_id)
        status = repayments.apply(pending.requested_event().payload, redelivered=False)
        assert status is RepaymentStatus.PENDING
        return pending.repayment_id

    def bank_answers(self, payment_id: str, status: PaymentStatus, **fields: object) -> None:
        """What the bank knows now about an order it held."""
        self.bank.applied[payment_id] = PaymentResult(payment_id, status, **fields)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()


def test_a_payout_the_bank_settled_since_activates_the_loan_from_the_banks_date(world: World) -> None:
    world.payout_held()
    world.bank_answers("PAYL1", PaymentStatus.SETTLED, value_date=SENT_ON)

    result = world.inquiries(PaymentKind.PAYOUT).run(NEXT_DAY, JOB_AT)

    loan = world.store.loans["L1"].loan
    assert (loan.status, loan.value_date) == (LoanStatus.ACTIVE, SENT_ON)
    assert world.store.payments["PAYL1"]["status"] == "SETTLED"
    assert world.store.payments["PAYL1"]["reports"][-1].report.source == INQUIRY_SOURCE
    assert (result.step, result.loans_read, result.written) == (Step.INQUIRE, 1, 1)


def test_a_payout_the_bank_rejected_fails_the_loan_and_releases_its_reservation(world: World) -> None:
    world.payout_held()
    world.bank_answers("PAYL1", PaymentStatus.REJECTED, reason="AC01")

    world.inquiries(PaymentKind.PAYOUT).run(NEXT_DAY, JOB_AT)

    assert world.store.loans["L1"].loan.status is LoanStatus.FAILED
    assert world.store.exposure("S1", "CNY").principal_minor == 0
    assert world.store.payments["PAYL1"]["status"] == "REJECTED"


def test_a_payout_the_bank_still_holds_is_left_as_it_is(world: World) -> None:
    world.payout_held()
    reports_before = world.store.reports_of("PAYL1")

    result = world.inquiries(PaymentKind.PAYOUT).run(NEXT_DAY, JOB_AT)

    assert world.store.loans["L1"].loan.status is LoanStatus.DISBURSING
    assert world.store.reports_of("PAYL1") == reports_before
    assert (result.loans_read, result.written) == (1, 0)


def test_a_payout_the_bank_never_received_is_sent_again_with_the_same_payment_id(world: World) -> None:
    world.payout_never_received()

    result = world.inquiries(PaymentKind.PAYOUT).run(NEXT_DAY, JOB_AT)

    assert world.bank.sent_ids() == ["PAYL1"]
    assert world.bank.sent[0].creditor == SUPPLIER
    assert world.store.loans["L1"].loan.status is LoanStatus.ACTIVE
    assert result.written == 1


def test_a_collection_the_bank_settled_since_applies_the_repayment(world: World) -> None:
    repayment_id = world.collection_held()
    world.bank_answers(repayment_id, PaymentStatus.SETTLED, value_date=SENT_ON)

    world.inquiries(PaymentKind.COLLECTION).run(NEXT_DAY, JOB_AT)

    repayment = world.store.repayments[repayment_id]
    assert (repayment.status, repayment.value_date) == (RepaymentStatus.APPLIED, SENT_ON)


def test_a_collection_the_bank_never_received_is_collected_again_with_the_same_id(world: World) -> None:
    repayment_id = world.collection_held()
    del world.bank.applied[repayment_id]  # the order never reached the bank
    world.bank.held.discard(repayment_id)

    world.inquiries(PaymentKind.COLLECTION).run(NEXT_DAY, JOB_AT)

    assert world.bank.sent_ids() == [repayment_id, repayment_id]
    assert world.store.repayments[repayment_id].status is RepaymentStatus.APPLIED


def test_a_collection_never_received_for_a_loan_that_owes_nothing_now_fails_unsent(world: World) -> None:
    repayment_id = world.collection_held()
    del world.bank.applied[repayment_id]
    world.store.loans["L1"].loan = a_loan(value_date=date(2026, 2, 1), status=LoanStatus.REPAID)

    world.inquiries(PaymentKind.COLLECTION).run(NEXT_DAY, JOB_AT)

    assert world.bank.sent_ids() == [repayment_id]  # the first attempt only
    assert world.store.repayments[repayment_id].status is RepaymentStatus.FAILED


def test_each_function_asks_only_about_its_own_kind_of_payment(world: World) -> None:
    world.payout_held()
    world.bank.asked.clear()

    result = world.inquiries(PaymentKind.COLLECTION).run(NEXT_DAY, JOB_AT)

    assert (world.bank.asked, result.loans_read) == ([], 0)


def test_a_payment_sent_within_15_minutes_of_the_job_waits_for_the_next_day(world: World) -> None:
    world.payout_held()
    world.bank.asked.clear()

    world.inquiries(PaymentKind.PAYOUT, at=SENT_AT + IN_FLIGHT - timedelta(seconds=1)).run(
        SENT_ON, SENT_AT + IN_FLIGHT - timedelta(seconds=1)
    )

    assert world.bank.asked == []


def test_a_second_run_for_the_day_changes_nothing(world: World) -> None:
    world.payout_held()
    world.bank_answers("PAYL1", PaymentStatus.SETTLED, value_date=SENT_ON)
    inquiries = world.inquiries(PaymentKind.PAYOUT)
    inquiries.run(NEXT_DAY, JOB_AT)
    reports = world.store.reports_of("PAYL1")

    again = inquiries.run(NEXT_DAY, JOB_AT)

    assert (again.loans_read, again.written) == (0, 0)
    assert world.store.reports_of("PAYL1") == reports


def test_a_bank_that_cannot_be_reached_fails_the_step_which_a_later_run_completes(world: World) -> None:
    world.payout_held()
    world.bank_answers("PAYL1", PaymentStatus.SETTLED, value_date=SENT_ON)
    inquiries = world.inquiries(PaymentKind.PAYOUT)
    world.bank.unreachable = True

    with pytest.raises(InquiryIncomplete):
        inquiries.run(NEXT_DAY, JOB_AT)
    assert world.store.loans["L1"].loan.status is LoanStatus.DISBURSING

    world.bank.unreachable = False
    inquiries.run(NEXT_DAY, JOB_AT)
    assert world.store.loans["L1"].loan.status is LoanStatus.ACTIVE


def test_without_the_schedules_moment_the_cutoff_is_15_minutes_before_the_day_began(world: World) -> None:
    cutoff = world.inquiries().cutoff(NEXT_DAY)

    assert cutoff == JOB_AT - timedelta(minutes=5) - IN_FLIGHT


def test_the_daily_message_keeps_the_schedules_moment_for_the_inquiry() -> None:
    message = daily_message(
        '{"scf": "daily", "step": "INQUIRE", "business_date": "2026-03-02T16:05:00Z"}', "Asia/Shanghai"
    )

    assert (message.step, message.business_date, message.at) == (Step.INQUIRE, NEXT_DAY, JOB_AT)


def test_the_loan_steps_service_refuses_the_inquiry_step(world: World) -> None:
    days = LendingDayService(loans=world.store, clock=FixedClock(NEXT_DAY, JOB_AT))

    with pytest.raises(StepNotOwned):
        days.run(Step.INQUIRE, NEXT_DAY)
