"""Queue consumers (Lambda's SQS event source mapping) and the outbox pipe, against moto."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from infra.local.emulator import client
from infra.local.pattern import parse_pattern
from infra.local.pollers import Activity, PipeTarget, QueueConsumer, StreamPipe, failed_message_ids
from infra.local.worker import InvokeResult

REGION = "us-east-1"


class Recorder:
    def __init__(self, answer: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: InvokeResult(ok=True, payload={"batchItemFailures": []}))

    def __call__(self, event: dict[str, Any]) -> InvokeResult:
        self.events.append(event)
        return self.answer(event)


def make_queue(sqs: Any, name: str, max_receive_count: int = 3) -> tuple[str, str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, arn, dlq


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return client("sqs", moto_endpoint, REGION)


def consumer(sqs: Any, queue: str, arn: str, invoke: Recorder, batch_size: int = 10) -> QueueConsumer:
    return QueueConsumer(
        name="test",
        sqs=sqs,
        queue_url=queue,
        queue_arn=arn,
        region=REGION,
        invoke=invoke,
        batch_size=batch_size,
        report_batch_item_failures=True,
    )


def bodies(event: dict[str, Any]) -> list[str]:
    return sorted(record["body"] for record in event["Records"])


def drain(sqs: Any, queue: str, seconds: float = 2.5) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["All"],
        )
        found += answer.get("Messages", [])
    return found


def test_records_are_shaped_as_lambda_delivers_them(sqs: Any) -> None:
    queue, arn, _ = make_queue(sqs, "shape")
    sqs.send_message(
        QueueUrl=queue,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "k"}},
    )
    recorder = Recorder()
    assert consumer(sqs, queue, arn, recorder).poll_once() == 1
    (record,) = recorder.events[0]["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == "hello" and record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn and record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "k", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert drain(sqs, queue, 1.5) == []  # a success is deleted


def test_batch_size_is_honoured(sqs: Any) -> None:
    queue, arn, _ = make_queue(sqs, "batch")
    for index in range(5):
        sqs.send_message(QueueUrl=queue, MessageBody=str(index))
    recorder = Recorder()
    one_at_a_time = consumer(sqs, queue, arn, recorder, batch_size=1)
    assert [one_at_a_time.poll_once() for _ in range(5)] == [1, 1, 1, 1, 1]
    assert all(len(event["Records"]) == 1 for event in recorder.events)


def test_only_successes_are_deleted_and_failures_come_back(sqs: Any) -> None:
    queue, arn, _ = make_queue(sqs, "partial")
    for body in ["a", "b", "c"]:
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    def fail_b(event: dict[str, Any]) -> InvokeResult:
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "b"]
        return InvokeResult(ok=True, payload={"batchItemFailures": failures})

    polling = consumer(sqs, queue, arn, Recorder(fail_b))
    received = 0
    deadline = time.monotonic() + 3
    while received < 3 and time.monotonic() < deadline:
        received += polling.poll_once()
    time.sleep(1.1)  # the visibility timeout
    back = drain(sqs, queue, 1.5)
    assert [message["Body"] for message in back] == ["b"]
    assert back[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_an_error_fails_the_whole_batch(sqs: Any) -> None:
    queue, arn, _ = make_queue(sqs, "error")
    for body in ["a", "b"]:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    failing = consumer(
        sqs, queue, arn, Recorder(lambda event: InvokeResult(ok=False, error={"errorType": "E"}))
    )
    received = 0
    deadline = time.monotonic() + 3
    while received < 2 and time.monotonic() < deadline:
        received += failing.poll_once()
    time.sleep(1.1)
    assert sorted(message["Body"] for message in drain(sqs, queue, 1.5)) == ["a", "b"]


def test_how_lambda_reads_the_answer() -> None:
    ids = ["m1", "m2"]
    ok = InvokeResult(ok=True, payload=None)
    assert failed_message_ids(ok, ids, True) == set()
    assert failed_message_ids(InvokeResult(ok=True, payload={"batchItemFailures": None}), ids, True) == set()
    assert failed_message_ids(
        InvokeResult(ok=True, payload={"batchItemFailures": [{"itemIdentifier": "m2"}]}), ids, True
    ) == {"m2"}
    for invalid in [[{"itemIdentifier": ""}], [{"itemIdentifier": "zz"}], [{}], ["m1"], "m1"]:
        assert failed_message_ids(
            InvokeResult(ok=True, payload={"batchItemFailures": invalid}), ids, True
        ) == set(ids)
    assert failed_message_ids(InvokeResult(ok=False), ids, True) == set(ids)
    # without ReportBatchItemFailures the answer is ignored
    assert (
        failed_message_ids(
            InvokeResult(ok=True, payload={"batchItemFailures": [{"itemIdentifier": "m1"}]}), ids, False
        )
        == set()
    )


def test_redrive_moves_a_message_that_keeps_failing_to_the_dlq(sqs: Any) -> None:
    queue, arn, dlq = make_queue(sqs, "redrive", max_receive_count=2)
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    failing = consumer(sqs, queue, arn, Recorder(lambda event: InvokeResult(ok=False, error={})))
    failing.start()
    try:
        dead = drain(sqs, dlq, 6)
    finally:
        failing.stop()
        failing.join()
    assert [message["Body"] for message in dead] == ["poison"]
    assert 1 <= failing.batches <= 2


def test_the_pipe_sends_matching_stream_records_to_the_target_queue(moto_endpoint: str, sqs: Any) -> None:
    dynamodb = client("dynamodb", moto_endpoint, REGION)
    table = dynamodb.create_table(
        TableName="business",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    disbursements, _, _ = make_queue(sqs, "disbursements")
    repayments, _, _ = make_queue(sqs, "repayments")

    def outbox(target: str) -> dict[str, Any]:
        return parse_pattern(
            {
                "eventName": ["INSERT"],
                "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "target": {"S": [target]}}},
            }
        )

    pipe = StreamPipe(
        streams=client("dynamodbstreams", moto_endpoint, REGION),
        sqs=sqs,
        stream_arn=table["LatestStreamArn"],
        targets=[
            PipeTarget("d", [outbox("disbursements")], disbursements),
            PipeTarget("r", [outbox("repayments")], repayments),
        ],
    )

    def put(pk: str, **extra: str) -> None:
        item = {
            "pk": {"S": pk},
            "sk": {"S": "EVENT"},
            **{name: {"S": value} for name, value in extra.items()},
        }
        dynamodb.put_item(TableName="business", Item=item)

    put(
        "OUTBOX#1",
        kind="OUTBOX",
        target="disbursements",
        event_type="LoanApproved",
        payload='{"loan_id": "L-1"}',
    )
    put("LOAN#1", kind="LOAN")
    put("OUTBOX#2", kind="OUTBOX", target="repayments", event_type="RepaymentRequested", payload="{}")
    dynamodb.update_item(
        TableName="business",
        Key={"pk": {"S": "OUTBOX#1"}, "sk": {"S": "EVENT"}},
        UpdateExpression="SET touched = :t",
        ExpressionAttributeValues={":t": {"S": "yes"}},
    )  # a MODIFY: filtered out
    assert pipe.poll_once() == 4
    assert pipe.poll_once() == 0  # nothing is read twice
    (message,) = drain(sqs, disbursements, 1.2)
    record = json.loads(message["Body"])
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == table["LatestStreamArn"]
    image = record["dynamodb"]["NewImage"]
    assert image["pk"] == {"S": "OUTBOX#1"} and json.loads(image["payload"]["S"]) == {"loan_id": "L-1"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert [
        json.loads(m["Body"])["dynamodb"]["NewImage"]["pk"]["S"] for m in drain(sqs, repayments, 1.2)
    ] == ["OUTBOX#2"]
    assert pipe.sent == 2


def test_the_pipes_poll_fast_only_while_functions_run() -> None:
    activity = Activity(fast_seconds=0.01, idle_seconds=5.0, linger_seconds=0.2)
    assert not activity.busy()
    woken = threading.Event()

    def idle_reader() -> None:
        activity.pause()  # idle: sleeps until an invocation starts
        woken.set()

    reader = threading.Thread(target=idle_reader)
    reader.start()
    time.sleep(0.1)
    assert not woken.is_set()
    with activity.invocation():
        assert woken.wait(1.0)
        assert activity.busy()
        started = time.monotonic()
        activity.pause()
        assert time.monotonic() - started < 1.0  # busy: a short pause
    assert activity.busy()  # it lingers a little after the last invocation
    time.sleep(0.25)
    assert not activity.busy()
    reader.join()
