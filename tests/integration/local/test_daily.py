"""The daily job in the local stack: the synthesized template's table has the job's index and its
schedules name the queues of the functions owning the steps; `fire` sends each day's messages in
order and returns once they are consumed (what `scf local clock set` forward does)."""

from __future__ import annotations

import json
import threading
import time
from datetime import date

import pytest

from infra.local.daily import DailyJobError, days_passed, fire, fires_at
from infra.local.emulator import client, deploy
from infra.local.template import Template

pytestmark = pytest.mark.integration


def test_the_synthesized_stack_creates_the_loans_by_status_index_in_moto(
    synthesized: Template, moto_endpoint: str
) -> None:
    deployed = deploy(synthesized, moto_endpoint, "us-east-1", stack_name="daily")
    (table_id,) = [lid for lid, _ in synthesized.of_type("AWS::DynamoDB::Table")]
    dynamodb = client("dynamodb", moto_endpoint, "us-east-1")
    table = dynamodb.describe_table(TableName=deployed.physical_ids[table_id])["Table"]
    indexes = {index["IndexName"]: index["KeySchema"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes["gsi2"] == [
        {"AttributeName": "gsi2pk", "KeyType": "HASH"},
        {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
    ]
    schedules = synthesized.schedules()
    queue_of = {t.queue_logical_id: t.function for t in synthesized.queue_triggers()}
    owned = {(queue_of[s.queue_logical_id], json.loads(s.input)["step"]) for s in schedules}
    assert owned == {
        ("apply_repayment", "OVERDUE"),
        ("apply_repayment", "DUE_SOON"),
        ("apply_repayment", "INQUIRE"),
        ("apply_repayment", "REFUND"),
        ("apply_repayment", "REPUBLISH"),
        ("apply_repayment", "LEDGER_CHECK"),
        ("disburse", "INQUIRE"),
        ("disburse", "REPUBLISH"),
    }
    assert all(deployed.queue_url(s.queue_logical_id).startswith("http") for s in schedules)


def test_a_schedule_fires_at_its_time_in_its_zone() -> None:
    assert fires_at("cron(5 0 * * ? *)", "Asia/Shanghai", date(2026, 2, 10)).isoformat() == (
        "2026-02-09T16:05:00+00:00"
    )
    assert days_passed(date(2026, 1, 30), date(2026, 2, 2)) == [
        date(2026, 1, 31),
        date(2026, 2, 1),
        date(2026, 2, 2),
    ]
    assert days_passed(date(2026, 2, 2), date(2026, 2, 1)) == []
    with pytest.raises(DailyJobError):
        fires_at("rate(1 day)", "UTC", date(2026, 1, 1))


def test_each_days_messages_are_consumed_before_the_next_days_are_sent(moto_endpoint: str) -> None:
    sqs = client("sqs", moto_endpoint, "us-east-1")
    queue_url = sqs.create_queue(QueueName="repayments")["QueueUrl"]
    template = '{"scf": "daily", "step": "%s", "business_date": "<aws.scheduler.scheduled-time>"}'
    env = {
        "aws_endpoint_url": moto_endpoint,
        "region": "us-east-1",
        "schedules": [
            {
                "queue_url": queue_url,
                "expression": "cron(5 0 * * ? *)",
                "timezone": "Asia/Shanghai",
                "input": template % step,
            }
            for step in ("OVERDUE", "DUE_SOON")
        ],
    }
    batches: list[list[str]] = []  # the business dates of each batch the worker received
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            time.sleep(0.2)  # the function at work
            if messages:
                batches.append([json.loads(message["Body"])["business_date"] for message in messages])
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        sent = fire(env, days_passed(date(2026, 1, 30), date(2026, 2, 1)), timeout=20)
    finally:
        stop.set()
        thread.join(5)

    assert [json.loads(body)["step"] for _, body in sent] == ["OVERDUE", "DUE_SOON"] * 2
    moments = [json.loads(body)["business_date"] for _, body in sent]
    assert moments == ["2026-01-30T16:05:00Z"] * 2 + ["2026-01-31T16:05:00Z"] * 2
    # Every message was consumed before fire returned, one day at a time, oldest first: no batch
    # the worker received mixes two days.
    received = [moment for batch in batches for moment in batch]
    assert sorted(received) == sorted(moments) and received == sorted(received)
    assert all(len(set(batch)) == 1 for batch in batches)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_stack_without_schedules_fires_nothing() -> None:
    env: dict[str, object] = {"region": "us-east-1"}  # no schedules, no endpoint: nothing to reach

    sent = fire(env, [date(2026, 1, 2), date(2026, 1, 3)])

    assert sent == []
