"""The daily LEDGER_CHECK (contract section 10): for every loan touched on the day before the
business date (the day that just ended), its postings must sum to its stored balances. A
mismatch is logged and raised as an alarm; nothing is written, so the step is idempotent and can
be rerun for any day whose markers are kept (docs/operations.md, "LedgerMismatch")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ledger import Posting, differences
from scf.service.lending_day import Step, StepResult, begun
from scf.service.loan_store import LoanStore

logger = Logger(child=True)


class LedgerReader(Protocol):
    def postings_of(self, loan_id: str) -> list[Posting]:
        """Every posting of the loan (strongly consistent)."""
        ...

    def touched_loans(self, business_date: date) -> list[str]:
        """The loans whose balances or ledger moved on that business date (an index, never a scan)."""
        ...


@dataclass(frozen=True)
class LedgerMismatch:
    loan_id: str
    checked_day: date
    accounts: dict[str, tuple[int, int]]  # ledger account -> (stored balance, sum of postings)


class MismatchAlarm(Protocol):
    def raise_alarm(self, mismatch: LedgerMismatch) -> None:
        """Make the mismatch seen (a metric the `LedgerMismatch` alarm watches)."""
        ...


@dataclass(frozen=True)
class LedgerCheckService:
    loans: LoanStore
    ledger: LedgerReader
    alarm: MismatchAlarm
    clock: Clock

    def run(self, business_date: date) -> StepResult:
        begun(business_date, self.clock)
        day = business_date - timedelta(days=1)
        touched = self.ledger.touched_loans(day)
        found = 0
        for loan_id in touched:
            record = self.loans.get_loan(loan_id)
            if record is None:
                continue  # a marker without a loan cannot be (same transaction); nothing to compare
            different = differences(record.loan.ledger_balances(), self.ledger.postings_of(loan_id))
            if different:
                found += 1
                mismatch = LedgerMismatch(loan_id, day, different)
                logger.error(
                    "ledger mismatch: postings do not sum to the stored balances",
                    extra={
                        "loan_id": loan_id,
                        "day": day.isoformat(),
                        "accounts": {name: {"stored": s, "posted": p} for name, (s, p) in different.items()},
                    },
                )
                self.alarm.raise_alarm(mismatch)
        return StepResult(Step.LEDGER_CHECK, business_date, len(touched), 0, mismatches=found)
