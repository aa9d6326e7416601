"""The lending day's loan steps (LendingDayService, contract section 10) on the in-memory store:
OVERDUE marking at maturity and LoanDueSoon `due_soon_days` before it, each idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from scf.clock import FixedClock
from scf.domain.loan import Loan, LoanStatus
from scf.domain.policy import DEFAULT_POLICY
from scf.errors import InvalidInput
from scf.service.lending_day import (
    DailyJob,
    LendingDayService,
    MalformedDailyMessage,
    Step,
    StepNotOwned,
    StepResult,
    daily_message,
    dated,
    is_daily_message,
)
from tests.fakes import FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

DAY = date(2026, 2, 10)


def maturing(loan_id: str, maturity: date, **fields: object) -> Loan:
    """An ACTIVE loan of S1 maturing on `maturity` (paid out 30 days before)."""
    return a_loan(loan_id=loan_id, value_date=maturity - timedelta(days=30), **fields)


def job(store: FakeLoanStore, today: date = DAY) -> LendingDayService:
    return LendingDayService(loans=store, clock=FixedClock(today, datetime(2026, 2, 9, 16, 5, tzinfo=UTC)))


def statuses(store: FakeLoanStore) -> dict[str, LoanStatus]:
    return {loan_id: stored.loan.status for loan_id, stored in store.loans.items()}


@pytest.fixture
def store() -> FakeLoanStore:
    store = FakeLoanStore()
    store.add_loan(maturing("EARLIER", DAY - timedelta(days=5)))  # a day the job did not run
    store.add_loan(maturing("TODAY", DAY))
    store.add_loan(maturing("TOMORROW", DAY + timedelta(days=1)))
    store.add_loan(maturing("SOON", DAY + timedelta(days=DEFAULT_POLICY.due_soon_days)))
    store.add_loan(maturing("USD", DAY, currency="USD"))
    store.add_loan(maturing("ALREADY", DAY - timedelta(days=1), status=LoanStatus.OVERDUE))
    store.add_loan(maturing("PAID", DAY - timedelta(days=1), status=LoanStatus.REPAID))
    return store


def test_overdue_marks_exactly_the_active_loans_at_or_after_maturity(store: FakeLoanStore) -> None:
    result = job(store).run(Step.OVERDUE, DAY)

    assert (result.loans_read, result.written) == (3, 3)
    assert statuses(store) == {
        "EARLIER": LoanStatus.OVERDUE,
        "TODAY": LoanStatus.OVERDUE,
        "TOMORROW": LoanStatus.ACTIVE,
        "SOON": LoanStatus.ACTIVE,
        "USD": LoanStatus.OVERDUE,
        "ALREADY": LoanStatus.OVERDUE,
        "PAID": LoanStatus.REPAID,
    }
    assert store.exposure("S1", "CNY").overdue_loans == 3  # ALREADY, EARLIER, TODAY
    assert store.exposure("S1", "USD").overdue_loans == 1
    assert sorted(store.outbox) == [
        f"LoanOverdue-EARLIER-{DAY - timedelta(days=5)}",
        f"LoanOverdue-TODAY-{DAY}",
        f"LoanOverdue-USD-{DAY}",
    ]


def test_overdue_run_again_for_the_same_day_changes_nothing(store: FakeLoanStore) -> None:
    job(store).run(Step.OVERDUE, DAY)
    before = (statuses(store), dict(store.outbox), store.exposure("S1", "CNY").overdue_loans)

    again = job(store).run(Step.OVERDUE, DAY)

    assert (again.loans_read, again.written) == (0, 0)
    assert (statuses(store), dict(store.outbox), store.exposure("S1", "CNY").overdue_loans) == before


def test_overdue_skips_a_loan_a_repayment_moved_after_the_read(store: FakeLoanStore) -> None:
    candidates = store.active_loans_maturing_by(DAY)
    moved = store.loans["TODAY"]
    store.loans["TODAY"] = type(moved)(
        loan=moved.loan.repay(moved.loan.position(DAY).payoff, DAY - timedelta(days=1)).loan,
        version=(moved.version or 0) + 1,
        created_at=moved.created_at,
    )
    stale_store = FakeLoanStore()
    stale_store.__dict__.update(store.__dict__)
    stale_store.active_loans_maturing_by = lambda day: candidates  # type: ignore[method-assign]

    result = job(stale_store).run(Step.OVERDUE, DAY)

    assert result.written == 2 and store.loans["TODAY"].loan.status is LoanStatus.REPAID
    assert f"LoanOverdue-TODAY-{DAY}" not in store.outbox


def test_a_business_date_not_begun_is_refused(store: FakeLoanStore) -> None:
    with pytest.raises(InvalidInput) as refused:
        job(store, today=DAY).run(Step.OVERDUE, DAY + timedelta(days=1))
    assert refused.value.code == "BUSINESS_DATE_IN_FUTURE"
    assert statuses(store)["TOMORROW"] is LoanStatus.ACTIVE


def test_due_soon_announces_loans_maturing_due_soon_days_later_once(store: FakeLoanStore) -> None:
    first = job(store).run(Step.DUE_SOON, DAY)
    again = job(store).run(Step.DUE_SOON, DAY)

    soon = DAY + timedelta(days=DEFAULT_POLICY.due_soon_days)
    assert (first.loans_read, first.written) == (1, 1)
    assert (again.loans_read, again.written) == (1, 0)
    assert [e for e in store.outbox if e.startswith("LoanDueSoon")] == [f"LoanDueSoon-SOON-{soon}"]
    assert store.outbox[f"LoanDueSoon-SOON-{soon}"].payload["maturity_date"] == soon.isoformat()
    assert statuses(store)["SOON"] is LoanStatus.ACTIVE


def test_due_soon_follows_the_policys_days(store: FakeLoanStore) -> None:
    service = LendingDayService(
        loans=store,
        clock=FixedClock(DAY),
        policy=replace(DEFAULT_POLICY, due_soon_days=1),
    )
    result = service.run(Step.DUE_SOON, DAY)
    assert result.written == 1 and f"LoanDueSoon-TOMORROW-{DAY + timedelta(days=1)}" in store.outbox


def test_the_daily_message_is_a_date_or_the_schedules_moment_in_the_policys_zone() -> None:
    body = '{"scf": "daily", "step": "OVERDUE", "business_date": "2026-02-10"}'
    assert is_daily_message(body) and not is_daily_message('{"dynamodb": {}}')
    assert daily_message(body, "Asia/Shanghai").business_date == DAY
    # 00:05 in Shanghai is 16:05 UTC the day before: the business date is Shanghai's.
    scheduled = {"scf": "daily", "step": "DUE_SOON", "business_date": "2026-02-09T16:05:00Z"}
    message = daily_message(scheduled, "Asia/Shanghai")
    assert (message.step, message.business_date) == (Step.DUE_SOON, DAY)
    for bad in (
        {"scf": "daily", "step": "SING", "business_date": "2026-02-10"},
        {"scf": "daily", "step": "OVERDUE", "business_date": "2026-02-09T16:05:00"},
        {"scf": "daily", "step": "OVERDUE"},
    ):
        with pytest.raises(MalformedDailyMessage):
            daily_message(bad, "Asia/Shanghai")


def test_a_function_runs_only_the_daily_steps_it_owns() -> None:
    ran: list[date] = []

    def republish(day: date) -> StepResult:
        ran.append(day)
        return StepResult(Step.REPUBLISH, day, 0, 0)

    job = DailyJob({Step.REPUBLISH: dated(republish)}, "Asia/Shanghai")
    body = {"scf": "daily", "step": "REPUBLISH", "business_date": "2026-02-09T16:05:00Z"}

    assert job.handle(body).business_date == DAY
    with pytest.raises(StepNotOwned):
        job.handle(body | {"step": "OVERDUE"})
    assert ran == [DAY]
