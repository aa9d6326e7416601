"""The ops view of one loan (CONTRACT.md section 8, `GET /v1/ops/loans/{id}`): the supplier's loan
fields plus whose it is, its payout and its history, derived from what is stored.

Invariant: the history is only what the stored items show (their timestamps and the bank reports
kept on each payment), in time order; an event whose time is not stored has `at` null and comes
last (docs/ops-views.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from scf.clock import iso_utc
from scf.domain.loan import LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.service.loan_store import Effect, LoanNotFound, LoanRecord, PaymentRecord, StoredReport
from scf.service.loans import LoanService
from scf.service.payments import mask_account, payout_payment_id

POLICY = "policy"  # `by` of what the credit policy decided on its own
SYSTEM = "system"  # `by` of what the platform did on its own (a payout sent, a status come due)


class Happened(StrEnum):
    """A history entry's `event`: what happened to the loan (named as the domain events are)."""

    APPLICATION_HELD_FOR_REVIEW = "ApplicationHeldForReview"
    APPLICATION_REVIEWED = "ApplicationReviewed"
    LOAN_APPROVED = "LoanApproved"
    PAYMENT_SENT = "PaymentSent"
    PAYMENT_REPORTED = "PaymentReported"
    LOAN_ACTIVATED = "LoanActivated"
    LOAN_FAILED = "LoanFailed"
    REPAYMENT_REQUESTED = "RepaymentRequested"
    REPAYMENT_APPLIED = "RepaymentApplied"
    REPAYMENT_FAILED = "RepaymentFailed"
    LOAN_REPAID = "LoanRepaid"
    LOAN_OVERDUE = "LoanOverdue"
    LOAN_EXTENDED = "LoanExtended"


HISTORY_EVENTS = tuple(e.value for e in Happened)


@dataclass(frozen=True)
class StoredLoan:
    record: LoanRecord
    application_id: str | None


@dataclass(frozen=True)
class StoredRepayment:
    repayment: Repayment
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class StoredPayment:
    record: PaymentRecord
    created_at: str


@dataclass(frozen=True)
class StoredApplication:
    status: str
    created_at: str
    reasons: list[dict[str, str]]
    review: dict[str, Any] | None


class LoanHistoryReader(Protocol):
    """What the ops view reads (strongly consistent, by key; one query for the repayments)."""

    def loan(self, loan_id: str) -> StoredLoan | None: ...

    def repayments(self, loan_id: str) -> list[StoredRepayment]:
        """Oldest first."""
        ...

    def payments(self, payment_ids: list[str]) -> dict[str, StoredPayment]:
        """Those of `payment_ids` that exist, by id (one read for all)."""
        ...

    def application(self, application_id: str) -> StoredApplication | None: ...


@dataclass(frozen=True)
class Event:
    at: datetime | None
    event: Happened
    by: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso_utc(self.at.astimezone(UTC)) if self.at else None,
            "event": self.event.value,
            "by": self.by,
            "detail": self.detail,
        }


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _payout_view(payment: StoredPayment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    record = payment.record
    return {
        "payment_id": record.payment_id,
        "bank_code": record.bank_code,
        "account": mask_account(record.account.account_number) if record.account else None,
        "status": record.status,
    }


_NOT_SHOWN = ("at", "bank_code", "request", "request_body")  # the hashes only tell a retry apart


def _report_event(payment: PaymentRecord, stored: StoredReport) -> Event:
    detail = {k: v for k, v in stored.as_json().items() if k not in _NOT_SHOWN and v is not None}
    return Event(
        _moment(stored.at),
        Happened.PAYMENT_REPORTED,
        stored.report.by or stored.report.bank_code,  # ops who recorded the bank's answer, or the bank
        {"payment_id": payment.payment_id, "direction": payment.direction.value, **detail},
    )


def _payment_events(payment: StoredPayment) -> list[Event]:
    record = payment.record
    sent = Event(
        _moment(payment.created_at),
        Happened.PAYMENT_SENT,
        SYSTEM,
        {
            "payment_id": record.payment_id,
            "direction": record.direction.value,
            "bank_code": record.bank_code,
            "amount": format_amount(record.amount_minor),
            "currency": record.currency,
        },
    )
    return [sent, *(_report_event(record, stored) for stored in record.reports)]


def _payout_outcome(record: LoanRecord, payment: StoredPayment) -> list[Event]:
    """The payout's final report is the loan's move to ACTIVE (settled) or FAILED (rejected)."""
    loan = record.loan
    out = []
    for stored in payment.record.reports:
        if stored.effect == Effect.SETTLED.value:
            value_date = stored.report.value_date or loan.value_date
            detail: dict[str, Any] = {"value_date": value_date.isoformat() if value_date else None}
            if value_date is not None:
                detail["maturity_date"] = (value_date + timedelta(days=loan.term_days)).isoformat()
            out.append(Event(_moment(stored.at), Happened.LOAN_ACTIVATED, SYSTEM, detail))
        elif stored.effect == Effect.REJECTED.value:
            reason = stored.as_json()["reason"]
            out.append(Event(_moment(stored.at), Happened.LOAN_FAILED, SYSTEM, {"reason": reason}))
    return out


def _repayment_events(
    stored: StoredRepayment, supplier_id: str, collection: StoredPayment | None
) -> list[Event]:
    """Requested (the supplier's own), its collection order and the bank's reports about it (the
    settling one before the outcome it caused), then APPLIED or FAILED."""
    repayment = stored.repayment
    detail: dict[str, Any] = {
        "repayment_id": repayment.repayment_id,
        "source": repayment.source.value,
        "amount": format_amount(repayment.amount_minor),
    }
    out = []
    if repayment.source is RepaymentSource.SUPPLIER or repayment.status is RepaymentStatus.PENDING:
        requested_by = supplier_id if repayment.source is RepaymentSource.SUPPLIER else SYSTEM
        out.append(Event(_moment(stored.created_at), Happened.REPAYMENT_REQUESTED, requested_by, detail))
    if collection is not None:
        out += _payment_events(collection)
    if repayment.status is RepaymentStatus.APPLIED:
        applied = {
            **detail,
            "value_date": repayment.value_date.isoformat() if repayment.value_date else None,
            "allocation": repayment.allocation.as_money() if repayment.allocation else None,
        }
        out.append(Event(_moment(stored.updated_at), Happened.REPAYMENT_APPLIED, SYSTEM, applied))
    elif repayment.status is RepaymentStatus.FAILED:
        failed = {**detail, "reason": repayment.failure_reason}
        out.append(Event(_moment(stored.updated_at), Happened.REPAYMENT_FAILED, SYSTEM, failed))
    return out


def _application_events(application_id: str, application: StoredApplication) -> list[Event]:
    """A loan approved by a reviewer was first held for review: both are on its history."""
    review = application.review
    if not review:
        return []
    held = Event(
        _moment(application.created_at),
        Happened.APPLICATION_HELD_FOR_REVIEW,
        POLICY,
        {"application_id": application_id, "reasons": [r["code"] for r in application.reasons]},
    )
    reviewed = Event(
        _moment(str(review["at"])),
        Happened.APPLICATION_REVIEWED,
        str(review.get("by", "")),
        {
            "application_id": application_id,
            "decision": review.get("decision"),
            "note": review.get("note", ""),
        },
    )
    return [held, reviewed]


@dataclass(frozen=True)
class LoanHistoryService:
    """`GET /v1/ops/loans/{id}`: any supplier's loan, for ops."""

    reader: LoanHistoryReader
    loans: LoanService  # the supplier view's fields, as of the same business date

    def view(self, loan_id: str) -> dict[str, Any]:
        stored = self.reader.loan(loan_id)
        if stored is None:
            raise LoanNotFound(loan_id)
        record = stored.record
        loan = record.loan
        repayments = self.reader.repayments(loan_id)
        # A collection's payment id is its repayment's id; other sources moved no order of ours.
        collections = [
            r.repayment.repayment_id for r in repayments if r.repayment.source is RepaymentSource.SUPPLIER
        ]
        payments = self.reader.payments([payout_payment_id(loan_id), *collections])
        payout = payments.get(payout_payment_id(loan_id))
        application = self.reader.application(stored.application_id) if stored.application_id else None
        view = self.loans.view(record, [r.repayment for r in repayments])
        reviewer = str(application.review.get("by")) if application and application.review else None
        events = []
        if application is not None and stored.application_id:
            events += _application_events(stored.application_id, application)
        events += [
            Event(
                _moment(record.created_at),
                Happened.LOAN_APPROVED,
                reviewer or POLICY,
                {
                    "application_id": stored.application_id,
                    "principal": format_amount(loan.principal_minor),
                    "annual_rate": str(loan.annual_rate),
                    "term_days": loan.term_days,
                },
            )
        ]
        if payout is not None:
            events += _payment_events(payout)
            events += _payout_outcome(record, payout)
        for repayment in repayments:
            collection = payments.get(repayment.repayment.repayment_id)
            events += _repayment_events(repayment, loan.supplier_id, collection)
        events += self._status_events(record, repayments, view["status"])
        return {
            **view,
            "supplier_id": loan.supplier_id,
            "application_id": stored.application_id,
            "payout": _payout_view(payout),
            "history": [e.as_json() for e in _in_time_order(events)],
        }

    def _status_events(
        self, record: LoanRecord, repayments: list[StoredRepayment], status: str
    ) -> list[Event]:
        """State changes no item stamps: REPAID (the applied repayment that cleared it), OVERDUE
        (from the start of its maturity date, business time) and the extension (time not stored)."""
        loan = record.loan
        out = []
        applied = [r for r in repayments if r.repayment.status is RepaymentStatus.APPLIED]
        if loan.status is LoanStatus.REPAID and applied:
            last = max(applied, key=lambda r: _moment(r.updated_at))
            out.append(
                Event(
                    _moment(last.updated_at),
                    Happened.LOAN_REPAID,
                    SYSTEM,
                    {"repayment_id": last.repayment.repayment_id},
                )
            )
        if status == LoanStatus.OVERDUE.value and loan.maturity_date is not None:
            zone = ZoneInfo(self.loans.policy.timezone)
            start = datetime.combine(loan.maturity_date, time(0), tzinfo=zone)
            out.append(
                Event(start, Happened.LOAN_OVERDUE, SYSTEM, {"maturity_date": loan.maturity_date.isoformat()})
            )
        if loan.extended and loan.maturity_date is not None:
            out.append(
                Event(
                    None,
                    Happened.LOAN_EXTENDED,
                    loan.supplier_id,
                    {"maturity_date": loan.maturity_date.isoformat()},
                )
            )
        return out


def _in_time_order(events: list[Event]) -> list[Event]:
    """By time (stable: events of one moment keep the order they were derived in); no time: last."""
    known = sorted((e for e in events if e.at is not None), key=lambda e: e.at or datetime.min)
    return [*known, *(e for e in events if e.at is None)]
