"""A settlement-files world for checkpoint-and-continue tests: moto (tables, inbox bucket, the
settlement-files queue), the ingest_settlement handler loaded as Lambda would, and a consumer that
plays the SQS event source mapping (batch size 1, a failed message comes back after the visibility
timeout), with Lambda contexts whose remaining time runs out after a set number of chunks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_fixes
from tests.support import EVENTS, LambdaContext, create_tables, inbox_senders, load_handler, s3_notification

BUCKET = "scf-inbox"
TABLE = "scf-business"
QUEUE = "scf-settlement-files"
VISIBILITY_TIMEOUT = 1800.0  # 6 x the function's 300 s: longer than any lease
HEADER = b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
UNCOMPARED = (
    "created_at",
    "updated_at",
    "object_version",
    "expires_at",
)  # differ between two runs of one file
KINDS = (b"PURCHASE_ORDER", b"GOODS_RECEIPT", b"INVOICE", b"RETURN", b"SALE", b"PAYMENT")
# When an item was written (the outbox expiry follows its writing): not what the run wrote.


class ProcessDied(BaseException):
    """The worker process died here (a timeout, an out-of-memory kill): no handler code runs after
    it, so nothing is released; the message comes back after the visibility timeout."""


@dataclass
class ChunkBudgetContext(LambdaContext):
    """Remaining time that lasts for `chunks` chunks: the first call (taking the lease) and the
    checks after each of the first `chunks - 1` chunks see a minute; the next check sees none."""

    chunks: int = 3
    calls: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 60_000 if self.calls <= self.chunks else 0


def documents_file(rows: int, seed: int = 7, suppliers: int = 40, payments: bool = True) -> bytes:
    """Realistic rows: mixed types referring to earlier documents, a few invalid rows and a few
    re-sent documents (identical ones are no-ops, changed ones DUPLICATE_CONFLICT)."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(rows):
        supplier = b"SUP-%04d" % rng.randrange(suppliers)
        kind = KINDS[rng.randrange(len(KINDS) if payments else len(KINDS) - 1)]  # PAYMENT is last
        day = 1 + rng.randrange(27)
        reference = (
            b"D-%06d" % rng.randrange(i) if i and kind != b"PURCHASE_ORDER" and rng.random() < 0.5 else b""
        )
        amount = b"%d.%02d" % (rng.randrange(1, 50_000), rng.randrange(100))
        doc_id = b"D-%06d" % i
        roll = rng.random()
        if roll < 0.01:
            amount = b"-1.00"  # INVALID_AMOUNT
        elif roll < 0.015:
            day = 31  # INVALID_DATE (November)
        elif roll < 0.025 and i > 10:
            doc_id = b"D-%06d" % rng.randrange(i)  # a re-send: same content or a conflict
        status = b"DISPUTED" if rng.random() < 0.03 else b"CONFIRMED"
        lines.append(
            b"%s,%s,%s,2026-11-%02d,,%s,CNY,%s,%s\n"
            % (supplier, doc_id, kind, day, amount, status, reference)
        )
    return b"".join(lines)


@dataclass
class IngestWorld:
    handler: ModuleType
    queue_url: str
    wall_clock: list[float] = field(default_factory=lambda: [1_800_000_000.0])
    invocations: int = 0
    in_handler: bool = False  # faults are injected only into the handler's own calls

    @property
    def s3(self) -> Any:
        return boto3.client("s3")

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def put(self, key: str, data: bytes) -> str:
        """Upload; the new object version (the inbox is versioned, as the stack has it)."""
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"])

    def notify(self, key: str, version: str | None = None) -> None:
        """What S3 sends to the queue for a new object (possibly more than once), naming `version`."""
        body = s3_notification(key, BUCKET, version=version)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    def report(self, key: str) -> dict[str, Any]:
        raw = self.s3.get_object(Bucket=BUCKET, Key=f"reports/{key}.report.json")["Body"].read()
        return json.loads(raw)  # type: ignore[no-any-return]

    def deliver_one(self, chunks: int, before: Callable[[str], None] | None = None) -> bool:
        """Receive one message and invoke the handler with it, as the event source mapping does.
        False when the queue is empty."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=30, AttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        (message,) = messages
        template = json.loads((EVENTS / "sqs_s3_object_created.json").read_text())["Records"][0]
        record = template | {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
        }
        if before is not None:
            before(message["Body"])
        self.invocations += 1
        context = ChunkBudgetContext("ingest_settlement", chunks=chunks)
        failed = False
        self.in_handler = True
        try:
            failed = bool(self.handler.handler({"Records": [record]}, context)["batchItemFailures"])
        except ProcessDied:
            failed = True
        except Exception:  # every record failed: Lambda returns the batch to the queue
            failed = True
        finally:
            self.in_handler = False
        if failed:  # the message is seen again once its visibility timeout has passed
            self.wall_clock[0] += VISIBILITY_TIMEOUT
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def drain(self, chunks: int, before: Callable[[str], None] | None = None, limit: int = 10_000) -> None:
        for _ in range(limit):
            if not self.deliver_one(chunks, before):
                return
        raise AssertionError(f"the queue did not drain within {limit} deliveries")

    def business_items(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every item of the business table, without the attributes that are times of day."""
        client = boto3.client("dynamodb")
        items: dict[tuple[str, str], dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"TableName": TABLE}
        while True:
            page = client.scan(**kwargs)
            for item in page["Items"]:
                key = (item["pk"]["S"], item["sk"]["S"])
                items[key] = {k: v for k, v in item.items() if k not in UNCOMPARED}
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@contextmanager
def ingest_world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, window_rows: int = 49
) -> Iterator[IngestWorld]:
    """A fresh moto world (call it twice in one test for two independent runs); files are read in
    windows of `window_rows` rows (small, so that files of a few thousand rows take many)."""
    clock_file = tmp_path / "today"
    clock_file.write_text("2026-11-28")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "INBOX_BUCKET": BUCKET,
        "INBOX_SENDERS": inbox_senders("platform"),
        "SCF_CLOCK": f"file:{clock_file}",
        "POWERTOOLS_SERVICE_NAME": "ingest_settlement",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto_fixes.install()  # transactions cost their own items, not the table's size
    with mock_aws():
        from scf.config import settings

        create_tables(TABLE)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("s3").put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        queue_url = boto3.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
        monkeypatch.setenv("SETTLEMENT_FILES_QUEUE_URL", queue_url)
        settings.cache_clear()
        handler = load_handler("ingest_settlement")
        world = IngestWorld(handler, queue_url)
        service = handler.bootstrap().ingest
        service.wall_clock = lambda: world.wall_clock[0]
        service.window_rows = window_rows
        try:
            yield world
        finally:
            settings.cache_clear()
