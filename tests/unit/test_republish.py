"""The daily REPUBLISH (RepublishService, contract section 10) on fakes: an event older than 15
minutes whose effect has not happened goes out again, once per business date; a young event, or
one whose effect happened, does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.errors import InvalidInput
from scf.events import LOAN_APPROVED, REPAYMENT_REQUESTED
from scf.service.lending_day import Step
from scf.service.republish import RepublishService
from tests.fakes import FakeLoanStore, FakeRepublishStore, a_loan

pytestmark = pytest.mark.unit

DAY = date(2026, 2, 10)
RUN_AT = datetime(2026, 2, 9, 16, 5, tzinfo=UTC)  # 00:05 on DAY in Asia/Shanghai
TZ = "Asia/Shanghai"


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def a_repayment(repayment_id: str, status: RepaymentStatus = RepaymentStatus.PENDING) -> Repayment:
    return Repayment(
        repayment_id=repayment_id,
        loan_id="PAID-OUT",
        supplier_id="S1",
        status=status,
        source=RepaymentSource.SUPPLIER,
        amount_minor=100_000,
        currency="CNY",
    )


@pytest.fixture
def store() -> FakeRepublishStore:
    loans = FakeLoanStore()
    loans.add_loan(a_loan(loan_id="OLD"), created_at=stamp(RUN_AT - timedelta(minutes=16)))
    loans.add_loan(a_loan(loan_id="YOUNG"), created_at=stamp(RUN_AT - timedelta(minutes=14)))
    loans.add_loan(
        a_loan(loan_id="DISBURSING", status=LoanStatus.DISBURSING),
        created_at=stamp(RUN_AT - timedelta(days=1)),
    )
    loans.add_loan(a_loan(loan_id="PAID-OUT", value_date=DAY - timedelta(days=2)))
    requested = {}
    for repayment_id, age, status in (
        ("R-OLD", timedelta(hours=3), RepaymentStatus.PENDING),
        ("R-YOUNG", timedelta(minutes=5), RepaymentStatus.PENDING),
        ("R-APPLIED", timedelta(hours=3), RepaymentStatus.APPLIED),
        ("R-FAILED", timedelta(hours=3), RepaymentStatus.FAILED),
    ):
        loans.repayments[repayment_id] = a_repayment(repayment_id, status)
        requested[repayment_id] = RUN_AT - age
    return FakeRepublishStore(loans, requested)


def job(
    store: FakeRepublishStore, *events: str, now: datetime = RUN_AT, today: date = DAY
) -> RepublishService:
    owned = frozenset(events) or frozenset({LOAN_APPROVED, REPAYMENT_REQUESTED})
    return RepublishService(store, FixedClock(today, now), TZ, events=owned)


def test_an_old_event_whose_effect_has_not_happened_is_published_again(store: FakeRepublishStore) -> None:
    result = job(store).run(DAY)

    assert store.published == ["LoanApproved-OLD", "RepaymentRequested-R-OLD"]
    assert (result.step, result.written) == (Step.REPUBLISH, 2)


def test_an_event_younger_than_15_minutes_is_left_to_its_first_delivery(store: FakeRepublishStore) -> None:
    job(store).run(DAY)

    assert "LoanApproved-YOUNG" not in store.published
    assert "RepaymentRequested-R-YOUNG" not in store.published


def test_an_event_whose_effect_happened_is_not_published_again(store: FakeRepublishStore) -> None:
    job(store).run(DAY)

    assert not {
        "LoanApproved-DISBURSING",
        "RepaymentRequested-R-APPLIED",
        "RepaymentRequested-R-FAILED",
    } & set(store.published)


def test_a_second_run_of_the_same_day_publishes_nothing_again(store: FakeRepublishStore) -> None:
    job(store).run(DAY)

    again = job(store).run(DAY)

    assert again.written == 0
    assert len(store.published) == 2


def test_a_rerun_later_that_day_publishes_only_what_became_old_since(store: FakeRepublishStore) -> None:
    job(store).run(DAY)

    later = job(store, now=RUN_AT + timedelta(hours=1)).run(DAY)

    assert store.published[2:] == ["LoanApproved-YOUNG", "RepaymentRequested-R-YOUNG"]
    assert later.written == 2


def test_the_next_day_publishes_again_what_still_has_not_happened(store: FakeRepublishStore) -> None:
    job(store).run(DAY)
    store.loans.loans["OLD"].loan = replace(store.loans.loans["OLD"].loan, status=LoanStatus.DISBURSING)

    tomorrow = DAY + timedelta(days=1)
    nxt = job(store, now=RUN_AT + timedelta(days=1), today=tomorrow).run(tomorrow)

    assert store.published[2:] == [
        "LoanApproved-YOUNG",
        "RepaymentRequested-R-OLD",
        "RepaymentRequested-R-YOUNG",
    ]
    assert nxt.written == 3


def test_each_function_publishes_only_the_events_it_owns(store: FakeRepublishStore) -> None:
    job(store, REPAYMENT_REQUESTED).run(DAY)

    assert store.published == ["RepaymentRequested-R-OLD"]


def test_a_business_day_ahead_of_the_wall_clock_counts_from_its_own_moment() -> None:
    """The local clock set to a later day: the job's moment is that day's 00:05 business time, so
    an event written a minute ago by the wall clock was written on an earlier business day."""
    wall = RUN_AT - timedelta(days=5)
    loans = FakeLoanStore()
    loans.add_loan(a_loan(loan_id="MINUTE-AGO"), created_at=stamp(wall - timedelta(minutes=1)))
    store = FakeRepublishStore(loans)

    job(store, now=wall).run(DAY)

    assert store.published == ["LoanApproved-MINUTE-AGO"]


def test_a_day_not_begun_is_refused(store: FakeRepublishStore) -> None:
    with pytest.raises(InvalidInput):
        job(store).run(DAY + timedelta(days=1))

    assert store.published == []
