"""The ops loan view's history (`scf.service.loan_history`), derived from stored items read through a
fake reader: what each stored fact becomes, and the time order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.waterfall import Allocation
from scf.service.loan_history import (
    LoanHistoryService,
    StoredApplication,
    StoredLoan,
    StoredPayment,
    StoredRepayment,
)
from scf.service.loan_store import Effect, LoanNotFound, LoanRecord, PaymentRecord, StoredReport
from scf.service.loans import LoanService
from scf.service.payments import Account, Direction, PaymentReport, PaymentStatus
from tests.fakes import FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
ACCOUNT = Account(bank_code="SIMBANK", account_number="6217000011113333", name="S1 Co.")


@dataclass
class FakeHistoryReader:
    loans: dict[str, StoredLoan] = field(default_factory=dict)
    repayments_by_loan: dict[str, list[StoredRepayment]] = field(default_factory=dict)
    stored_payments: dict[str, StoredPayment] = field(default_factory=dict)
    applications: dict[str, StoredApplication] = field(default_factory=dict)

    def loan(self, loan_id: str) -> StoredLoan | None:
        return self.loans.get(loan_id)

    def repayments(self, loan_id: str) -> list[StoredRepayment]:
        return self.repayments_by_loan.get(loan_id, [])

    def payments(self, payment_ids: list[str]) -> dict[str, StoredPayment]:
        return {i: self.stored_payments[i] for i in payment_ids if i in self.stored_payments}

    def application(self, application_id: str) -> StoredApplication | None:
        return self.applications.get(application_id)


def report(status: PaymentStatus, effect: Effect, at: str, **fields: Any) -> StoredReport:
    return StoredReport(
        PaymentReport(payment_id="PAYL1", bank_code="SIMBANK", status=status, source="api", **fields),
        effect=effect.value,
        at=at,
    )


def payout(status: str, *reports: StoredReport) -> StoredPayment:
    record = PaymentRecord(
        payment_id="PAYL1",
        direction=Direction.PAYOUT,
        loan_id="L1",
        amount_minor=10_000_000,
        currency="CNY",
        bank_code="SIMBANK",
        status=status,
        account=ACCOUNT,
        reports=reports,
    )
    return StoredPayment(record, created_at="2026-01-01T01:00:00+00:00")


def service(reader: FakeHistoryReader, today: date) -> LoanHistoryService:
    clock = FixedClock(today, datetime(2026, 1, 1, tzinfo=UTC))
    return LoanHistoryService(reader=reader, loans=LoanService(loans=FakeLoanStore(), clock=clock))


def with_loan(reader: FakeHistoryReader, **fields: Any) -> FakeHistoryReader:
    record = LoanRecord(loan=a_loan(**fields), version=1, created_at="2026-01-01T00:30:00+00:00")
    reader.loans["L1"] = StoredLoan(record=record, application_id="AP1")
    return reader


def events(view: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in view["history"]]


def test_an_unknown_loan_is_not_found() -> None:
    with pytest.raises(LoanNotFound):
        service(FakeHistoryReader(), VALUE).view("L1")


def test_a_rejected_payout_is_the_loans_failure_with_the_banks_reason_masked() -> None:
    reader = with_loan(FakeHistoryReader(), status=LoanStatus.FAILED)
    reader.stored_payments["PAYL1"] = payout(
        "REJECTED",
        report(
            PaymentStatus.REJECTED, Effect.REJECTED, "2026-01-01T01:00:05Z", reason="AC01 6217000011113333"
        ),
    )

    view = service(reader, VALUE).view("L1")

    assert events(view) == ["LoanApproved", "PaymentSent", "PaymentReported", "LoanFailed"]
    assert view["history"][-1]["detail"] == {"reason": "AC01 ************3333"}
    assert view["payout"] == {
        "payment_id": "PAYL1",
        "bank_code": "SIMBANK",
        "account": "************3333",
        "status": "REJECTED",
    }


def test_a_bank_credit_was_not_requested_by_anyone_it_was_applied() -> None:
    reader = with_loan(FakeHistoryReader(), value_date=VALUE)
    credit = Repayment(
        repayment_id="RB1",
        loan_id="L1",
        supplier_id="S1",
        status=RepaymentStatus.APPLIED,
        source=RepaymentSource.BANK_CREDIT,
        amount_minor=500_000,
        currency="CNY",
        allocation=Allocation(penalty=0, interest=27_778, principal=472_222, overpayment=0),
        value_date=date(2026, 1, 11),
    )
    reader.repayments_by_loan["L1"] = [
        StoredRepayment(credit, created_at="2026-01-12T03:00:00Z", updated_at="2026-01-12T03:00:00Z")
    ]

    view = service(reader, date(2026, 1, 12)).view("L1")

    assert events(view) == ["LoanApproved", "RepaymentApplied"]
    applied = view["history"][-1]
    assert (applied["by"], applied["detail"]["source"], applied["detail"]["value_date"]) == (
        "system",
        "BANK_CREDIT",
        "2026-01-11",
    )


def test_an_extension_whose_time_is_not_stored_comes_last_with_no_time() -> None:
    reader = with_loan(FakeHistoryReader(), value_date=VALUE, extended=True, maturity_date=date(2026, 3, 2))
    reader.stored_payments["PAYL1"] = payout(
        "SETTLED", report(PaymentStatus.SETTLED, Effect.SETTLED, "2026-01-01T01:00:05Z", value_date=VALUE)
    )

    view = service(reader, date(2026, 1, 28)).view("L1")

    assert events(view) == ["LoanApproved", "PaymentSent", "PaymentReported", "LoanActivated", "LoanExtended"]
    assert view["history"][-1] == {
        "at": None,
        "event": "LoanExtended",
        "by": "S1",
        "detail": {"maturity_date": "2026-03-02"},
    }


def test_events_are_in_time_order_whatever_the_stored_timestamps_zone() -> None:
    reader = with_loan(FakeHistoryReader(), value_date=VALUE)
    reader.stored_payments["PAYL1"] = payout(  # reported before the order's own stamp, in another notation
        "SETTLED",
        report(PaymentStatus.SETTLED, Effect.SETTLED, "2026-01-01T08:59:00+08:00", value_date=VALUE),
    )

    view = service(reader, VALUE).view("L1")

    assert [(e["event"], e["at"]) for e in view["history"]] == [
        ("LoanApproved", "2026-01-01T00:30:00Z"),
        ("PaymentReported", "2026-01-01T00:59:00Z"),
        ("LoanActivated", "2026-01-01T00:59:00Z"),
        ("PaymentSent", "2026-01-01T01:00:00Z"),
    ]
