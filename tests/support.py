"""Helpers shared by the test layers (importable as `tests.support`; pytest puts the repo root on
sys.path). Fixtures built on them live in tests/conftest.py."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

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
    return module


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
