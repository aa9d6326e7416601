"""A record that failed because the bank was unavailable is visible again on its queue within
seconds (scf.adapters.sqs.BackoffBatchProcessor), not after the queue's 720 s visibility timeout;
a record that failed for any other reason keeps that timeout. Real queues in moto, the messages
received and handed to disburse / apply_repayment as Lambda's event source mapping does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.pollers import sqs_record
from tests.integration.test_apply_repayment import repay
from tests.reliability.money_harness import REGION, MoneyWorld, money_world

pytestmark = pytest.mark.integration

ACCOUNT = "6217000011113333"
QUEUE_TIMEOUT = "720"  # disburse's and apply_repayment's: 6 x 120 s
WAIT_SECONDS = 60.0  # generous: the first backoff is 5 s


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


class Queue:
    """One queue in moto as the function's event source mapping reads it."""

    def __init__(self, name: str) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": QUEUE_TIMEOUT})[
            "QueueUrl"
        ]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        self.arn = attributes["Attributes"]["QueueArn"]

    def send(self, bodies: list[Any]) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(body))

    def receive(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], WaitTimeSeconds=0
        )
        return list(answer.get("Messages", []))

    def visible_again(self) -> list[dict[str, Any]]:
        """The messages visible again within WAIT_SECONDS (received: invisible again)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            messages = self.receive()
            if messages:
                return messages
            time.sleep(0.5)
        return []

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [sqs_record(message, self.arn, REGION) for message in messages]}


def failed_bodies(answer: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    return sorted(m["Body"] for m in messages if m["MessageId"] in failed)


def bank_down_then_back(world: MoneyWorld, target: str) -> None:
    """The first delivery of `target` fails with BankUnavailable next to a poison message; the bank's
    record comes back within seconds on its second receive and succeeds; the poison one does not."""
    queue = Queue(target)
    pending = world.pending(target)
    assert len(pending) == 1
    queue.send([*pending, {"not": "a stream record"}])
    world.bank.faults.lose_answer_next = 1  # the order's answer is lost ...
    world.bank.faults.status_unavailable = True  # ... and the bank cannot be asked: BankUnavailable
    first = queue.receive()
    assert len(first) == 2
    answer = world.invoke_sqs(target, queue.event(first))
    assert len(failed_bodies(answer, first)) == 2

    world.bank.faults.status_unavailable = False
    again = queue.visible_again()

    assert [json.loads(m["Body"]) for m in again] == pending  # the poison message keeps its 720 s
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert world.invoke_sqs(target, queue.event(again)) == {"batchItemFailures": []}


def test_a_payout_whose_bank_was_briefly_down_is_retried_within_seconds(world: MoneyWorld) -> None:
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)

    bank_down_then_back(world, "disbursements")

    assert world.loan("L1").status == "ACTIVE"
    assert world.bank.applied("PAYL1") == 1


def test_a_collection_whose_bank_was_briefly_down_is_retried_within_seconds(world: MoneyWorld) -> None:
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    repayment_id = repay(world, "500.00", "k-blip")

    bank_down_then_back(world, "repayments")

    repayment = world.api("GET", f"/v1/repayments/{repayment_id}", supplier_id="S1").body
    assert repayment["status"] == "APPLIED"
