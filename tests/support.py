"""Helpers shared by the test layers (importable as `tests.support`; pytest puts the repo root on
sys.path). Fixtures built on them live in tests/conftest.py."""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.table_grants import as_function

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SAMPLES = ROOT / "tests" / "fixtures" / "bank-samples"  # the team's shared samples, vendored
REGION = "us-east-1"


@dataclass
class LambdaContext:
    """What a handler reads of Lambda's context object."""

    function_name: str = "test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "5b1c0d6e-0000-4000-8000-000000000001"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load_handler(function: str) -> ModuleType:
    """Import functions/<function>/handler.py under its own module name, the way Lambda gives each
    function its own code root (every handler file is called handler.py)."""
    path = ROOT / "functions" / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"scf_test_{function}_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the module look themselves up there
    spec.loader.exec_module(module)
    # A handler freezes what its cold start allocated (Lambda imports it once per process); a test
    # process loads handlers again and again, so their objects stay collectable here.
    gc.unfreeze()
    module.handler = as_function(function, module.handler)  # its table calls checked (table_grants)
    return module


def sender_id(partner: str) -> str:
    """The IAM unique id of `partner`'s inbox role, in tests (an AWS role id starts `AROA`)."""
    return f"AROATEST{partner.upper()}"


def inbox_senders(*partners: str) -> str:
    """INBOX_SENDERS for these partners (what the CDK stack sets from the partner roles)."""
    return json.dumps({partner: sender_id(partner) for partner in partners})


def s3_notification(
    key: str, bucket: str = "scf-inbox", version: str | None = None, sender: str | None = None
) -> dict[str, Any]:
    """The body S3 sends to the settlement-files queue for an object uploaded at `key` by `sender`
    (default: the partner the key's prefix names), with `version` when given."""
    event = json.loads((EVENTS / "sqs_s3_object_created.json").read_text())
    body: dict[str, Any] = json.loads(event["Records"][0]["body"])
    record = body["Records"][0]
    record["s3"]["object"]["key"] = quote_plus(key, safe="/")
    record["s3"]["bucket"]["name"] = bucket
    if version is not None:
        record["s3"]["object"]["versionId"] = version
    partner = sender or key.partition("/")[0]
    record["userIdentity"]["principalId"] = f"AWS:{sender_id(partner)}:{partner}-upload"
    return body


def s3_event(
    key: str, bucket: str = "scf-inbox", version: str | None = None, sender: str | None = None
) -> dict[str, Any]:
    """The SQS event that hands `s3_notification(...)` to ingest_settlement."""
    event: dict[str, Any] = json.loads((EVENTS / "sqs_s3_object_created.json").read_text())
    event["Records"][0]["body"] = json.dumps(s3_notification(key, bucket, version, sender))
    return event


def create_tables(table: str, region: str = REGION, endpoint_url: str | None = None) -> Any:
    """The business table with the keys, indexes and stream of docs/architecture.md. Call inside
    `mock_aws`, or against a moto server at `endpoint_url`."""
    client = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attr, "AttributeType": "S"}
            for attr in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "gsi2",
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return client


def seed_supplier(
    supplier_id: str,
    documents: Iterable[Any] = (),
    *,
    status: str = "ACTIVE",
    verified: bool = True,
    currency: str = "CNY",
    account_number: str = "6217000011113333",
) -> Any:
    """What ingest_settlement leaves for a supplier: its profile, and its pool in `currency` with
    `documents` (scf.domain.pool.Document) applied in order. The pool, for more to be done to it."""
    from scf.adapters.dynamodb.models import PoolItem, SupplierItem
    from scf.domain.pool import Pool

    SupplierItem(
        *SupplierItem.key(supplier_id),
        supplier_id=supplier_id,
        name=supplier_id,
        status=status,
        bank_code="SIMBANK",
        account_number=account_number,
        account_name=supplier_id,
        account_verified=verified,
        updated_at="2026-11-01T00:00:00Z",
    ).save()
    pool = Pool()
    for document in documents:
        pool.apply(document)
    PoolItem(
        *PoolItem.key(supplier_id, currency),
        supplier_id=supplier_id,
        currency=currency,
        state=pool.to_state(),
        updated_at="2026-11-01T00:00:00Z",
    ).save()
    return pool


def loan_item(loan: Any, *, created_at: str, counted: bool) -> Any:
    """The LoanItem of a `scf.domain.loan.Loan` as the loan store keeps it (gsi1, gsi2), for seeding;
    `counted`: in the portfolio's counters (False: as stored before they existed, no gsi2 either)."""
    from scf.adapters.dynamodb.models import LoanItem

    maturity = loan.maturity_date.isoformat() if loan.maturity_date else None
    return LoanItem(
        *LoanItem.key(loan.loan_id),
        loan_id=loan.loan_id,
        supplier_id=loan.supplier_id,
        application_id=f"AP{loan.loan_id}",
        status=loan.status.value,
        currency=loan.currency,
        principal_minor=loan.principal_minor,
        outstanding_principal_minor=loan.outstanding_principal_minor,
        annual_rate=str(loan.annual_rate),
        term_days=loan.term_days,
        value_date=loan.value_date.isoformat() if loan.value_date else None,
        maturity_date=maturity,
        principal_changes=[[c.on.isoformat(), c.outstanding_minor] for c in loan.principal_changes],
        in_portfolio=True if counted else None,
        created_at=created_at,
        updated_at=created_at,
        gsi1pk=LoanItem.supplier_index_pk(loan.supplier_id),
        gsi1sk=f"{created_at}#{loan.loan_id}",
        gsi2pk=LoanItem.status_index_pk(loan.status.value) if counted else None,
        gsi2sk=LoanItem.status_index_sk(loan.loan_id, maturity) if counted else None,
    )


class OutboxStream:
    """A moto table's stream from its start, as an outbox pipe reads it: `read(target)` gives
    (eventName, pk) of the records since the last read that the target pipe's filter passes."""

    def __init__(self, table: str) -> None:
        # moto routes the streams API in-process only with its endpoint named
        endpoint = f"https://streams.dynamodb.{REGION}.amazonaws.com"
        self.client = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)
        arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        shards = self.client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.client.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in shards
        ]

    def records(self, target: str) -> list[dict[str, Any]]:
        """The stream records since the last read that the `target` pipe passes, as it sends them."""
        from infra.constructs.outbox import outbox_filter  # CDK: imported only by the tests that read
        from infra.local.pattern import matches
        from infra.local.pollers import pipe_record

        passed = []
        for n, iterator in enumerate(self.iterators):
            answer = self.client.get_records(ShardIterator=iterator)
            self.iterators[n] = answer["NextShardIterator"]
            passed += [
                pipe_record(record, "stream")
                for record in answer["Records"]
                if matches(outbox_filter(target), record)
            ]
        return passed

    def read(self, target: str) -> list[tuple[str, str]]:
        return [(r["eventName"], r["dynamodb"]["NewImage"]["pk"]["S"]) for r in self.records(target)]
