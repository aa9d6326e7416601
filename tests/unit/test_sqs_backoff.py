"""The paying functions' batch processor: a record failed for want of a dependency (`Unavailable`)
is made visible again after a short, doubling delay by its receive count; other failures, and a
visibility that cannot be changed, keep the queue's own timeout. The record is reported failed
either way."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from scf.adapters.sqs import BackoffBatchProcessor, backoff_seconds, queue_url_of
from scf.errors import Conflict, Unavailable
from scf.service.payments import BankUnavailable

ARN = "arn:aws:sqs:eu-west-1:123456789012:scf-disbursements"
ENDPOINT = "https://sqs.eu-west-1.amazonaws.com"


class Meta:
    endpoint_url = ENDPOINT


class RecordingSqs:
    """The ChangeMessageVisibility calls made; `fail` makes each of them raise."""

    meta = Meta()

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def change_message_visibility(self, **call: Any) -> None:
        self.calls.append(call)
        if self.fail:
            raise RuntimeError("AccessDenied")


def event(receive_count: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "handle-1",
                "body": "{}",
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": ARN,
                "awsRegion": "eu-west-1",
            }
        ]
    }


def failing_with(error: Exception) -> Any:
    def record_handler(record: SQSRecord) -> None:
        raise error

    return record_handler


def run(client: RecordingSqs, error: Exception, receive_count: int = 1) -> dict[str, Any]:
    processor = BackoffBatchProcessor(Logger(service="test"), client=client)
    # One record only: its failure is the whole batch's, which Powertools raises unless told not to.
    processor.raise_on_entire_batch_failure = False
    return dict(process_partial_response(event(receive_count), failing_with(error), processor))


def test_the_backoff_doubles_from_five_seconds_then_leaves_the_queue_timeout() -> None:
    schedule = [backoff_seconds(count) for count in range(1, 7)]
    assert schedule == [5, 10, 20, None, None, None]
    assert all(delay < 120 for delay in schedule[:3] if delay is not None)  # well below 720 s


def test_the_queue_url_is_the_arns_queue_on_the_clients_endpoint() -> None:
    assert queue_url_of(ARN, ENDPOINT + "/") == f"{ENDPOINT}/123456789012/scf-disbursements"


@pytest.mark.parametrize("error", [BankUnavailable("no outcome"), Unavailable("secrets down")])
def test_an_unavailable_dependency_makes_the_record_visible_soon(error: Exception) -> None:
    client = RecordingSqs()
    answer = run(client, error, receive_count=2)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert client.calls == [
        {
            "QueueUrl": f"{ENDPOINT}/123456789012/scf-disbursements",
            "ReceiptHandle": "handle-1",
            "VisibilityTimeout": 10,
        }
    ]


@pytest.mark.parametrize(
    ("error", "receive_count"),
    [(Conflict("refused"), 1), (ValueError("poison"), 1), (BankUnavailable("still down"), 4)],
)
def test_other_failures_and_late_receives_keep_the_timeout(error: Exception, receive_count: int) -> None:
    client = RecordingSqs()
    answer = run(client, error, receive_count)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert client.calls == []


def test_a_visibility_that_cannot_be_changed_still_reports_the_record_failed() -> None:
    client = RecordingSqs(fail=True)
    answer = run(client, BankUnavailable("no outcome"))
    assert len(client.calls) == 1
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
