"""ingest_settlement against moto: realistic SQS(S3) events from events/, the report in S3, items."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import ModuleType
from unittest import mock

import boto3
import botocore.client
import pytest
from moto import mock_aws

from scf.adapters.dynamodb.models import DocumentItem, FileItem, PoolItem, SupplierItem
from scf.domain.pool import Document, Pool
from tests.support import LambdaContext, create_tables, inbox_senders, load_handler
from tests.support import s3_event as _s3_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "events"
BUCKET = "scf-inbox"
TABLE = "scf-business"


CTX = LambdaContext("ingest_settlement")


@pytest.fixture
def aws(monkeypatch, tmp_path):
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
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from scf.config import settings

        settings.cache_clear()
        create_tables(TABLE)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("s3").put_bucket_versioning(  # as the stack has it (infra/constructs/ingest.py)
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        handler = load_handler("ingest_settlement")
        yield handler
        settings.cache_clear()


def s3_event(key: str, bucket: str = BUCKET, version: str | None = None, sender: str | None = None) -> dict:
    return _s3_event(key, bucket, version, sender)


def put(key: str, data: bytes) -> str:
    """Upload; the new object version."""
    return str(boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"])


def drop(handler: ModuleType, key: str, data: bytes, sender: str | None = None) -> dict:
    """Upload and deliver the notification, as `sender` (default: the key's partner)."""
    return handler.handler(s3_event(key, version=put(key, data), sender=sender), CTX)


def report(key: str) -> dict:
    raw = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"reports/{key}.report.json")["Body"].read()
    return json.loads(raw)


SUPPLIERS = (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
DOCUMENTS = (EVENTS / "files" / "platform_documents.csv").read_bytes()
DOCS_KEY = "platform/2026/11/28/documents 2026-11-28.csv"


def test_suppliers_file_upserts_and_reports_bad_rows(aws):
    answer = drop(aws, "platform/master/suppliers.csv", SUPPLIERS)
    assert answer == {"batchItemFailures": []}
    rep = report("platform/master/suppliers.csv")
    assert (rep["format"], rep["status"], rep["rows_total"], rep["rows_accepted"], rep["rows_rejected"]) == (
        "suppliers",
        "PROCESSED",
        4,
        3,
        1,
    )
    assert {(e["line"], e["field"], e["code"]) for e in rep["errors"]} == {
        (5, "status", "INVALID_VALUE"),
        (5, "account_verified", "INVALID_VALUE"),
    }
    assert rep["sweeps"] == [] and rep["matches"] == []
    s1 = SupplierItem.get(*SupplierItem.key("S-1001"))
    assert (s1.status, s1.account_verified, s1.source) == ("ACTIVE", True, "platform/master/suppliers.csv:2")
    assert SupplierItem.get(*SupplierItem.key("S-1002")).account_verified is False
    # A later file updates a supplier.
    drop(
        aws,
        "platform/master/suppliers-2.csv",
        SUPPLIERS.replace(b"Electronics,SUSPENDED", b"Electronics,ACTIVE"),
    )
    assert SupplierItem.get(*SupplierItem.key("S-1003")).status == "ACTIVE"
    # Within a file, a later row for the same supplier wins (rows apply in file order).
    drop(aws, "platform/master/suppliers-3.csv", SUPPLIERS.replace(b"S-1002,Ningbo", b"S-1003,Ningbo"))
    assert SupplierItem.get(*SupplierItem.key("S-1003")).status == "SUSPENDED"


def test_documents_file_builds_the_pool_and_reports_row_errors(aws):
    drop(aws, DOCS_KEY, DOCUMENTS)
    rep = report(DOCS_KEY)
    assert rep["key"] == DOCS_KEY and rep["format"] == "documents" and rep["status"] == "PROCESSED"
    assert len(rep["sha256"]) == 64 and rep["file_id"] == rep["sha256"]
    assert (rep["rows_total"], rep["rows_accepted"], rep["rows_rejected"]) == (10, 7, 3)
    assert [(e["line"], e["field"], e["code"]) for e in rep["errors"]] == [
        (9, "amount", "INVALID_AMOUNT"),
        (10, "document_date", "INVALID_DATE"),
        (11, "document_type", "INVALID_VALUE"),
    ]
    doc = DocumentItem.get(*DocumentItem.key("S-1001", "INV-2026-1108"))
    assert (doc.amount_minor, doc.due_date, doc.reference, doc.source) == (
        20_000_000,
        "2026-12-08",
        "GR-2026-1029",
        f"{DOCS_KEY}:5",
    )
    pool_item = PoolItem.get(*PoolItem.key("S-1001", "CNY"))
    assert pool_item.version == 1  # six rows for this supplier, one pool write
    pool = Pool.from_state(pool_item.state)
    assert {s: pool.open_minor(s) for s in pool.stages} == {
        "ORDERED": 30_000_000,
        "RECEIVED": 68_000_000,
        "INVOICED": 20_000_000,
    }
    disputed = Pool.from_state(PoolItem.get(*PoolItem.key("S-1002", "CNY")).state)
    assert disputed.stages["RECEIVED"]["GR-2026-1101"].disputed
    file_item = FileItem.get(*FileItem.key(rep["sha256"]))
    assert (file_item.status, file_item.format, file_item.key_name) == ("PROCESSED", "documents", DOCS_KEY)


def test_same_bytes_under_another_key_are_a_duplicate_and_change_nothing(aws):
    drop(aws, DOCS_KEY, DOCUMENTS)
    before = PoolItem.get(*PoolItem.key("S-1001", "CNY"))
    drop(aws, "platform/2026/11/29/again.csv", DOCUMENTS)
    rep = report("platform/2026/11/29/again.csv")
    assert (rep["status"], rep["duplicate_of"], rep["rows_accepted"]) == ("DUPLICATE", DOCS_KEY, 0)
    after = PoolItem.get(*PoolItem.key("S-1001", "CNY"))
    assert (after.version, after.state) == (before.version, before.state)


def test_the_same_bytes_uploaded_again_under_the_same_key_are_a_duplicate(aws):
    """A versioned inbox names the object version: another version with the same bytes is a new
    upload (DUPLICATE, reported), the same version again is a redelivered notification (nothing)."""
    v1 = put(DOCS_KEY, DOCUMENTS)
    aws.handler(s3_event(DOCS_KEY, version=v1), CTX)
    first = report(DOCS_KEY)
    state = PoolItem.get(*PoolItem.key("S-1001", "CNY")).state
    assert aws.handler(s3_event(DOCS_KEY, version=v1), CTX) == {"batchItemFailures": []}
    assert report(DOCS_KEY) == first
    aws.handler(s3_event(DOCS_KEY, version=put(DOCS_KEY, DOCUMENTS)), CTX)
    again = report(DOCS_KEY)
    assert (again["status"], again["duplicate_of"], again["rows_accepted"]) == ("DUPLICATE", DOCS_KEY, 0)
    assert "an earlier upload of this key" in again["reason"]
    assert PoolItem.get(*PoolItem.key("S-1001", "CNY")).state == state


def no_uploader(event: dict) -> dict:
    """The event with no `userIdentity` in its notification."""
    body = json.loads(event["Records"][0]["body"])
    del body["Records"][0]["userIdentity"]
    event["Records"][0]["body"] = json.dumps(body)
    return event


def assert_rejected_for_its_sender_and_nothing_changed(key: str) -> None:
    rep = report(key)
    assert (rep["status"], rep["rows_accepted"]) == ("REJECTED", 0)
    assert [e["code"] for e in rep["errors"]] == ["SENDER_NOT_AUTHORIZED"]
    assert list(FileItem.scan()) == [] and list(PoolItem.scan()) == [] and list(DocumentItem.scan()) == []


@pytest.mark.parametrize(
    "deliver",
    [
        lambda key, version: s3_event(key, version=version, sender="SIMBANK"),  # a bank's identity
        lambda key, version: no_uploader(s3_event(key, version=version)),  # nobody named
    ],
    ids=["another-partner", "no-uploader"],
)
def test_a_file_not_uploaded_by_the_partner_its_prefix_names_is_rejected_and_changes_nothing(aws, deliver):
    assert aws.handler(deliver(DOCS_KEY, put(DOCS_KEY, DOCUMENTS)), CTX) == {"batchItemFailures": []}
    assert_rejected_for_its_sender_and_nothing_changed(DOCS_KEY)
    drop(aws, DOCS_KEY, DOCUMENTS)  # the same bytes from the platform: not a duplicate
    rep = report(DOCS_KEY)
    assert (rep["status"], rep["rows_total"]) == ("PROCESSED", rep["rows_accepted"] + rep["rows_rejected"])
    assert rep["rows_accepted"] > 0 and PoolItem.get(*PoolItem.key("S-1001", "CNY"))


def test_without_configured_sender_identities_every_file_is_rejected(aws, monkeypatch):
    from scf.config import settings

    monkeypatch.delenv("INBOX_SENDERS")
    settings.cache_clear()
    aws.bootstrap.cache_clear()
    drop(aws, DOCS_KEY, DOCUMENTS)
    assert_rejected_for_its_sender_and_nothing_changed(DOCS_KEY)


def test_a_rejected_file_is_no_claim_on_its_bytes(aws):
    """Sent first under a prefix no partner has (REJECTED), the same bytes are processed when they
    come from the right sender, and are reported DUPLICATE only after that."""
    drop(aws, "ACME/2026/documents.csv", DOCUMENTS)
    assert report("ACME/2026/documents.csv")["status"] == "REJECTED"
    drop(aws, DOCS_KEY, DOCUMENTS)
    assert report(DOCS_KEY)["status"] == "PROCESSED"
    drop(aws, DOCS_KEY, DOCUMENTS)
    assert report(DOCS_KEY)["status"] == "DUPLICATE"


def test_redelivery_and_crash_resume_do_not_double_apply(aws):
    drop(aws, DOCS_KEY, DOCUMENTS)
    state = PoolItem.get(*PoolItem.key("S-1001", "CNY")).state
    # Redelivery of a finished file: nothing happens.
    assert aws.handler(s3_event(DOCS_KEY), CTX) == {"batchItemFailures": []}
    assert PoolItem.get(*PoolItem.key("S-1001", "CNY")).state == state
    # A crash before the file was marked finished: the redelivery re-runs it; documents are
    # keyed and applied with their pool change, so nothing is applied twice.
    sha = report(DOCS_KEY)["sha256"]
    FileItem(*FileItem.key(sha)).update(actions=[FileItem.status.set("PROCESSING")])
    aws.handler(s3_event(DOCS_KEY), CTX)
    assert PoolItem.get(*PoolItem.key("S-1001", "CNY")).state == state
    rep = report(DOCS_KEY)
    assert (rep["rows_accepted"], rep["rows_rejected"]) == (7, 3)


def test_a_document_resent_with_other_content_is_a_conflict(aws):
    drop(aws, DOCS_KEY, DOCUMENTS)
    header = DOCUMENTS.splitlines()[0]
    same = b"INVOICE,S-1001,INV-2026-1108,2026-11-08,200000.00,CNY,CONFIRMED,GR-2026-1029,2026-12-08,B2"
    other = b"INVOICE,S-1001,INV-2026-1108,2026-11-08,999.00,CNY,CONFIRMED,GR-2026-1029,2026-12-08,B2"
    resend = b"\n".join([header, same, other, b""])
    drop(aws, "platform/resend.csv", resend)
    rep = report("platform/resend.csv")
    assert (rep["rows_accepted"], rep["rows_rejected"]) == (1, 1)
    assert [(e["line"], e["field"], e["code"]) for e in rep["errors"]] == [
        (3, "document_id", "DUPLICATE_CONFLICT")
    ]
    assert DocumentItem.get(*DocumentItem.key("S-1001", "INV-2026-1108")).amount_minor == 20_000_000


def test_many_rows_for_one_supplier_read_the_pool_once_and_write_it_once_per_transaction(aws):
    header = (
        b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
    )
    rows = b"".join(b"S-9,PO-%03d,PURCHASE_ORDER,2026-11-01,,1.00,CNY,CONFIRMED,\n" % i for i in range(120))
    boto3.client("s3").put_object(Bucket=BUCKET, Key="platform/big.csv", Body=header + rows)
    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        calls.append(operation_name)
        return real(self, operation_name, api_params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        aws.handler(s3_event("platform/big.csv"), CTX)
    # The pool is read once; no document is read before it is written (each is put on the condition
    # that it does not exist); 99 documents and the pool fill a transaction's 100 actions.
    assert calls == [
        "GetObject",  # fingerprint
        "PutItem",  # claim the file
        "GetObject",  # head: detect the format
        "GetObject",  # stream the rows
        "BatchGetItem",  # the pool
        "TransactWriteItems",  # documents 1-99 and the pool
        "TransactWriteItems",  # documents 100-120 and the pool
        "PutObject",  # report
        "TransactWriteItems",  # file finished, with its FileProcessed event
    ]
    pool = PoolItem.get(*PoolItem.key("S-9", "CNY"))
    assert pool.version == 2
    assert Pool.from_state(pool.state).open_minor("ORDERED") == 12_000


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("bank-icbc/2026/statement.csv", SUPPLIERS, "may not send"),
        ("platform/odd.xml", b"<?xml version='1.0'?><Document/>", "unrecognised content"),
        ("platform/short.csv", b"supplier_id,document_id,amount\nS,D,1.00\n", "lacks column"),
        ("loose.csv", SUPPLIERS, "may not send"),
    ],
)
def test_rejected_files_are_reported_with_a_reason(aws, key, data, reason):
    drop(aws, key, data)
    rep = report(key)
    assert rep["status"] == "REJECTED" and reason in rep["reason"]
    assert rep["errors"][0]["code"] == "FILE_REJECTED"
    assert FileItem.get(*FileItem.key(rep["sha256"])).status == "REJECTED"


def test_test_events_and_reports_are_skipped(aws):
    event = json.loads((EVENTS / "sqs_s3_test_event.json").read_text())
    assert aws.handler(event, CTX) == {"batchItemFailures": []}
    assert aws.handler(s3_event("reports/platform/x.csv.report.json"), CTX) == {"batchItemFailures": []}
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET)


def test_a_failing_record_is_reported_as_a_partial_batch_failure(aws):
    boto3.client("s3").put_object(Bucket=BUCKET, Key="platform/ok.csv", Body=SUPPLIERS)
    event = s3_event("platform/ok.csv")
    event["Records"].append(s3_event("platform/missing.csv")["Records"][0] | {"messageId": "m-2"})
    answer = aws.handler(event, CTX)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert report("platform/ok.csv")["status"] == "PROCESSED"
    # A batch whose only record fails raises, so the message returns to the queue (and its DLQ).
    with pytest.raises(Exception, match="All records failed"):
        aws.handler(s3_event("platform/missing.csv"), CTX)


def unmatched_event(claims: dict, query: dict | None = None) -> dict:
    event = json.loads((EVENTS / "apigw_get_unmatched_ops.json").read_text())
    event["requestContext"]["authorizer"]["claims"] = claims
    event["queryStringParameters"] = query
    return event


def test_unmatched_lists_real_items_for_ops_only(aws):
    ops = json.loads((EVENTS / "apigw_get_unmatched_ops.json").read_text())["requestContext"]["authorizer"][
        "claims"
    ]
    client = boto3.client("dynamodb")
    for i in range(3):
        client.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": f"STATEMENT#abc#{i}"},
                "sk": {"S": "ENTRY"},
                "gsi1pk": {"S": "UNMATCHED#OPEN"},
                "gsi1sk": {"S": f"2026-11-2{i}#abc#{i}"},
                "amount_minor": {"N": "1000"},
                "reference": {"S": f"unknown {i}"},
            },
        )
    first = aws.handler(unmatched_event(ops, {"limit": "2"}), CTX)
    assert first["statusCode"] == 200
    page = json.loads(first["body"])
    assert [i["reference"] for i in page["items"]] == ["unknown 0", "unknown 1"]
    assert page["items"][0]["amount_minor"] == 1000 and "pk" not in page["items"][0]
    rest = json.loads(
        aws.handler(unmatched_event(ops, {"limit": "2", "next_token": page["next_token"]}), CTX)["body"]
    )
    assert [i["reference"] for i in rest["items"]] == ["unknown 2"]
    supplier = aws.handler(unmatched_event({"sub": "x", "custom:supplier_id": "S-1001"}), CTX)
    assert supplier["statusCode"] == 403
    assert json.loads(supplier["body"])["code"] == "NOT_OPS"
    bad = aws.handler(unmatched_event(ops, {"next_token": "not-a-token"}), CTX)
    assert bad["statusCode"] == 422


def test_an_unreadable_tail_keeps_the_rows_before_and_is_reported(aws):
    header = (
        b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
    )
    good = b"S-7,PO-1,PURCHASE_ORDER,2026-11-01,,10.00,CNY,CONFIRMED,\n"
    # A quoted field over the csv module's 128 KB limit, in lines under the 64 KiB line cap.
    huge = b'S-7,PO-2,PURCHASE_ORDER,2026-11-01,,10.00,CNY,CONFIRMED,"' + (b"x" * 50_000 + b"\n") * 4 + b'"\n'
    drop(aws, "platform/tail.csv", header + good + huge)
    rep = report("platform/tail.csv")
    assert (rep["rows_total"], rep["rows_accepted"], rep["rows_rejected"]) == (2, 1, 1)
    assert (rep["errors"][0]["line"], rep["errors"][0]["code"]) == (3, "CSV_SYNTAX")
    assert Pool.from_state(PoolItem.get(*PoolItem.key("S-7", "CNY")).state).open_minor("ORDERED") == 1_000


def test_an_empty_file_is_rejected(aws):
    drop(aws, "platform/empty.csv", b"")
    assert report("platform/empty.csv")["status"] == "REJECTED"


def big_file(rows: int) -> bytes:
    header = (
        b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
    )
    body = []
    for i in range(rows):
        kind = (b"PURCHASE_ORDER", b"GOODS_RECEIPT", b"INVOICE", b"RETURN")[i % 4]
        body.append(
            b"S-%d,D-%03d,%s,2026-11-%02d,,%d.00,CNY,CONFIRMED,\n" % (i % 3, i, kind, 1 + i % 27, 10 + i)
        )
    return header + b"".join(body)


@pytest.mark.parametrize("lost_answer", [False, True], ids=["crash-before-commit", "commit-answer-lost"])
def test_a_crash_mid_file_then_redelivery_ends_as_one_clean_run(aws, lost_answer):
    data = big_file(150)
    # The reference: the same rows, processed without faults, under other suppliers' names.
    clean = data.replace(b"S-", b"C-")
    drop(aws, "platform/clean.csv", clean)

    boto3.client("s3").put_object(Bucket=BUCKET, Key="platform/crashy.csv", Body=data)
    real = botocore.client.BaseClient._make_api_call
    seen = {"tx": 0}

    def crash_on_second_chunk(self, operation_name, api_params):
        if operation_name == "TransactWriteItems":
            seen["tx"] += 1
            if seen["tx"] == 2:
                if lost_answer:
                    real(self, operation_name, api_params)  # committed, but the answer never arrives
                raise ConnectionError("injected: worker died")
        return real(self, operation_name, api_params)

    with (
        mock.patch.object(botocore.client.BaseClient, "_make_api_call", crash_on_second_chunk),
        pytest.raises(Exception, match="All records failed"),
    ):
        aws.handler(s3_event("platform/crashy.csv"), CTX)
    aws.handler(s3_event("platform/crashy.csv"), CTX)  # the redelivery

    for i in range(3):
        crashy = Pool.from_state(PoolItem.get(*PoolItem.key(f"S-{i}", "CNY")).state)
        reference = Pool.from_state(PoolItem.get(*PoolItem.key(f"C-{i}", "CNY")).state)
        assert crashy == reference
    rep = report("platform/crashy.csv")
    assert (rep["status"], rep["rows_total"], rep["rows_accepted"], rep["rows_rejected"]) == (
        "PROCESSED",
        150,
        150,
        0,
    )


def test_a_concurrent_pool_writer_makes_the_chunk_retry_not_lose_updates(aws):
    drop(aws, "platform/first.csv", big_file(3))
    real = botocore.client.BaseClient._make_api_call
    state = {"interfered": False}

    def interfere(self, operation_name, api_params):
        if operation_name == "TransactWriteItems" and not state["interfered"]:
            state["interfered"] = True
            # Another worker writes the same pool between our read and our write.
            other = PoolItem.get(*PoolItem.key("S-0", "CNY"))
            pool = Pool.from_state(other.state)
            pool.apply(Document("OTHER-1", "PURCHASE_ORDER", date(2026, 11, 2), 700))
            other.state = pool.to_state()
            other.save()
        return real(self, operation_name, api_params)

    header = (
        b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
    )
    boto3.client("s3").put_object(
        Bucket=BUCKET,
        Key="platform/second.csv",
        Body=header + b"S-0,PO-X,PURCHASE_ORDER,2026-11-03,,5.00,CNY,CONFIRMED,\n",
    )
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", interfere):
        aws.handler(s3_event("platform/second.csv"), CTX)
    pool = Pool.from_state(PoolItem.get(*PoolItem.key("S-0", "CNY")).state)
    assert {"OTHER-1", "PO-X"} <= set(pool.stages["ORDERED"])  # neither write was lost
    assert report("platform/second.csv")["rows_accepted"] == 1
