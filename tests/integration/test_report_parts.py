"""A long file's report streamed together from its parts (scf.adapters.s3.S3Inbox.put_report): the
same JSON as one write of the whole report would give, items in part order, a multipart upload
beyond 8 MB, and the parts removed afterwards."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from typing import Any

import boto3
import pytest

from scf.adapters import s3 as s3_adapter
from scf.adapters.s3 import S3Inbox
from scf.service.ingest import part_key, parts_prefix

pytestmark = pytest.mark.integration

BUCKET = "parts-inbox"
SHA = "ab" * 32
HEAD = {"file_id": SHA, "key": "platform/f.csv", "sha256": SHA, "format": "documents", "status": "PROCESSED"}


@pytest.fixture
def inbox(aws: None) -> S3Inbox:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return S3Inbox()


def read(key: str) -> dict[str, Any]:
    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())  # type: ignore[no-any-return]


def remaining_parts() -> list[str]:
    answer = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=parts_prefix(SHA))
    return [item["Key"] for item in answer.get("Contents", [])]


def test_parts_are_spliced_in_line_order_and_removed(inbox: S3Inbox) -> None:
    # Written out of order, and with line numbers whose text order differs from their number order.
    inbox.put_part(BUCKET, part_key(SHA, 10_002, "errors"), [{"line": 10_002, "code": "B"}])
    inbox.put_part(BUCKET, part_key(SHA, 2, "errors"), [{"line": 2, "code": "A"}, {"line": 3, "code": "A"}])
    inbox.put_part(BUCKET, part_key(SHA, 5_002, "sweeps"), [{"document_id": "PAY-1"}])
    inbox.put_part(BUCKET, part_key(SHA, 20_002, "errors"), [])
    report = HEAD | {"rows_total": 20_003, "errors": [], "sweeps": [], "matches": []}
    inbox.put_report(BUCKET, "reports/platform/f.csv.report.json", report, parts_prefix(SHA))
    written = read("reports/platform/f.csv.report.json")
    assert written == HEAD | {
        "rows_total": 20_003,
        "errors": [{"line": 2, "code": "A"}, {"line": 3, "code": "A"}, {"line": 10_002, "code": "B"}],
        "sweeps": [{"document_id": "PAY-1"}],
        "matches": [],
    }
    assert remaining_parts() == []


def test_a_report_larger_than_a_multipart_part_is_uploaded_in_parts(
    inbox: S3Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_adapter, "REPORT_PART_BYTES", 5 * 1024 * 1024)  # S3's smallest part
    window = [
        {"line": n, "field": "amount", "code": "INVALID_AMOUNT", "message": "x" * 200} for n in range(8_000)
    ]
    for first in range(0, 40_000, 8_000):
        items = [e | {"line": first + e["line"]} for e in window]
        inbox.put_part(BUCKET, part_key(SHA, first + 2, "errors"), items)
    calls: list[str] = []
    client = inbox.client
    client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    inbox.put_report(
        BUCKET, "reports/big.report.json", HEAD | {"errors": [], "sweeps": []}, parts_prefix(SHA)
    )
    assert calls.count("UploadPart") >= 2 and "CompleteMultipartUpload" in calls
    written = read("reports/big.report.json")
    assert [e["line"] for e in written["errors"]] == list(range(40_000))
    assert written["sweeps"] == [] and remaining_parts() == []


def test_without_parts_the_report_is_one_plain_write(inbox: S3Inbox) -> None:
    report = HEAD | {"errors": [{"line": 2}], "sweeps": [], "matches": []}
    inbox.put_report(BUCKET, "reports/small.report.json", report)
    assert read("reports/small.report.json") == report


class ChunkReadingClient:
    """Reads request bodies a chunk at a time, as botocore sends a file body; keeps only hashes."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.parts: list[tuple[int, int]] = []  # (size, part number)
        self.digest = hashlib.sha256()

    def _consume(self, body: Any) -> int:
        size = 0
        while chunk := body.read(64 * 1024):
            self.digest.update(chunk)
            size += len(chunk)
        return size

    def create_multipart_upload(self, **_: Any) -> dict[str, str]:
        return {"UploadId": "u-1"}

    def upload_part(self, *, Body: Any, PartNumber: int, **_: Any) -> dict[str, str]:
        self.parts.append((self._consume(Body), PartNumber))
        return {"ETag": f"e-{PartNumber}"}

    def complete_multipart_upload(self, **_: Any) -> None:
        self.objects["whole"] = self.digest.hexdigest()

    def put_object(self, *, Body: Any, **_: Any) -> None:
        self._consume(Body)
        self.objects["whole"] = self.digest.hexdigest()


@pytest.mark.parametrize("megabytes", [1, 20])
def test_a_streamed_report_holds_no_more_than_its_spool_in_memory(
    megabytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However long the report, the bytes written wait in a temporary file, not in memory: the
    same traced peak for 1 MB (one PUT) and 20 MB (multipart)."""
    monkeypatch.setattr(s3_adapter, "REPORT_PART_BYTES", 5 * 1024 * 1024)
    chunk = (b'{"line":1,"code":"INVALID_AMOUNT","message":"' + b"x" * 950 + b'"},') * 50  # 50 KB
    client, expected = ChunkReadingClient(), hashlib.sha256()
    tracemalloc.start()
    upload = s3_adapter._StreamedObject(client, BUCKET, "reports/r.json")
    for _ in range(megabytes * 20):
        upload.write(chunk)
        expected.update(chunk)
    upload.close()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert client.objects["whole"] == expected.hexdigest()
    assert [n for _, n in client.parts] == list(range(1, len(client.parts) + 1))
    assert len(client.parts) == (0 if megabytes == 1 else 4)
    assert all(size >= 5 * 1024 * 1024 for size, _ in client.parts[:-1])
    assert peak < s3_adapter.SPOOL_BYTES + 512 * 1024, peak
