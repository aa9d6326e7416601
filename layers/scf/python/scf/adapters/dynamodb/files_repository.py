"""DynamoDB side of file ingestion: file fingerprints, supplier master data, documents and pools,
and the ops listing of unmatched bank items (docs/access-patterns.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from scf.adapters.dynamodb.models import DocumentItem, FileItem, PoolItem, SupplierItem
from scf.adapters.dynamodb.transactions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    batch_get,
    cancellation_codes,
    connection,
    decode_token,
    encode_token,
    is_condition_failure,
    table_name,
)
from scf.adapters.files.platform_csv import SupplierRecord
from scf.domain.pool import Pool
from scf.service.ingest import (
    DONE_OUTCOME,
    DUPLICATE,
    NEW_OUTCOME,
    PROCESSING,
    RESUME_OUTCOME,
    ChunkConflict,
    DocKey,
    FileClaim,
    NewDocument,
    PoolKey,
    PoolVersion,
)

UNMATCHED_INDEX_PK = "UNMATCHED#OPEN"  # gsi1pk of every bank item that matched nothing (later issue)
_KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class DynamoIngestRepository:
    def claim_file(self, sha256: str, key: str, now: datetime) -> FileClaim:
        pk, sk = FileItem.key(sha256)
        item = FileItem(
            pk, sk, sha256=sha256, key_name=key, status=PROCESSING, created_at=_iso(now), updated_at=_iso(now)
        )
        try:
            item.save(condition=FileItem.pk.does_not_exist())
            return FileClaim(NEW_OUTCOME)
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
        first = FileItem.get(pk, sk, consistent_read=True)
        if first.key_name != key:
            return FileClaim(DUPLICATE, first.key_name)
        return FileClaim(RESUME_OUTCOME if first.status == PROCESSING else DONE_OUTCOME, first.key_name)

    def finish_file(
        self, sha256: str, status: str, file_format: str | None, report_key: str, now: datetime
    ) -> None:
        pk, sk = FileItem.key(sha256)
        FileItem(pk, sk).update(
            actions=[
                FileItem.status.set(status),
                FileItem.format.set(file_format) if file_format else FileItem.format.remove(),
                FileItem.report_key.set(report_key),
                FileItem.updated_at.set(_iso(now)),
            ]
        )

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
                        updated_at=_iso(now),
                        source=f"{source_key}:{r.line}",
                    )
                )

    def load_chunk(
        self, doc_keys: list[DocKey], pool_keys: list[PoolKey]
    ) -> tuple[dict[DocKey, str], dict[PoolKey, PoolVersion]]:
        """One consistent BatchGetItem for the chunk's documents and pools (<= 98 keys)."""
        keys = [DocumentItem.key(s, d) for s, d in doc_keys] + [PoolItem.key(s, c) for s, c in pool_keys]
        found = batch_get(keys)
        documents: dict[DocKey, str] = {}
        pools: dict[PoolKey, PoolVersion] = {}
        for (_, sk), raw in found.items():
            if sk.startswith("POOL#"):
                item = PoolItem.from_raw_data(raw)
                held = PoolVersion(Pool.from_state(item.state), item.version)
                pools[(item.supplier_id, item.currency)] = held
            else:
                doc = DocumentItem.from_raw_data(raw)
                documents[(doc.supplier_id, doc.document_id)] = doc.content_hash
        return documents, pools

    def commit_documents(
        self, documents: list[NewDocument], pools: dict[PoolKey, PoolVersion], now: datetime
    ) -> None:
        """One transaction: every new document (never overwriting one) and every touched pool
        (conditional on the version read)."""
        stamp = _iso(now)
        try:
            with TransactWrite(connection=connection()) as tx:
                for new in documents:
                    r, doc = new.record, new.record.document
                    pk, sk = DocumentItem.key(r.supplier_id, doc.document_id)
                    tx.save(
                        DocumentItem(
                            pk,
                            sk,
                            supplier_id=r.supplier_id,
                            document_id=doc.document_id,
                            document_type=doc.document_type,
                            document_date=doc.document_date.isoformat(),
                            due_date=r.due_date.isoformat() if r.due_date else None,
                            amount_minor=doc.amount_minor,
                            currency=r.currency,
                            status=doc.status,
                            reference=";".join(doc.references) or None,
                            content_hash=r.content_hash,
                            source=new.source,
                        ),
                        condition=DocumentItem.pk.does_not_exist(),
                    )
                for (supplier_id, currency), held in pools.items():
                    pk, sk = PoolItem.key(supplier_id, currency)
                    # `version` set: PynamoDB adds "version = :read" and writes read + 1;
                    # None: it adds "version does not exist" (the first write of this pool).
                    item = PoolItem(
                        pk,
                        sk,
                        supplier_id=supplier_id,
                        currency=currency,
                        state=held.pool.to_state(),
                        updated_at=stamp,
                    )
                    if held.version is not None:
                        item.version = held.version
                    tx.save(item)
        except TransactWriteError as exc:
            if any(code in (CONDITION_FAILED, TRANSACTION_CONFLICT) for code in cancellation_codes(exc)):
                raise ChunkConflict(str(exc)) from exc
            raise

    def list_unmatched(self, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :open",
            "ExpressionAttributeValues": {":open": {"S": UNMATCHED_INDEX_PK}},
            "Limit": limit,
        }
        start = decode_token(token)
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = connection().client.query(**kwargs)
        deserializer = TypeDeserializer()
        items = [
            {k: _plain(deserializer.deserialize(v)) for k, v in raw.items() if k not in _KEY_ATTRIBUTES}
            for raw in answer.get("Items", [])
        ]
        return items, encode_token(answer.get("LastEvaluatedKey"))


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int, others str (never float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value
