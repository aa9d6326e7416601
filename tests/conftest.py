"""Fixtures shared by every test layer (helpers in tests/support.py).

`aws` starts moto before any client exists (DESIGN.md section 7) with fake credentials, and with the
emulator fixes the local stack runs with (infra/local/moto_fixes.py: atomic requests, queries and
reads that do not cost the table); `tables`
creates the business table with the keys of docs/architecture.md and binds the
PynamoDB models to them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from infra.local import moto_fixes
from scf.adapters.dynamodb.models import bind
from tests.support import REGION, create_tables
from tests.table_grants import Recorder, recording

# Every test, whatever its own fixtures, runs against the emulator as the local stack runs it.
moto_fixes.install()
# As in the local stack: no X-Ray daemon to reach (docs/operations.md, "Observability").
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

TABLE = "scf-test"


@pytest.fixture(autouse=True)
def table_grants(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every DynamoDB call a handler makes in the test is one its function's IAM grant allows
    (infra/table_access.py; moto enforces no IAM): a call outside the grant fails the test."""
    for recorder in recording(monkeypatch):
        yield recorder
        recorder.dump(os.environ.get("SCF_TABLE_CALLS"))
        refused = recorder.refused()
        if refused:
            pytest.fail("outside the function's grant in infra/table_access.py:\n" + "\n".join(refused))


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


@pytest.fixture
def tables(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The business table in moto, the models bound, and the function environment pointing at them."""
    client = create_tables(TABLE)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    bind(TABLE, REGION)
    from scf.config import settings

    settings.cache_clear()
    yield client
    settings.cache_clear()
