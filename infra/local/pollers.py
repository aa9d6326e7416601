"""What Lambda's event source mappings and EventBridge Pipes do, done locally against moto:

- `QueueConsumer`: long-polls an SQS queue and invokes the function with batches shaped exactly as
  Lambda delivers them, honouring the mapping's batch size and ReportBatchItemFailures (only
  successes are deleted; failures come back after the visibility timeout, or sooner when the
  function shortened it with ChangeMessageVisibility, which moto honours as SQS does; moto's redrive
  policy moves them to the DLQ after maxReceiveCount).
- `StreamPipe`: reads a DynamoDB stream and sends each record that matches a pipe's filter pattern
  to the pipe's target queue, the record itself being the message body, or to a bus pipe
  (infra/local/events.py: enrichment, input template, the event log).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.local.events import BusTarget
from infra.local.pattern import matches_any
from infra.local.worker import InvokeResult

log = logging.getLogger("scf.local")
SQS_MAX_BATCH = 10
SHARD_REFRESH_SECONDS = 10.0


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as a Lambda `Records[]` entry."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return converted


def failed_message_ids(
    result: InvokeResult, message_ids: list[str], report_batch_item_failures: bool
) -> set[str]:
    """Which messages of a batch failed, as Lambda reads the function's answer.

    An error fails the whole batch. With ReportBatchItemFailures, the answer's `batchItemFailures`
    names the failures; an item without a valid `itemIdentifier` of this batch fails the whole batch;
    an absent, null or empty list means all succeeded.
    """
    if not result.ok:
        return set(message_ids)
    if not report_batch_item_failures or not isinstance(result.payload, dict):
        return set()
    failures = result.payload.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return set(message_ids)
        failed.add(identifier)
    return failed


Invoke = Callable[[dict[str, Any]], InvokeResult]


class Activity:
    """Whether any function is running. Only functions write to the table (apart from someone using
    the emulator by hand), so the pipes read the stream every 50 ms while functions run and shortly
    after, and only every second when the stack is idle: low latency without burning a core."""

    def __init__(
        self, fast_seconds: float = 0.05, idle_seconds: float = 1.0, linger_seconds: float = 1.0
    ) -> None:
        self.fast_seconds = fast_seconds
        self.idle_seconds = idle_seconds
        self.linger_seconds = linger_seconds
        self._changed = threading.Condition()
        self._running = 0
        self._last_end = float("-inf")

    @contextmanager
    def invocation(self) -> Iterator[None]:
        with self._changed:
            self._running += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._last_end = time.monotonic()
                self._changed.notify_all()

    def busy(self) -> bool:
        with self._changed:
            return self._running > 0 or time.monotonic() - self._last_end < self.linger_seconds

    def pause(self) -> None:
        """Wait before the next read: briefly when busy; when idle, until an invocation starts."""
        with self._changed:
            if self._running > 0 or time.monotonic() - self._last_end < self.linger_seconds:
                self._changed.wait(self.fast_seconds)
            else:
                self._changed.wait(self.idle_seconds)

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()


@dataclass
class QueueConsumer:
    name: str
    sqs: Any  # a boto3 SQS client
    queue_url: str
    queue_arn: str
    region: str
    invoke: Invoke
    batch_size: int = 10
    report_batch_item_failures: bool = False
    batching_window_seconds: int = 0
    wait_seconds: int = 2

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("consumer %s: polling failed", self.name)
                self._stop.wait(1.0)

    def receive(self) -> list[dict[str, Any]]:
        """Up to batch_size messages: one long poll, then more until full or the batching window ends."""
        messages = self._receive(min(self.batch_size, SQS_MAX_BATCH), self.wait_seconds)
        if not messages:
            return []
        window_end = time.monotonic() + self.batching_window_seconds
        while len(messages) < self.batch_size and time.monotonic() < window_end and not self._stop.is_set():
            more = self._receive(min(self.batch_size - len(messages), SQS_MAX_BATCH), 0)
            if not more:
                self._stop.wait(0.05)
            messages.extend(more)
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    def poll_once(self) -> int:
        """Receive one batch, invoke the function, delete what succeeded; the number received."""
        messages = self.receive()
        if not messages:
            return 0
        self.batches += 1
        event = {"Records": [sqs_record(message, self.queue_arn, self.region) for message in messages]}
        result = self.invoke(event)
        ids = [message["MessageId"] for message in messages]
        failed = failed_message_ids(result, ids, self.report_batch_item_failures)
        if not result.ok:
            log.warning(
                "consumer %s: batch of %d failed: %s",
                self.name,
                len(ids),
                (result.error or {}).get("errorMessage"),
            )
        succeeded = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(succeeded), SQS_MAX_BATCH):
            chunk = succeeded[start : start + SQS_MAX_BATCH]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": item["ReceiptHandle"]}
                    for index, item in enumerate(chunk)
                ],
            )
        return len(messages)


@dataclass(frozen=True)
class PipeTarget:
    name: str
    patterns: list[dict[str, Any]]
    queue_url: str


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def pipe_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Pipes sends it on: the record, with its eventSourceARN, JSON-ready."""
    event = json.loads(json.dumps(record, default=_json_default))
    event["eventSourceARN"] = stream_arn
    return event


@dataclass
class StreamPipe:
    """Reads one table stream for every pipe whose source it is (a stream is read once)."""

    streams: Any  # a boto3 dynamodbstreams client
    sqs: Any
    stream_arn: str
    targets: list[PipeTarget]
    activity: Activity = field(default_factory=Activity)
    batch_size: int = 100
    buses: list[BusTarget] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._described_at = -1e9
        self.sent = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pipe-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.activity.wake()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                log.exception("pipe %s: reading the stream failed", self.stream_arn)
                delivered = 0
                self._stop.wait(1.0)
            if not delivered and not self._stop.is_set():
                self.activity.pause()

    def _shards(self) -> list[str]:
        if time.monotonic() - self._described_at > SHARD_REFRESH_SECONDS:  # new shards are rare
            self._add_new_shards()
        return [shard_id for shard_id, iterator in self._iterators.items() if iterator]

    def _add_new_shards(self) -> None:
        self._described_at = time.monotonic()
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def poll_once(self) -> int:
        """Read what is new on every shard and forward the matching records; the number of records read."""
        read = 0
        for shard_id in self._shards():
            answer = self.streams.get_records(ShardIterator=self._iterators[shard_id], Limit=self.batch_size)
            for record in answer.get("Records", []):
                self._forward(pipe_record(record, self.stream_arn))
            read += len(answer.get("Records", []))
            # Advance only after every record of the batch was sent: an error re-reads the batch.
            self._iterators[shard_id] = answer.get("NextShardIterator")
        return read

    def _forward(self, event: dict[str, Any]) -> None:
        for target in self.targets:
            if matches_any(target.patterns, event):
                self.sqs.send_message(QueueUrl=target.queue_url, MessageBody=json.dumps(event))
                self.sent += 1
        for bus in self.buses:
            if matches_any(bus.patterns, event):
                bus.publish([event])
                self.sent += 1
