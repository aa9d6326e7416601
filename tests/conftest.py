"""Fixtures shared by every test layer.

`aws` starts moto before any client exists (DESIGN.md section 7) with fake credentials;
`tables` creates the business and idempotency tables with the keys of docs/architecture.md and
binds the PynamoDB models to them; `load_handler` imports a function's handler.py by path, the way
Lambda does (each function directory is its own code root).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scf.adapters.dynamodb.models import bind

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
REGION = "us-east-1"
TABLE = "scf-test"
IDEMPOTENCY_TABLE = "scf-test-idempotency"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def create_business_table(name: str = TABLE) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attr, "AttributeType": "S"} for attr in ("pk", "sk", "gsi1pk", "gsi1sk")
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
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    client.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return client


@pytest.fixture
def tables(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Both tables in moto, the models bound, and the function environment pointing at them."""
    client = create_business_table()
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    bind(TABLE, REGION)
    from scf.config import settings

    settings.cache_clear()
    yield client
    settings.cache_clear()


@pytest.fixture
def load_handler() -> Callable[[str], ModuleType]:
    """Import functions/<name>/handler.py fresh, under a unique module name."""

    def load(name: str) -> ModuleType:
        path = ROOT / "functions" / name / "handler.py"
        module_name = f"scf_function_{name}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module

    return load
