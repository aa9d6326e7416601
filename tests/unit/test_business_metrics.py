"""What each use case counts through the metrics port (issue 12; docs/operations.md, "Metrics"), on
the in-memory store, bank and a recording `Metrics`; and the EMF adapter's lines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from scf.adapters.observability import EmfMetrics
from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.service import metrics as names
from scf.service.disbursement import PayoutService
from scf.service.inquiries import InquiryService
from scf.service.lending_day import DailyJob, Step, StepResult, dated
from scf.service.metrics import Unit
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentKind, PaymentReport, PaymentStatus
from scf.service.repayment import RepaymentService
from scf.service.statements import LoanRef, StatementMatcher
from tests.fakes import (
    FakeBankGateway,
    FakeGateways,
    FakeLoanStore,
    FakePaymentOutcomes,
    FakeStatementStore,
    Point,
    RecordingMetrics,
    a_loan,
)
from tests.unit.test_statement_matcher import BANK, CREDIT, KEY, entry, statement

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 2)
APPROVED_AT = "2026-03-02T01:00:00+00:00"
NOW = datetime(2026, 3, 2, 1, 4, tzinfo=UTC)  # 4 minutes after the approval
LENDER = Account(bank_code="SIMBANK", account_number="6222000011112222", name="SCF Lender")
SUPPLIER = Account(bank_code="SIMBANK", account_number="6217000099998888", name="Supplier Ltd")


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    store.add_loan(a_loan(), created_at=APPROVED_AT, payout_account=SUPPLIER)
    return store


@pytest.fixture
def bank() -> FakeBankGateway:
    return FakeBankGateway(value_date=TODAY)


def payouts(store: FakeLoanStore, bank: FakeBankGateway, metrics: RecordingMetrics) -> PayoutService:
    clock = FixedClock(TODAY, NOW)
    return PayoutService(
        loans=store, gateways=FakeGateways(bank=bank), clock=clock, lender=LENDER, metrics=metrics
    )


def test_a_settled_payout_counts_by_bank_and_outcome_and_times_approval_to_active(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    metrics = RecordingMetrics()

    assert payouts(store, bank, metrics).disburse("L1") is LoanStatus.ACTIVE

    assert metrics.counted(names.PAYOUTS, bank="SIMBANK", outcome="SETTLED") == 1
    (latency,) = metrics.of(names.APPROVAL_TO_ACTIVE)
    assert (latency.value, latency.unit) == (240, Unit.SECONDS)


def test_a_rejected_payout_counts_rejected_and_never_times_an_activation(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    metrics = RecordingMetrics()
    bank.reject("PAYL1")

    assert payouts(store, bank, metrics).disburse("L1") is LoanStatus.FAILED

    assert metrics.counted(names.PAYOUTS, outcome="REJECTED") == 1
    assert metrics.of(names.APPROVAL_TO_ACTIVE) == []


def test_a_held_payout_counts_pending_then_the_banks_report_settles_and_times_it(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    metrics = RecordingMetrics()
    bank.hold("PAYL1")
    assert payouts(store, bank, metrics).disburse("L1") is LoanStatus.DISBURSING
    later = FixedClock(TODAY, datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    outcomes = PaymentOutcomeService(loans=store, clock=later, metrics=metrics)

    outcomes.apply(PaymentReport("PAYL1", "SIMBANK", PaymentStatus.SETTLED, "pain.002", TODAY))

    assert metrics.counted(names.PAYOUTS, outcome="PENDING") == 1
    assert metrics.counted(names.PAYOUTS, outcome="SETTLED") == 1
    assert [p.value for p in metrics.of(names.APPROVAL_TO_ACTIVE)] == [30 * 60]


def test_a_collection_counts_by_bank_and_outcome_once_per_answer(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    metrics = RecordingMetrics()
    store.add_loan(a_loan(loan_id="L2", value_date=date(2026, 2, 1), status=LoanStatus.ACTIVE))
    repayments = RepaymentService(
        loans=store,
        gateways=FakeGateways(bank=bank),
        clock=FixedClock(TODAY, NOW),
        lender=LENDER,
        metrics=metrics,
    )
    pending = repayments.request("S1", "L2", 50_000, "k1")

    assert repayments.apply(pending.requested_event().payload, redelivered=False) is RepaymentStatus.APPLIED
    assert repayments.apply(pending.requested_event().payload, redelivered=True) is RepaymentStatus.APPLIED

    # The redelivery finds the repayment applied: no second answer, no second count.
    assert metrics.points == [
        Point(names.COLLECTIONS, 1, Unit.COUNT, {"bank": "SIMBANK", "outcome": "SETTLED"})
    ]


def test_the_inquiry_counts_the_payments_still_open_15_minutes_after_sending_per_kind(
    store: FakeLoanStore, bank: FakeBankGateway
) -> None:
    bank.hold("PAYL1")
    assert payouts(store, bank, RecordingMetrics()).disburse("L1") is LoanStatus.DISBURSING
    metrics = RecordingMetrics()
    next_day = FixedClock(date(2026, 3, 3), datetime(2026, 3, 2, 16, 5, tzinfo=UTC))
    inquiries = InquiryService(
        loans=store,
        gateways=FakeGateways(bank=bank),
        outcomes=PaymentOutcomeService(loans=store, clock=next_day),
        clock=next_day,
        resend={PaymentKind.PAYOUT: lambda _: None, PaymentKind.COLLECTION: lambda _: None},
        metrics=metrics,
    )

    inquiries.run(date(2026, 3, 3))

    assert metrics.counted(names.OPEN_PAYMENTS_INQUIRED, kind="PAYOUT") == 1
    assert metrics.counted(names.OPEN_PAYMENTS_INQUIRED, kind="COLLECTION") == 0
    assert len(metrics.of(names.OPEN_PAYMENTS_INQUIRED)) == 2  # a zero too: the alarm sees data


def test_an_unmatched_bank_entry_counts_once_by_code_even_when_delivered_twice() -> None:
    store = FakeStatementStore()
    store.loans["LN1"] = LoanRef("LN1", "S1", "CNY", "ACTIVE")
    metrics = RecordingMetrics()
    clock = FixedClock(date(2026, 1, 11), datetime(2026, 1, 11, 8, tzinfo=UTC))
    matcher = StatementMatcher(store, clock, {BANK: ["CN0001"]}, FakePaymentOutcomes(), metrics=metrics)
    unknown = statement(entry("10.00", CREDIT, remittance="no loan named here"))

    matcher.process(BANK, KEY, unknown)
    matcher.process(BANK, KEY, unknown)

    assert [(p.name, p.dimensions) for p in metrics.points] == [
        (names.UNMATCHED_ITEMS, {"code": "NO_REFERENCE"})
    ]


def test_a_daily_step_run_by_the_job_counts_its_loans_read_and_written_by_step() -> None:
    metrics = RecordingMetrics()
    day = date(2026, 12, 3)
    job = DailyJob(
        {Step.OVERDUE: dated(lambda business_date: StepResult(Step.OVERDUE, business_date, 7, 3))},
        "Asia/Shanghai",
        metrics,
    )

    job.handle({"scf": "daily", "step": "OVERDUE", "business_date": day.isoformat()})

    assert metrics.counted(names.DAILY_LOANS_READ, step="OVERDUE") == 7
    assert metrics.counted(names.DAILY_LOANS_WRITTEN, step="OVERDUE") == 3


def emf_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_the_emf_adapter_writes_a_point_with_dimensions_as_one_line_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools import Metrics

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "disburse")
    EmfMetrics(Metrics(namespace="scf")).put(names.PAYOUTS, 1, bank="SIMBANK", outcome="SETTLED")

    (line,) = emf_lines(capsys.readouterr().out)
    (directive,) = line["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "scf"
    assert directive["Dimensions"] == [["bank", "outcome", "service"]]
    assert directive["Metrics"] == [{"Name": "Payouts", "Unit": "Count"}]
    assert (line["service"], line["bank"], line["outcome"], line["Payouts"]) == (
        "disburse",
        "SIMBANK",
        "SETTLED",
        [1.0],
    )
