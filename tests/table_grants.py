"""Every DynamoDB call a function's handler makes in a test, checked against that function's grant
(infra/table_access.py). moto does not enforce IAM: without this, a write outside the grant would
pass every test here and fail in AWS with AccessDenied.

`load_handler` (tests/support.py) wraps each handler with `as_function`; the autouse fixture in
tests/conftest.py records through `botocore`'s one call path and fails the test on a call the grant
would refuse. Calls outside a handler (a test's own seeding) are not the function's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import botocore.client
import pytest

from infra.table_access import (
    BATCH_GET,
    BATCH_WRITE,
    CONDITION_CHECK,
    DELETE,
    GET,
    PUT,
    TABLE_ACCESS,
    UPDATE,
)

F = TypeVar("F", bound=Callable[..., Any])
# The function whose handler runs, read by every thread (the document writers run in a pool).
_running: list[str] = []
TEST_CODE = ""

_SINGLE_ITEM = {"GetItem": GET, "PutItem": PUT, "UpdateItem": UPDATE, "DeleteItem": DELETE}
_TRANSACT = {"Put": PUT, "Update": UPDATE, "Delete": DELETE, "ConditionCheck": CONDITION_CHECK, "Get": GET}


@dataclass(frozen=True)
class Call:
    """One IAM-authorized access: an action on an item (its partition key) or an index."""

    function: str
    action: str
    pk: str | None = None
    index: str | None = None

    def __str__(self) -> str:
        where = f"pk {self.pk!r}" if self.pk is not None else f"index {self.index!r}"
        return f"{self.function}: {self.action} on {where}"


def _pk(item_or_key: dict[str, Any]) -> str:
    return str(item_or_key["pk"]["S"])


Access = tuple[str, str | None, str | None]


def accesses(operation: str, params: dict[str, Any]) -> list[Access]:
    """(IAM action, partition key, index) of each item or index a DynamoDB request touches."""
    if operation in _SINGLE_ITEM:
        item = params.get("Item") or params["Key"]
        return [(_SINGLE_ITEM[operation], _pk(item), None)]
    if operation in ("Query", "Scan"):
        return [(f"dynamodb:{operation}", None, params.get("IndexName"))]
    if operation == "BatchGetItem":
        return [
            (BATCH_GET, _pk(key), None) for keys in params["RequestItems"].values() for key in keys["Keys"]
        ]
    if operation == "BatchWriteItem":
        return [
            (
                BATCH_WRITE,
                _pk(request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]),
                None,
            )
            for requests in params["RequestItems"].values()
            for request in requests
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found: list[Access] = []
        for entry in params["TransactItems"]:
            ((kind, body),) = entry.items()
            found.append((_TRANSACT[kind], _pk(body.get("Item") or body["Key"]), None))
        return found
    return [(f"dynamodb:{operation}", None, None)]  # anything else must be granted by name


def refused(call: Call) -> bool:
    grant = TABLE_ACCESS.get(call.function)
    return grant is None or not grant.allows(call.action, call.pk, call.index)


def as_function(function: str, handler: F) -> F:
    """`handler`, its DynamoDB calls attributed to `function` while it runs."""

    @functools.wraps(handler)
    def attributed(*args: Any, **kwargs: Any) -> Any:
        _running.append(function)
        try:
            return handler(*args, **kwargs)
        finally:
            _running.pop()

    return attributed  # type: ignore[return-value]


@contextmanager
def outside_functions() -> Iterator[None]:
    """The harness's own calls (a test's stand-in for the outbox pipe, say), even when a test runs
    them from inside a handler: no function's."""
    _running.append(TEST_CODE)
    try:
        yield
    finally:
        _running.pop()


@dataclass
class Recorder:
    calls: list[Call]

    def dump(self, path: str | None) -> None:
        """Append the calls to `path` as JSON lines (SCF_TABLE_CALLS=file: what each function uses)."""
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.writelines(json.dumps(asdict(call)) + "\n" for call in self.calls)

    def refused(self) -> list[str]:
        return sorted({str(call) for call in self.calls if refused(call)})


def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record every DynamoDB access a handler makes while the test runs."""
    recorder = Recorder(calls=[])
    real = botocore.client.BaseClient._make_api_call

    def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if _running and _running[-1] != TEST_CODE and client.meta.service_model.service_name == "dynamodb":
            function = _running[-1]
            recorder.calls.extend(Call(function, *access) for access in accesses(operation, params))
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    yield recorder
