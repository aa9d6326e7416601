"""`scf ops redrive` and `scf ops rerun-day` against SQS (moto): what moves, what stays, what is
refused. The same code acts on the local stack and on a deployed stage (tests/infra reads the
stage's queues and schedules from the synthesized template)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import boto3
import pytest

from infra.ops.redrive import redrive
from infra.ops.rerun import rerun_day
from infra.ops.target import Schedule, Target, TargetError
from tests.support import REGION

SHANGHAI = "Asia/Shanghai"
DAILY_INPUT = '{"scf": "daily", "step": "%s", "business_date": "<aws.scheduler.scheduled-time>"}'


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def target(sqs: Any) -> Target:
    queues = {}
    for name in ("repayments", "repayments_dlq"):
        queues[name] = sqs.create_queue(QueueName=f"scf-{name}")["QueueUrl"]
    schedules = tuple(
        Schedule(f"Daily{step}", "cron(5 0 * * ? *)", SHANGHAI, queues["repayments"], DAILY_INPUT % step)
        for step in ("OVERDUE", "DUE_SOON")
    )
    return Target("test stack", sqs, queues, schedules)


def bodies(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    found = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return found
        found.extend({"body": m["Body"], "attributes": m.get("MessageAttributes", {})} for m in messages)


def dead_letter(target: Target, count: int) -> None:
    for n in range(count):
        target.sqs.send_message(
            QueueUrl=target.queues["repayments_dlq"],
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"origin": {"DataType": "String", "StringValue": f"test-{n}"}},
        )


def test_redrive_moves_every_dead_letter_back_with_its_body_and_attributes(target: Target) -> None:
    dead_letter(target, 23)

    result = redrive(target, "repayments", progress=False)

    assert (result.waiting, result.moved, result.failed) == (23, 23, 0)
    moved = bodies(target.sqs, target.queues["repayments"])
    assert sorted(json.loads(m["body"])["n"] for m in moved) == list(range(23))
    assert {m["attributes"]["origin"]["StringValue"] for m in moved} == {f"test-{n}" for n in range(23)}
    assert bodies(target.sqs, target.queues["repayments_dlq"]) == []


def test_a_dry_run_counts_and_moves_nothing(target: Target) -> None:
    dead_letter(target, 3)

    result = redrive(target, "repayments_dlq", dry_run=True, progress=False)

    assert (result.waiting, result.moved, result.dry_run) == (3, 0, True)
    assert bodies(target.sqs, target.queues["repayments"]) == []
    assert len(bodies(target.sqs, target.queues["repayments_dlq"])) == 3


def test_max_moves_at_most_that_many(target: Target) -> None:
    dead_letter(target, 5)

    result = redrive(target, "repayments", limit=2, progress=False)

    assert result.moved == 2
    assert len(bodies(target.sqs, target.queues["repayments"])) == 2


def test_an_unknown_queue_is_refused_naming_the_known_ones(target: Target) -> None:
    with pytest.raises(TargetError, match=r"no queue 'payouts'.*repayments"):
        redrive(target, "payouts", progress=False)


def test_rerun_day_sends_each_steps_message_for_that_date(target: Target) -> None:
    sent = rerun_day(target, date(2027, 1, 5), today=date(2027, 1, 6), wait_seconds=None, progress=False)

    assert [s.step for s in sent] == ["OVERDUE", "DUE_SOON"]
    messages = [json.loads(m["body"]) for m in bodies(target.sqs, target.queues["repayments"])]
    # 00:05 in Shanghai on 5 January is 16:05 UTC on the 4th: the handler reads it back as the 5th.
    assert {(m["step"], m["business_date"]) for m in messages} == {
        ("OVERDUE", "2027-01-04T16:05:00Z"),
        ("DUE_SOON", "2027-01-04T16:05:00Z"),
    }


def test_rerun_day_can_send_one_step_only(target: Target) -> None:
    day = date(2027, 1, 5)

    sent = rerun_day(target, day, today=day, steps=("OVERDUE",), wait_seconds=None, progress=False)

    assert [s.step for s in sent] == ["OVERDUE"]


def test_rerun_day_refuses_a_day_not_begun_and_an_unknown_step(target: Target) -> None:
    with pytest.raises(TargetError, match="has not begun"):
        rerun_day(target, date(2027, 1, 7), today=date(2027, 1, 6), wait_seconds=None, progress=False)
    with pytest.raises(TargetError, match="no daily step REFUNDS"):
        rerun_day(target, date(2027, 1, 5), today=date(2027, 1, 6), steps=("REFUNDS",), progress=False)
    assert bodies(target.sqs, target.queues["repayments"]) == []
