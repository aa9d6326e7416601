"""The daily REPUBLISH and LEDGER_CHECK through the handlers, with redelivery: an event whose
message was lost is published again by the next day's job, and however often the job runs and
the event arrives (the first delivery may only have been slow), the consumer's effect happens once.
A loan whose stored balance was corrupted raises the LedgerMismatch metric and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from scf.adapters.dynamodb.models import LoanItem, OutboxItem, RepaymentItem
from scf.clock import FileClock
from tests.reliability.money_harness import TABLE, MoneyWorld, money_world, sqs_event
from tests.reliability.test_money_crashes import post_repayment
from tests.support import OutboxStream

pytestmark = pytest.mark.reliability

DAY = date(2026, 1, 1)
NEXT = DAY + timedelta(days=1)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def daily(world: MoneyWorld, target: str, step: str, day: date) -> dict[str, Any]:
    body = {"scf": "daily", "step": step, "business_date": day.isoformat()}
    answer = world.invoke_sqs(target, sqs_event([body]))
    assert answer["batchItemFailures"] == []
    return answer


def lose(world: MoneyWorld, event_id: str) -> None:
    """The event's first message never reaches its consumer (the harness's pipe skips it)."""
    world.delivered.add(f"OUTBOX#{event_id}")


def deliver_records(world: MoneyWorld, target: str, records: list[dict[str, Any]], times: int) -> None:
    for receive in range(1, times + 1):
        answer = world.invoke_sqs(target, sqs_event(records, receive))
        assert answer["batchItemFailures"] == []


def active_loan(world: MoneyWorld) -> None:
    world.set_today(DAY)
    world.add_supplier("S1", "6217000011113333")
    world.approve_loan("L1", "S1", 1_000_000)
    world.deliver("disbursements")
    assert world.loan("L1").status == "ACTIVE"


def test_a_lost_repayment_republished_twice_and_delivered_twice_is_applied_once(
    world: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    active_loan(world)
    repayment_id = post_repayment(world, "1000.00", "k1")
    lose(world, f"RepaymentRequested-{repayment_id}")
    stream = OutboxStream(TABLE)
    stream.records("repayments")  # what the pipe sent before: the lost first message
    world.set_today(NEXT)
    an_hour_later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(FileClock, "now", lambda _: an_hour_later)  # the request is an hour old

    daily(world, "repayments", "REPUBLISH", NEXT)
    daily(world, "repayments", "REPUBLISH", NEXT)  # the job's message delivered twice

    republished = stream.records("repayments")
    assert [r["eventName"] for r in republished] == ["MODIFY"]
    deliver_records(world, "repayments", republished, times=2)
    repayment = RepaymentItem.get(*RepaymentItem.key(repayment_id), consistent_read=True)
    assert (repayment.status, repayment.gsi2pk) == ("APPLIED", None)
    assert [p.posting_id for p in world.postings("L1")].count(f"REPAYMENT#{repayment_id}") == 1
    assert world.bank.applied(repayment_id) == 1
    world.assert_ledger_matches_loan("L1")

    world.set_today(NEXT + timedelta(days=1))
    daily(world, "repayments", "REPUBLISH", NEXT + timedelta(days=1))  # applied: nothing to publish
    assert stream.records("repayments") == []


def test_a_lost_approval_is_paid_out_once_after_the_next_days_republish(world: MoneyWorld) -> None:
    world.set_today(DAY)
    world.add_supplier("S1", "6217000011113333")
    world.approve_loan("L1", "S1", 1_000_000)
    lose(world, "LoanApproved-L1")
    stream = OutboxStream(TABLE)
    (first,) = stream.records("disbursements")  # slow, not lost: it arrives after the republish
    world.set_today(NEXT)

    daily(world, "disbursements", "REPUBLISH", NEXT)
    republished = stream.records("disbursements")
    deliver_records(world, "disbursements", republished, times=2)
    deliver_records(world, "disbursements", [first], times=1)

    assert world.loan("L1").status == "ACTIVE"
    assert world.bank.applied("PAYL1") == 1
    assert OutboxItem.get(*OutboxItem.key("LoanApproved-L1")).republished_on == NEXT.isoformat()


def test_a_corrupted_balance_raises_the_mismatch_metric_and_writes_nothing(
    world: MoneyWorld, capfd: pytest.CaptureFixture[str]
) -> None:
    active_loan(world)  # paid out on DAY: its marker is TOUCHED#DAY
    world.loan("L1").update(actions=[LoanItem.outstanding_principal_minor.set(999_999)])  # by hand
    before = table_items()
    world.set_today(NEXT)
    capfd.readouterr()

    daily(world, "repayments", "LEDGER_CHECK", NEXT)
    daily(world, "repayments", "LEDGER_CHECK", NEXT)  # rerun: the same answer, still no write

    assert table_items() == before
    out, err = capfd.readouterr()
    lines = [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "LedgerMismatch" in line]
    assert len(metrics) == 2
    assert metrics[0]["LedgerMismatch"] == [1.0]
    assert metrics[0]["loan_id"] == "L1"
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "scf-test"
    assert "6217000011113333" not in json.dumps(metrics)  # ids and amounts only


def test_a_consistent_ledger_raises_nothing(world: MoneyWorld, capfd: pytest.CaptureFixture[str]) -> None:
    active_loan(world)
    world.set_today(NEXT)
    capfd.readouterr()

    daily(world, "repayments", "LEDGER_CHECK", NEXT)

    assert "LedgerMismatch" not in capfd.readouterr().out


def table_items() -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = [i for page in client.get_paginator("scan").paginate(TableName=TABLE) for i in page["Items"]]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
