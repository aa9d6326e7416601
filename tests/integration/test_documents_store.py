"""The DynamoDB document store (scf.adapters.dynamodb.documents_repository): documents put exactly
as the model would write them, units packed into transactions whose failures are pinned on the unit
that caused them, and the pool cache that only ever speeds things up."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scf.adapters.dynamodb.documents_repository import DynamoDocumentStore, document_put
from scf.adapters.dynamodb.models import DocumentItem, PoolItem
from scf.domain.files import DocumentRecord
from scf.domain.pool import Document, Pool
from scf.service.documents import NewDocument, Unit
from tests.conftest import TABLE

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def record(doc_id: str, supplier: str = "S-1", **kw: Any) -> DocumentRecord:
    document = Document(
        document_id=doc_id,
        document_type=str(kw.get("kind", "PURCHASE_ORDER")),
        document_date=date(2026, 11, 20),
        amount_minor=int(kw.get("amount", 10_000)),
        status=str(kw.get("status", "CONFIRMED")),
        references=tuple(kw.get("refs", ())),
    )
    return DocumentRecord(
        line=int(kw.get("line", 2)),
        supplier_id=supplier,
        currency="CNY",
        due_date=kw.get("due"),
        document=document,
    )


def unit(supplier: str, doc_ids: list[str], version: int | None = None) -> Unit:
    pool = Pool()
    documents = []
    for doc_id in doc_ids:
        r = record(doc_id, supplier)
        pool.apply(r.document)
        documents.append(NewDocument(r, f"platform/f.csv:{doc_id}"))
    return Unit((supplier, "CNY"), version, documents, state=pool.to_state())


@pytest.mark.parametrize(
    "kw",
    [{}, {"due": date(2026, 12, 31), "refs": ("PO-1", "PO-2"), "kind": "INVOICE", "status": "DISPUTED"}],
    ids=["plain", "due-and-references"],
)
def test_a_document_put_is_exactly_what_the_model_writes(tables: Any, kw: dict[str, Any]) -> None:
    r = record("D-1", **kw)
    new = NewDocument(r, "platform/f.csv:2")
    model = DocumentItem(
        *DocumentItem.key(r.supplier_id, "D-1"),
        supplier_id=r.supplier_id,
        document_id="D-1",
        document_type=r.document.document_type,
        document_date=r.document.document_date.isoformat(),
        due_date=r.due_date.isoformat() if r.due_date else None,
        amount_minor=r.document.amount_minor,
        currency="CNY",
        status=r.document.status,
        reference=";".join(r.document.references) or None,
        content_hash=r.content_hash,
        source=new.source,
    )
    assert document_put(new, TABLE)["Item"] == model.serialize()


def test_units_are_written_with_their_pools_and_the_cache_serves_the_next_read(tables: Any) -> None:
    store = DynamoDocumentStore()
    units = [unit("S-1", [f"PO-{n}" for n in range(60)]), unit("S-2", ["PO-A"]), unit("S-3", ["PO-B"])]
    calls: list[str] = []
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert store.commit_units(units, NOW) == set()
    assert calls.count("TransactWriteItems") == 1  # 62 documents and 3 pools in one transaction
    stored = PoolItem.get(*PoolItem.key("S-1", "CNY"), consistent_read=True)
    assert stored.version == 1 and Pool.from_state(stored.state).open_minor("ORDERED") == 600_000
    read: list[str] = []
    DocumentItem._get_connection().connection.client.meta.events.register(
        "before-call.dynamodb.BatchGetItem", lambda **_: read.append("BatchGetItem")
    )
    pools = store.load_pools([("S-1", "CNY"), ("S-4", "CNY")])
    assert read == ["BatchGetItem"]  # only S-4, which is not cached (and does not exist)
    assert pools[("S-1", "CNY")].version == 1 and pools[("S-4", "CNY")].version is None
    assert pools[("S-1", "CNY")].pool.open_minor("ORDERED") == 600_000


def test_a_failed_condition_fails_its_own_unit_and_the_rest_are_written(tables: Any) -> None:
    store = DynamoDocumentStore()
    assert store.commit_units([unit("S-1", ["PO-1"])], NOW) == set()
    # S-1's next unit repeats PO-1 (it exists): it fails, and so does S-1's unit after it; the
    # other pools' units in the same transaction are written in the next round.
    units = [
        unit("S-2", ["PO-X"]),
        unit("S-1", ["PO-2", "PO-1"], version=1),
        unit("S-3", ["PO-Y"]),
        unit("S-1", ["PO-3"], version=2),
    ]
    assert store.commit_units(units, NOW) == {1, 3}
    for supplier, doc in (("S-2", "PO-X"), ("S-3", "PO-Y")):
        assert DocumentItem.get(*DocumentItem.key(supplier, doc), consistent_read=True)
    with pytest.raises(DocumentItem.DoesNotExist):
        DocumentItem.get(*DocumentItem.key("S-1", "PO-2"), consistent_read=True)
    assert PoolItem.get(*PoolItem.key("S-1", "CNY"), consistent_read=True).version == 1
    assert store.document_hashes([("S-1", "PO-1"), ("S-1", "PO-2")]) == {
        ("S-1", "PO-1"): record("PO-1").content_hash
    }


def test_a_pool_that_moved_on_fails_its_unit_and_leaves_the_cache(tables: Any) -> None:
    store = DynamoDocumentStore()
    assert store.commit_units([unit("S-1", ["PO-1"])], NOW) == set()
    other = DynamoDocumentStore()  # another file's invocation writes the pool meanwhile
    assert other.commit_units([unit("S-1", ["PO-OTHER"], version=1)], NOW) == set()
    assert store.commit_units([unit("S-1", ["PO-2"], version=1)], NOW) == {0}
    assert store.load_pools([("S-1", "CNY")])[("S-1", "CNY")].version == 2  # read again, not cached


def test_a_transaction_conflict_is_written_again(tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DynamoDocumentStore()
    real = store.client.transact_write_items
    attempts: list[int] = []

    def conflicting(**kwargs: Any) -> Any:
        attempts.append(len(kwargs["TransactItems"]))
        if len(attempts) == 1:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (
                len(kwargs["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "x"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return real(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", conflicting)
    assert store.commit_units([unit("S-1", ["PO-1"]), unit("S-2", ["PO-2"])], NOW) == set()
    assert attempts == [4, 4]
    assert (
        boto3.client("dynamodb")
        .get_item(TableName=TABLE, Key={"pk": {"S": "SUPPLIER#S-2"}, "sk": {"S": "DOC#PO-2"}})
        .get("Item")
    )
