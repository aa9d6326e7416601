"""The daily job's loan steps through apply_repayment's queue: `{"scf": "daily", "step",
"business_date"}` next to RepaymentRequested on the repayments queue (contract section 10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from scf.adapters.dynamodb.models import OutboxItem
from tests.reliability.money_harness import MoneyWorld, money_world, sqs_event

pytestmark = pytest.mark.integration

VALUE = date(2026, 1, 1)
MATURITY = VALUE + timedelta(days=30)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def paid_out(world: MoneyWorld) -> MoneyWorld:
    """S1's L1 (30 days) and L2 (40 days), paid out on 2026-01-01."""
    world.set_today(VALUE)
    world.add_supplier("S1", "6217000011113333")
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.approve_loan("L2", "S1", 5_000_000, term_days=40, created_at="2026-01-01T00:00:01+00:00")
    world.deliver("disbursements")
    assert (world.loan("L1").status, world.loan("L2").status) == ("ACTIVE", "ACTIVE")
    return world


def daily(world: MoneyWorld, step: str, business_date: str, receive_count: int = 1) -> dict[str, object]:
    event = sqs_event([{"scf": "daily", "step": step, "business_date": business_date}], receive_count)
    return world.invoke_sqs("repayments", event)


def outbox(event_id: str) -> OutboxItem | None:
    try:
        return OutboxItem.get(*OutboxItem.key(event_id), consistent_read=True)
    except OutboxItem.DoesNotExist:
        return None


def test_the_overdue_step_on_the_queue_stores_overdue_once(paid_out: MoneyWorld) -> None:
    paid_out.set_today(MATURITY)
    assert daily(paid_out, "OVERDUE", MATURITY.isoformat()) == {"batchItemFailures": []}
    assert daily(paid_out, "OVERDUE", MATURITY.isoformat(), receive_count=2) == {"batchItemFailures": []}

    assert (paid_out.loan("L1").status, paid_out.loan("L2").status) == ("OVERDUE", "ACTIVE")
    assert paid_out.exposure("S1").overdue_loans == 1
    event = outbox(f"LoanOverdue-L1-{MATURITY}")
    assert event is not None and event.target == "domain-events" and "6217" not in event.payload
    view = paid_out.api("GET", "/v1/loans/L1", supplier_id="S1")
    assert view.body is not None and view.body["status"] == "OVERDUE"


def test_the_schedules_moment_is_the_business_date_in_the_policys_zone(paid_out: MoneyWorld) -> None:
    """00:05 in Asia/Shanghai on the maturity date is 16:05 UTC the day before."""
    paid_out.set_today(MATURITY)
    moment = f"{MATURITY - timedelta(days=1)}T16:05:00Z"
    assert daily(paid_out, "OVERDUE", moment) == {"batchItemFailures": []}
    assert paid_out.loan("L1").status == "OVERDUE"


def test_the_due_soon_step_announces_once(paid_out: MoneyWorld) -> None:
    day = MATURITY - timedelta(days=3)
    paid_out.set_today(day)
    daily(paid_out, "DUE_SOON", day.isoformat())
    daily(paid_out, "DUE_SOON", day.isoformat())
    assert outbox(f"LoanDueSoon-L1-{MATURITY}") is not None
    assert outbox(f"LoanDueSoon-L2-{MATURITY + timedelta(days=10)}") is None
    assert paid_out.loan("L1").status == "ACTIVE"


def test_a_malformed_daily_message_or_a_day_not_begun_fails_its_record(paid_out: MoneyWorld) -> None:
    paid_out.set_today(MATURITY - timedelta(days=1))
    for step, day in (("REFUND", MATURITY.isoformat()), ("OVERDUE", MATURITY.isoformat())):
        answer = daily(paid_out, step, day)
        assert len(answer["batchItemFailures"]) == 1  # type: ignore[arg-type]
    assert paid_out.loan("L1").status == "ACTIVE"
