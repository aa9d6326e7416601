"""A long file's report streamed together from its parts (scf.adapters.s3.S3Inbox.put_report): the
same JSON as one write of the whole report would give, items in part order, a multipart upload
beyond 8 MB, and the parts removed afterwards."""

from __future__ import annotations

import json
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
