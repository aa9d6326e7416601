"""Fixes to the embedded AWS emulator (moto) that make it usable at scale and safe under concurrent
requests, installed by the local stack, the tests and the benchmarks.

One request at a time: moto's server answers requests in threads, and nothing in its DynamoDB
backend is atomic: a transaction's conditions and its writes, or a conditional put, could interleave
with another request's. DynamoDB requests are serialized here with one lock, so every request is
atomic as it is in DynamoDB (the local stack's workers and concurrency tests depend on it).

Queries that cost the table: moto answers every `Query` by sorting the whole table, then filtering
it, so a query of one partition costs O(table log table) (347 ms at 20,000 items, seconds at a
million). Here a table query looks at its partition only, and an index query filters the table once
by the index's hash key (no sort of the table) before moto's own logic runs on the candidates.

Reads that cost five writes: moto 5.2 serializes every response by walking the botocore shape of
each attribute value, so reading an item cost about five times writing it (BatchGetItem 184 keys/s
against BatchWriteItem 458 items/s in-process, 80 % of it in `moto.core.serialize`). The answers
of the item-reading DynamoDB actions (and of DynamoDB Streams' GetRecords, which the local stack's
outbox pipes call for every record) are already in the JSON form, so they are written out with
`json.dumps` (tests/integration/local/test_moto_fixes.py checks it gives the same answers).

moto's `TransactWriteItems` backs up the whole table (`copy.deepcopy`, stream records included)
once per action before applying a transaction, so a transaction costs actions x table size: a
98-action chunk of document ingestion into a table of 100,000 items took seconds, and a
1,000,000-row file never finished (docs/benchmarks.md, "Settlement ingestion"). The replacement
keeps DynamoDB's semantics: every action's condition is evaluated against the state before the
transaction (an item appears at most once in a transaction, so no action sees another's write);
only if all hold are the writes applied, and a write that fails part way puts back the items
already written (copies of those items only).

Notifications that name nobody: S3 names who caused an event (`userIdentity.principalId`,
`AWS:<role id>:<session>` for an assumed role); moto leaves it out. Here it is the identity of the
request's access key: the assumed role's id and session for keys from STS AssumeRole, else the key
itself (so the ingestion's sender check sees what it sees in AWS; docs/ingestion.md).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_INSTALLED = {"done": False}
_DYNAMODB_LOCK = threading.RLock()
_S3_REQUEST = threading.local()  # the access key of the S3 request this thread is answering


def install() -> None:
    """Install every fix (idempotent)."""
    if _INSTALLED["done"]:
        return
    _serialize_dynamodb_requests()
    _s3_notifications_name_the_version()
    _s3_notifications_name_the_uploader()
    _item_reads_as_plain_json()
    _query_candidates_only()
    _transactions_cost_their_items()
    _INSTALLED["done"] = True


def _serialize_dynamodb_requests() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    DynamoHandler.call_action = call_action


def _s3_notifications_name_the_version() -> None:
    """S3 event notifications carry `versionId` (versioned buckets) and `sequencer`; moto's leave
    both out, and the same bytes uploaded twice under one key could not be told from a notification
    delivered twice (ingestion reports the first as a DUPLICATE and ignores the second)."""
    import itertools

    from moto.s3 import notifications

    original = notifications._get_s3_event
    sequence = itertools.count(1)

    def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            record["s3"]["object"]["sequencer"] = f"{next(sequence):016X}"
            if getattr(key, "version_id", None) not in (None, "null"):
                record["s3"]["object"]["versionId"] = key.version_id
        return event

    notifications._get_s3_event = s3_event


def _s3_notifications_name_the_uploader() -> None:
    from moto.s3 import notifications
    from moto.s3.responses import S3Response

    setup = S3Response.setup_class

    def setup_class(self: Any, *args: Any, **kwargs: Any) -> None:
        setup(self, *args, **kwargs)
        _S3_REQUEST.access_key = self.get_access_key()

    S3Response.setup_class = setup_class
    original = notifications._get_s3_event

    def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        principal = uploader_principal(bucket.account_id, getattr(_S3_REQUEST, "access_key", None))
        for record in event["Records"]:
            record["userIdentity"] = {"principalId": principal}
        return event

    notifications._get_s3_event = s3_event


def uploader_principal(account_id: str, access_key: str | None) -> str:
    """What S3 names as the principal of a request made with `access_key`."""
    from moto.sts.models import sts_backends

    if not access_key:
        return "AWS:ANONYMOUS"
    role = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key)
    return f"AWS:{role.user_id}" if role is not None else f"AWS:{access_key}"


FAST_JSON_ACTIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def _item_reads_as_plain_json() -> None:
    import json

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def plain(handler: type[Any], actions: frozenset[str], content_type: str) -> None:
        original = handler.serialized

        def serialized(self: Any, action_result: Any) -> Any:
            result = action_result.result if isinstance(action_result, ActionResult) else None
            if not isinstance(result, dict) or self._get_action() not in actions:
                return original(self, action_result)
            headers = dict(self.response_headers)
            headers["Content-Type"] = content_type
            return 200, headers, json.dumps(result, separators=(",", ":"), default=_plain_json)

        handler.serialized = serialized

    plain(DynamoHandler, FAST_JSON_ACTIONS, "application/x-amz-json-1.0")
    # The local stack's outbox pipes read every stream record of the table (GetRecords).
    plain(DynamoDBStreamsHandler, frozenset({"GetRecords"}), "application/x-amz-json-1.0")


def _plain_json(value: Any) -> Any:
    """What a DynamoDB answer holds besides JSON types: Decimals in consumed capacity, binary values
    nested in lists, maps and sets (base64, as DynamoDB writes them), DynamoType values, and a
    stream record's creation time (epoch seconds, as the JSON protocol writes timestamps)."""
    import base64
    from datetime import UTC, datetime
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)  # float-ok: not money
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):  # moto's are naive UTC
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()  # float-ok: a time, not money
    if isinstance(value, DynamoType):
        return value.to_json()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _query_candidates_only() -> None:
    """`Table.query` calls `self.all_items()` (the whole table, sorted) and filters it; hand it the
    items that can match instead. moto sorts the matches itself afterwards."""
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        candidates = getattr(self, "_scf_candidates", None)
        return list(candidates) if candidates is not None else original_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name is None and hash_key is not None and self.range_key_attr is not None:
            candidates: list[Any] = list(self.items.get(hash_key, {}).values())
        elif index_name is not None and conditions:
            expected = [(name, value.type, value.value) for name, value in conditions]
            candidates = [
                item
                for partition in self.items.values()
                for item in (partition.values() if isinstance(partition, dict) else (partition,))
                if all(
                    (found := item.attrs.get(name)) is not None
                    and found.type == kind
                    and found.value == value
                    for name, kind, value in expected
                )
            ]
        else:
            return original_query(self, hash_key, *args, **kwargs)
        self._scf_candidates = candidates
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            self._scf_candidates = None

    Table.all_items = all_items
    Table.query = query


def _transactions_cost_their_items() -> None:
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import get_filter_expression as filter_expression

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        targets: set[tuple[str, str]] = set()
        planned: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        errors: list[tuple[str | None, str | None, Any]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            original_item = None
            try:
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                if op_type == "Put":
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                target = (str(table_name), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(table_name, key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                planned.append((op_type, table_name, key, op))
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as exc:
                errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
            except Exception as exc:
                errors.append((type(exc).__name__, str(exc), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        written: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, table_name, key, op in planned:
                if op_type == "ConditionCheck":
                    continue
                written.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name, key, expression_attribute_names=names, expression_attribute_values=values
                    )
                else:
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
        except Exception:
            for table_name, key, before in reversed(written):
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    DynamoDBBackend.transact_write_items = transact_write_items
