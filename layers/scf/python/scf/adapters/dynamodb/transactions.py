"""DynamoDB plumbing shared by the credit and file repositories: one mixed-model BatchGetItem,
transactions on one shared connection, ClientError codes translated in one place, page tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from scf.adapters.dynamodb.models import BaseItem
from scf.errors import InvalidInput

CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"
MAX_BATCH_GET_ATTEMPTS = 8

RawItem = dict[str, dict[str, Any]]
Key = tuple[str, str]


class BadPageToken(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="INVALID_TOKEN", field="next_token")


def connection() -> Connection:
    """The low-level connection of the bound table (shared by all models, created once)."""
    return BaseItem._get_connection().connection


def table_name() -> str:
    return str(BaseItem.Meta.table_name)


def batch_get(keys: Sequence[Key], *, consistent: bool = True) -> dict[Key, RawItem]:
    """One BatchGetItem for items of any model (<= 100 keys); unprocessed keys are asked again."""
    if len(keys) > 100:
        raise ValueError("BatchGetItem takes at most 100 keys")
    client = connection().client
    pending: list[dict[str, Any]] = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
    found: dict[Key, RawItem] = {}
    for _ in range(MAX_BATCH_GET_ATTEMPTS):
        if not pending:
            return found
        answer = client.batch_get_item(
            RequestItems={table_name(): {"Keys": pending, "ConsistentRead": consistent}}
        )
        for item in answer.get("Responses", {}).get(table_name(), []):
            found[(item["pk"]["S"], item["sk"]["S"])] = item
        pending = answer.get("UnprocessedKeys", {}).get(table_name(), {}).get("Keys", [])
    raise RuntimeError("BatchGetItem left keys unprocessed after retries")


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    """The reason code of each action of a cancelled transaction (None: that action was fine)."""
    return [reason.code if reason is not None else None for reason in error.cancellation_reasons]


def is_condition_failure(error: PynamoDBException) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def encode_token(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_evaluated_key, sort_keys=True).encode()).decode()


MAX_KEY_LENGTH = 1024  # DynamoDB's limit on a sort key; a partition key's is 2048


def decode_token(token: str | None, *, gsi1pk: str) -> dict[str, Any] | None:
    """The start key of a page of the gsi1 list `gsi1pk` (see `decode_index_token`)."""
    return decode_index_token(token, index="gsi1", partition=gsi1pk)


def decode_index_token(token: str | None, *, index: str, partition: str) -> dict[str, Any] | None:
    """The start key of a page of the list `partition` of `index` (gsi1, gsi2): exactly that index's
    four string keys, in that list's partition. Anything else (however well-formed JSON) is a
    BadPageToken, never a store error."""
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadPageToken("next_token is not a token this API issued") from exc
    if not (
        isinstance(value, dict)
        and value.keys() == {"pk", "sk", f"{index}pk", f"{index}sk"}
        and all(
            isinstance(key, dict)
            and key.keys() == {"S"}
            and isinstance(key["S"], str)
            and 0 < len(key["S"]) <= MAX_KEY_LENGTH
            for key in value.values()
        )
    ):
        raise BadPageToken("next_token is not a token this API issued")
    if value[f"{index}pk"]["S"] != partition:
        raise BadPageToken("next_token does not belong to this list")
    return value
