"""DynamoDB side of file ingestion: file fingerprints, supplier master data, documents and pools,
and the ops listing of unmatched bank items (docs/access-patterns.md)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from scf.adapters.dynamodb.loan_repository import _outbox_item
from scf.adapters.dynamodb.models import FileItem, SupplierItem
from scf.adapters.dynamodb.transactions import (
    connection,
    decode_token,
    encode_token,
    table_name,
)
from scf.clock import iso_utc
from scf.domain.files import SupplierRecord
from scf.events import OutboxEvent
from scf.service.checkpoint import Checkpoint, Lease
from scf.service.ingest import (
    BUSY_OUTCOME,
    DONE_OUTCOME,
    DUPLICATE,
    NEW_OUTCOME,
    PROCESSING,
    REJECTED,
    RESUME_OUTCOME,
    FileClaim,
)
from scf.service.statements import shown_amount
from scf.service.unmatched import shown

UNMATCHED_INDEX_PK = "UNMATCHED#OPEN"  # gsi1pk of every bank item that matched nothing or needs review
RESOLVED_INDEX_PK = "UNMATCHED#RESOLVED"  # gsi1pk of such an item once ops resolved it
_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")
_JSON_ATTRIBUTES = frozenset({"references", "matched", "resolution"})


def _file_key(sha256: str) -> dict[str, Any]:
    pk, sk = FileItem.key(sha256)
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _condition_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _cancelled_by_condition(exc: ClientError) -> bool:
    reasons = exc.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)


# The lease and the checkpoint's offset are plain attributes of the FILE item, written and compared
# by the conditions below (service/checkpoint.py); `checkpoint` is FileItem.checkpoint (JSON).
_FILE_NAMES = {"#status": "status", "#owner": "lease_owner", "#until": "lease_until"}


class DynamoIngestRepository:
    def claim_file(
        self, sha256: str, key: str, now: datetime, lease: Lease | None = None, version: str | None = None
    ) -> FileClaim:
        """Claim the bytes (first time, or after their file was REJECTED: with the lease); the same
        key again while it is PROCESSING takes the lease if it is free or expired, and answers
        where the last invocation stopped. A rejection is no claim: the bytes may come again."""
        pk, sk = FileItem.key(sha256)
        client = connection().client
        item = FileItem(
            pk,
            sk,
            sha256=sha256,
            key_name=key,
            status=PROCESSING,
            created_at=iso_utc(now),
            updated_at=iso_utc(now),
        ).serialize()
        if lease is not None:
            item |= {"lease_owner": {"S": lease.owner}, "lease_until": {"N": repr(lease.until)}}
        if version is not None:
            item["object_version"] = {"S": version}
        try:
            client.put_item(
                TableName=table_name(),
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #status = :rejected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":rejected": {"S": REJECTED}},
            )
            return FileClaim(NEW_OUTCOME)
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
        first = FileItem.get(pk, sk, consistent_read=True)
        if first.key_name != key or (version and first.object_version and version != first.object_version):
            return FileClaim(DUPLICATE, first.key_name)
        if first.status != PROCESSING:
            return FileClaim(DONE_OUTCOME, first.key_name)
        if lease is None:
            return FileClaim(RESUME_OUTCOME, first.key_name, _checkpoint(first.checkpoint))
        try:
            answer = client.update_item(
                TableName=table_name(),
                Key=_file_key(sha256),
                UpdateExpression="SET #owner = :owner, #until = :until",
                ConditionExpression="#status = :processing AND "
                "(attribute_not_exists(#until) OR #until < :now)",
                ExpressionAttributeNames=_FILE_NAMES,
                ExpressionAttributeValues={
                    ":owner": {"S": lease.owner},
                    ":until": {"N": repr(lease.until)},
                    ":now": {"N": repr(lease.taken_at)},
                    ":processing": {"S": PROCESSING},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            again = FileItem.get(pk, sk, consistent_read=True)
            return FileClaim(BUSY_OUTCOME if again.status == PROCESSING else DONE_OUTCOME, first.key_name)
        raw = answer["Attributes"].get("checkpoint")
        return FileClaim(RESUME_OUTCOME, first.key_name, _checkpoint(json.loads(raw["S"]) if raw else None))

    def save_checkpoint(self, sha256: str, owner: str, checkpoint: Checkpoint, now: datetime) -> bool:
        try:
            connection().client.update_item(
                TableName=table_name(),
                Key=_file_key(sha256),
                UpdateExpression="SET #checkpoint = :checkpoint, #offset = :offset, updated_at = :now "
                "REMOVE #owner, #until",
                ConditionExpression="#status = :processing AND #owner = :owner AND "
                "(attribute_not_exists(#offset) OR #offset < :offset)",
                ExpressionAttributeNames=_FILE_NAMES
                | {"#checkpoint": "checkpoint", "#offset": "checkpoint_offset"},
                ExpressionAttributeValues={
                    ":checkpoint": {"S": json.dumps(checkpoint.to_json(), separators=(",", ":"))},
                    ":offset": {"N": str(checkpoint.offset)},
                    ":now": {"S": iso_utc(now)},
                    ":owner": {"S": owner},
                    ":processing": {"S": PROCESSING},
                },
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def release_file(self, sha256: str, owner: str) -> None:
        try:
            connection().client.update_item(
                TableName=table_name(),
                Key=_file_key(sha256),
                UpdateExpression="REMOVE #owner, #until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "lease_owner", "#until": "lease_until"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def finish_file(
        self,
        sha256: str,
        status: str,
        file_format: str | None,
        report_key: str,
        now: datetime,
        owner: str | None = None,
        event: OutboxEvent | None = None,
    ) -> None:
        """The final status (and `event`'s outbox item, written once, in the same transaction);
        with `owner`, only while it holds the lease (else whoever took the file over finishes it)."""
        names = _FILE_NAMES | {
            "#format": "format",
            "#report": "report_key",
            "#checkpoint": "checkpoint",
            "#offset": "checkpoint_offset",
        }
        values: dict[str, Any] = {":status": {"S": status}, ":report": {"S": report_key}}
        values[":now"] = {"S": iso_utc(now)}
        sets = ["#status = :status", "#report = :report", "updated_at = :now"]
        removes = ["#checkpoint", "#offset", "#owner", "#until"]
        if file_format:
            sets.append("#format = :format")
            values[":format"] = {"S": file_format}
        else:
            removes.append("#format")
        kwargs: dict[str, Any] = {}
        if owner is not None:
            kwargs = {"ConditionExpression": "#owner = :owner"}
            values[":owner"] = {"S": owner}
        update = {
            "TableName": table_name(),
            "Key": _file_key(sha256),
            "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            **kwargs,
        }
        try:
            if event is None:
                connection().client.update_item(**update)
                return
            outbox = {
                "TableName": table_name(),
                "Item": _outbox_item(event, now).serialize(),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            connection().client.transact_write_items(TransactItems=[{"Update": update}, {"Put": outbox}])
        except ClientError as exc:
            # Someone else finished the file, or this event was written by an earlier finish.
            if not (_condition_failed(exc) or _cancelled_by_condition(exc)):
                raise

    def upsert_suppliers(self, records: list[SupplierRecord], source_key: str, now: datetime) -> None:
        with SupplierItem.batch_write() as batch:
            for r in records:
                pk, sk = SupplierItem.key(r.supplier_id)
                batch.save(
                    SupplierItem(
                        pk,
                        sk,
                        supplier_id=r.supplier_id,
                        name=r.name,
                        status=r.status,
                        bank_code=r.bank_code,
                        account_number=r.account_number,
                        account_name=r.account_name,
                        account_verified=r.account_verified,
                        updated_at=iso_utc(now),
                        source=f"{source_key}:{r.line}",
                    )
                )

    def list_unmatched(
        self, limit: int, token: str | None, status: str = "OPEN"
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Items on the ops list (OPEN) or resolved (RESOLVED), by booking date (gsi1)."""
        index_pk = RESOLVED_INDEX_PK if status == "RESOLVED" else UNMATCHED_INDEX_PK
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :state",
            "ExpressionAttributeValues": {":state": {"S": index_pk}},
            "Limit": limit,
        }
        start = decode_token(token, gsi1pk=index_pk)
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = connection().client.query(**kwargs)
        deserializer = TypeDeserializer()
        items = [
            unmatched_view(
                {
                    k: _json_attribute(k, _plain(deserializer.deserialize(v)))
                    for k, v in raw.items()
                    if k not in _KEY_ATTRIBUTES
                },
                status,
            )
            for raw in answer.get("Items", [])
        ]
        return items, encode_token(answer.get("LastEvaluatedKey"))


def unmatched_view(item: dict[str, Any], status: str) -> dict[str, Any]:
    """An item as ops see it: `item_id`, `status` OPEN or RESOLVED (the bank's own status is
    `booking_status`), money as two-decimal strings, the resolution without its request hashes."""
    view = {**item, "item_id": item.get("entry_id"), "status": status, "booking_status": item.get("status")}
    view["amount"] = shown_amount(item.get("amount_minor"), item.get("amount"))
    if view.get("resolution"):
        view["resolution"] = shown(view["resolution"])
    return view


def _checkpoint(raw: dict[str, Any] | None) -> Checkpoint | None:
    return Checkpoint.from_json(raw) if raw else None


def _json_attribute(name: str, value: Any) -> Any:
    """BankEntryItem's JSON attributes are stored as strings: give them back as JSON."""
    if name in _JSON_ATTRIBUTES and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int, others str (never float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value
