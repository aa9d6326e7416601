"""The daily REPUBLISH (contract section 10): an outbox event older than `REPUBLISH_AFTER` whose
effect has not happened is published again, so its consumer runs (consumers are idempotent by
business key). Two kinds, each run by the function that owns the effect: `LoanApproved` of a loan
still APPROVED (disburse) and `RepaymentRequested` of a repayment still PENDING (apply_repayment).
Reads follow indexes (gsi2 LOANS#APPROVED, REPAYMENTS#PENDING); an event goes out again at most
once per business date, so a rerun of the day publishes only events that became old enough since.
How it is published again, and why: docs/operations.md, "REPUBLISH"."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from scf.clock import Clock
from scf.domain.loan import Repayment
from scf.events import LOAN_APPROVED, REPAYMENT_REQUESTED, OutboxEvent
from scf.service.lending_day import DAILY_AT, Step, StepResult, begun
from scf.service.loan_store import LoanRecord

REPUBLISH_AFTER = timedelta(minutes=15)
REPUBLISHED = (LOAN_APPROVED, REPAYMENT_REQUESTED)


class RepublishStore(Protocol):
    def approved_loans(self) -> list[LoanRecord]:
        """Loans stored APPROVED (not DISBURSING, ACTIVE or FAILED), from the status index."""
        ...

    def pending_repayments_before(self, moment: datetime) -> list[Repayment]:
        """Repayments stored PENDING that were requested before `moment`, from their index."""
        ...

    def republish(self, event: OutboxEvent, *, business_date: date, now: datetime) -> bool:
        """The event published again while its effect has still not happened (the loan APPROVED,
        the repayment PENDING: a condition of the write), at most once per business date; False
        if it was already published again that day or the effect happened meanwhile."""
        ...


@dataclass(frozen=True)
class RepublishService:
    store: RepublishStore
    clock: Clock
    timezone: str
    events: Collection[str] = REPUBLISHED  # the event types this function owns

    def run(self, business_date: date) -> StepResult:
        begun(business_date, self.clock)
        now = self.clock.now()
        cutoff = self.cutoff(business_date, now)
        due: list[OutboxEvent] = []
        read = 0
        if LOAN_APPROVED in self.events:
            approved = self.store.approved_loans()
            read += len(approved)
            old = [r for r in approved if datetime.fromisoformat(r.created_at) < cutoff]
            due += [record.loan.approved_event() for record in old]
        if REPAYMENT_REQUESTED in self.events:
            pending = self.store.pending_repayments_before(cutoff)
            read += len(pending)
            due += [repayment.requested_event() for repayment in pending]
        written = sum(self.store.republish(event, business_date=business_date, now=now) for event in due)
        return StepResult(Step.REPUBLISH, business_date, read, written)

    def cutoff(self, business_date: date, now: datetime) -> datetime:
        """Events written before this moment are old enough: `REPUBLISH_AFTER` before the job's
        moment, which is now but never before the business date's 00:05 (a local clock moved ahead
        of the wall clock: everything written before that day counts as old)."""
        scheduled = datetime.combine(business_date, DAILY_AT, ZoneInfo(self.timezone))
        return max(now, scheduled) - REPUBLISH_AFTER
