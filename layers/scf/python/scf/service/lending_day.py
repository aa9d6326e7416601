"""The lending day (contract section 10), the steps owned by the loan side: OVERDUE marking at
maturity and `LoanDueSoon` `due_soon_days` (policy) before it. Each step is idempotent for its
business date (a second run finds no loan with work left, or writes nothing it already wrote) and
reads only the loans it has work for (the store's index by status and maturity, never the table).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from scf.clock import Clock
from scf.domain.loan import LoanStatus
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.errors import InvalidInput, MalformedRequest
from scf.service.loan_store import ATTEMPTS, LoanRecord, LoanStore, StaleWrite
from scf.service.metrics import NO_METRICS, Metrics, daily_step

DAILY = "daily"  # the `scf` field of a daily-job queue message
DAILY_AT = time(0, 5)  # the job's moment on its business date, business time (infra/constructs/daily.py)


class Step(StrEnum):
    OVERDUE = "OVERDUE"
    DUE_SOON = "DUE_SOON"
    INQUIRE = "INQUIRE"  # scf.service.inquiries: run by disburse and by apply_repayment
    REFUND = "REFUND"  # scf.service.refunds.RefundService
    REPUBLISH = "REPUBLISH"  # scf.service.republish
    LEDGER_CHECK = "LEDGER_CHECK"  # scf.service.ledger_check


class MalformedDailyMessage(MalformedRequest):
    default_code = "MALFORMED_DAILY_MESSAGE"


@dataclass(frozen=True)
class DailyMessage:
    step: Step
    business_date: date
    at: datetime | None = None  # the schedule's moment, when the message gives one


def is_daily_message(body: str | dict[str, Any]) -> bool:
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("scf") == DAILY


def daily_message(body: str | dict[str, Any], timezone: str) -> DailyMessage:
    """`{"scf": "daily", "step": <a Step>, "business_date": ...}`: a date
    (YYYY-MM-DD) or a moment with its offset (the schedule's `<aws.scheduler.scheduled-time>`),
    which is the business date it falls on in the policy's time zone."""
    try:
        data = json.loads(body) if isinstance(body, str) else body
        step = Step(data["step"])
        raw = str(data["business_date"])
        moment = None
        if len(raw) == 10:
            business_date = date.fromisoformat(raw)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("a moment needs its offset")
            business_date = moment.astimezone(ZoneInfo(timezone)).date()
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedDailyMessage(f"not a daily-job message: {exc}") from exc
    return DailyMessage(step, business_date, moment)


@dataclass(frozen=True)
class StepResult:
    step: Step
    business_date: date
    loans_read: int
    written: int
    mismatches: int | None = None  # LEDGER_CHECK only

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "step": self.step.value,
            "business_date": self.business_date.isoformat(),
            "loans_read": self.loans_read,
            "written": self.written,
        }
        if self.mismatches is not None:
            result["mismatches"] = self.mismatches
        return result


class StepNotOwned(MalformedRequest):
    """A daily message for a step this function does not run (a schedule sent it to the wrong queue)."""

    default_code = "DAILY_STEP_NOT_OWNED"


@dataclass(frozen=True)
class DailyJob:
    """The daily steps one function owns, each `run(business_date) -> StepResult`; `timezone` is
    the policy's, in which a scheduled moment falls on its business date."""

    steps: Mapping[Step, Callable[[DailyMessage], StepResult]]
    timezone: str
    metrics: Metrics = NO_METRICS

    def handle(self, body: str | dict[str, Any]) -> StepResult:
        """Run the step a daily-job queue message asks for (`daily_message`)."""
        return self.run_message(daily_message(body, self.timezone))

    def run(self, step: Step, business_date: date) -> StepResult:
        return self.run_message(DailyMessage(step, business_date))

    def run_message(self, message: DailyMessage) -> StepResult:
        if message.step not in self.steps:
            raise StepNotOwned(f"step {message.step} is not run by this function")
        result = self.steps[message.step](message)
        daily_step(self.metrics, result.step, result.loans_read, result.written)
        return result


def dated(step: Callable[[date], StepResult]) -> Callable[[DailyMessage], StepResult]:
    """A step that needs only the message's business date."""
    return lambda message: step(message.business_date)


def begun(business_date: date, clock: Clock) -> date:
    """`business_date`, refused when it is after today: a daily step runs for a day begun."""
    if business_date > clock.today():
        raise InvalidInput(
            f"business date {business_date} is after today {clock.today()}",
            code="BUSINESS_DATE_IN_FUTURE",
            field="business_date",
        )
    return business_date


@dataclass(frozen=True)
class LendingDayService:
    loans: LoanStore
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY

    def run(self, step: Step, business_date: date) -> StepResult:
        begun(business_date, self.clock)
        if step is Step.OVERDUE:
            return self._mark_overdue(business_date)
        if step is Step.DUE_SOON:
            return self._announce_due_soon(business_date)
        raise StepNotOwned(f"step {step} is not a loan-status step")

    def _mark_overdue(self, business_date: date) -> StepResult:
        """Every ACTIVE loan whose maturity date has come is stored OVERDUE with its event."""
        candidates = self.loans.active_loans_maturing_by(business_date)
        written = sum(self._mark_one(record, business_date) for record in candidates)
        return StepResult(Step.OVERDUE, business_date, len(candidates), written)

    def _mark_one(self, record: LoanRecord | None, business_date: date) -> int:
        for _ in range(ATTEMPTS):
            if (
                record is None
                or record.loan.status is not LoanStatus.ACTIVE
                or record.loan.maturity_date is None
                or record.loan.maturity_date > business_date
            ):
                return 0  # repaid, extended or marked by another run meanwhile: no work left
            loan = record.loan.mark_overdue(business_date)
            try:
                self.loans.mark_overdue(
                    record, loan, loan.overdue_event(), business_date=business_date, now=self.clock.now()
                )
                return 1
            except StaleWrite:
                # The index is eventually consistent and a repayment may have moved the loan:
                # decide again on the loan as stored now.
                record = self.loans.get_loan(record.loan.loan_id)
        raise StaleWrite([f"loan {record.loan.loan_id if record else '?'} kept moving"])

    def _announce_due_soon(self, business_date: date) -> StepResult:
        """`LoanDueSoon` for every ACTIVE loan maturing `due_soon_days` later, once per maturity."""
        maturity = business_date + timedelta(days=self.policy.due_soon_days)
        candidates = self.loans.active_loans_maturing_on(maturity)
        now = self.clock.now()
        written = 0
        for record in candidates:
            if record.loan.maturity_date != maturity:
                continue
            written += self.loans.announce(record, record.loan.due_soon_event(), now)
        return StepResult(Step.DUE_SOON, business_date, len(candidates), written)
