"""The metrics port (docs/operations.md, "Metrics"): what the use cases count and time, each name
and its dimensions written once here. Services hold a `Metrics` (default: none emitted); the
Powertools EMF adapter is scf.adapters.observability.EmfMetrics, the recording fake tests/fakes.py."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Unit(StrEnum):
    COUNT = "Count"
    MILLISECONDS = "Milliseconds"
    SECONDS = "Seconds"


# name: dimensions (besides `service`, the emitting function) and meaning
APPLICATIONS = "Applications"  # outcome: APPROVED | DECLINED | REVIEW (new decisions, not replays)
REVIEWS = "Reviews"  # outcome: APPROVED | DECLINED (ops decisions)
DECISION_LATENCY = "DecisionLatency"  # ms from the request read to the decision stored
PAYOUTS = "Payouts"  # bank, outcome: SETTLED | REJECTED | PENDING (a bank answer applied)
COLLECTIONS = "Collections"  # bank, outcome: SETTLED | REJECTED | PENDING
APPROVAL_TO_ACTIVE = "ApprovalToActive"  # seconds from the loan's approval to ACTIVE
OPEN_PAYMENTS_INQUIRED = "OpenPaymentsInquired"  # kind: payments without outcome 15+ min after sending
FILES = "Files"  # format, outcome: PROCESSED | REJECTED | DUPLICATE
FILE_ROWS = "FileRows"  # outcome: ACCEPTED | REJECTED
SWEEPS = "Sweeps"  # settlement sweeps written (PAYMENT documents)
UNMATCHED_ITEMS = "UnmatchedItems"  # code: why a bank entry or status matched nothing
DAILY_LOANS_READ = "DailyLoansRead"  # step
DAILY_LOANS_WRITTEN = "DailyLoansWritten"  # step
LEDGER_MISMATCH = "LedgerMismatch"  # the daily LEDGER_CHECK: a loan whose postings differ (apply_repayment)

# Each metric's unit and dimensions (besides `service`): the dashboard's widgets (infra) read these.
CATALOGUE: dict[str, tuple[Unit, tuple[str, ...]]] = {
    APPLICATIONS: (Unit.COUNT, ("outcome",)),
    REVIEWS: (Unit.COUNT, ("outcome",)),
    DECISION_LATENCY: (Unit.MILLISECONDS, ()),
    PAYOUTS: (Unit.COUNT, ("bank", "outcome")),
    COLLECTIONS: (Unit.COUNT, ("bank", "outcome")),
    APPROVAL_TO_ACTIVE: (Unit.SECONDS, ()),
    OPEN_PAYMENTS_INQUIRED: (Unit.COUNT, ("kind",)),
    FILES: (Unit.COUNT, ("format", "outcome")),
    FILE_ROWS: (Unit.COUNT, ("outcome",)),
    SWEEPS: (Unit.COUNT, ()),
    UNMATCHED_ITEMS: (Unit.COUNT, ("code",)),
    DAILY_LOANS_READ: (Unit.COUNT, ("step",)),
    DAILY_LOANS_WRITTEN: (Unit.COUNT, ("step",)),
    LEDGER_MISMATCH: (Unit.COUNT, ()),
}


class Metrics(Protocol):
    def put(self, name: str, value: float, unit: Unit = Unit.COUNT, **dimensions: str) -> None:  # float-ok
        """One data point of `name` with these dimensions (besides the function's `service`)."""
        ...


class NoMetrics(Metrics):
    def put(self, name: str, value: float, unit: Unit = Unit.COUNT, **dimensions: str) -> None:  # float-ok
        return None


NO_METRICS: Metrics = NoMetrics()


def daily_step(metrics: Metrics, step: str, loans_read: int, written: int) -> None:
    """A daily step's counts (its `StepResult`): loans read and written, by step."""
    metrics.put(DAILY_LOANS_READ, loans_read, step=step)
    metrics.put(DAILY_LOANS_WRITTEN, written, step=step)
