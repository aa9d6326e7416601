"""The `DocumentStore` of scf.service.documents on DynamoDB: pools read once and cached, units of
documents + pool + sweeps written in as few transactions as they fit, and the loans a sweep needs
(docs/ingestion.md, "Documents at the speed of the store"; the cache: docs/access-patterns.md).

Invariant: the pool cache is for speed only: a pool another writer changed fails its unit's version
condition, and the service reads it again (`fresh`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore, _outbox_item
from scf.adapters.dynamodb.models import (
    BaseItem,
    DocumentItem,
    ExposureItem,
    PoolItem,
    SweepItem,
)
from scf.adapters.dynamodb.transactions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    batch_get,
    table_name,
)
from scf.clock import iso_utc
from scf.domain.loan import REPAYABLE, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.pool import Pool
from scf.errors import Conflict
from scf.service.documents import (
    MAX_TRANSACTION_ACTIONS,
    DocKey,
    NewDocument,
    PoolKey,
    PoolVersion,
    SweepWrite,
    Unit,
)
from scf.service.sweeps import OpenLoan, Sweep, SweptLoan

POOL_CACHE_BYTES = 32 * 1024 * 1024  # stored pool states kept (a few KB each, up to ~100 KB)
MAX_CONFLICT_ROUNDS = 8  # TransactionConflict (a concurrent transaction on an item) is retried
WRITERS = 3  # transactions of a wave in flight at once (each of other pools)
NOT_EXISTS = "attribute_not_exists(pk)"
MAX_POOL_STATE_BYTES = 380 * 1024  # DynamoDB's item limit is 400 KB, the rest of the item included

# (units whose own condition failed, units to write again, units written)
WriteResult = tuple[list[int], list[int], list[int]]


@dataclass(frozen=True)
class Staged:
    """A unit ready to write: its puts, and its pool's key, new version and stored state."""

    pool_key: PoolKey
    version: int
    puts: list[dict[str, Any]]
    state: bytes


def _batches(keys: Sequence[Any], size: int = 100) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _put(item: BaseItem, condition: str = NOT_EXISTS, **extra: Any) -> dict[str, Any]:
    return {"TableName": table_name(), "Item": item.serialize(), "ConditionExpression": condition, **extra}


def document_put(new: NewDocument, table: str) -> dict[str, Any]:
    """The put of a new document: the attributes DocumentItem serializes to, built directly (a
    million rows through the model cost a minute of CPU; tests/integration/test_documents_store.py
    holds the two equal), on the condition that it does not exist."""
    r, doc = new.record, new.record.document
    item: dict[str, Any] = {
        "pk": {"S": f"SUPPLIER#{r.supplier_id}"},
        "sk": {"S": f"DOC#{doc.document_id}"},
        "supplier_id": {"S": r.supplier_id},
        "document_id": {"S": doc.document_id},
        "document_type": {"S": doc.document_type},
        "document_date": {"S": doc.document_date.isoformat()},
        "amount_minor": {"N": str(doc.amount_minor)},
        "currency": {"S": r.currency},
        "status": {"S": doc.status},
        "content_hash": {"S": r.content_hash},
        "source": {"S": new.source},
    }
    if r.due_date is not None:
        item["due_date"] = {"S": r.due_date.isoformat()}
    if doc.references:
        item["reference"] = {"S": ";".join(doc.references)}
    return {"TableName": table, "Item": item, "ConditionExpression": NOT_EXISTS}


def _decoder(state: bytes) -> Callable[[], Pool]:
    """A pool decoded when it is planned, not when it is read: a window decodes one at a time."""
    return lambda: Pool.from_state(PoolItem.state.deserialize(state))


def _pack(indices: list[int], staged: list[Staged]) -> list[list[int]]:
    """Consecutive units, as many as fit MAX_TRANSACTION_ACTIONS, per transaction."""
    batches: list[list[int]] = []
    size = 0
    for index in indices:
        actions = len(staged[index].puts)
        if batches and size + actions <= MAX_TRANSACTION_ACTIONS:
            batches[-1].append(index)
            size += actions
        else:
            batches.append([index])
            size = actions
    return batches


def sweep_items(write: SweepWrite, now: datetime) -> list[BaseItem]:
    """The sweep item, and per loan a PENDING SETTLEMENT_SWEEP repayment and its outbox event."""
    sweep = write.sweep
    items: list[BaseItem] = [
        SweepItem(
            *SweepItem.key(sweep.supplier_id, sweep.document_id),
            supplier_id=sweep.supplier_id,
            document_id=sweep.document_id,
            currency=sweep.currency,
            amount_minor=sweep.amount_minor,
            released_minor=sweep.released_minor,
            swept=[
                {"loan_id": s.loan_id, "amount_minor": s.amount_minor, "repayment_id": s.repayment_id}
                for s in sweep.swept
            ],
            source=write.source,
            created_at=iso_utc(now),
        )
    ]
    for swept in sweep.swept:
        repayment = Repayment(
            repayment_id=swept.repayment_id,
            loan_id=swept.loan_id,
            supplier_id=sweep.supplier_id,
            status=RepaymentStatus.PENDING,
            source=RepaymentSource.SETTLEMENT_SWEEP,
            amount_minor=swept.amount_minor,
            currency=sweep.currency,
            value_date=sweep.paid_on,  # the day the platform paid (contract section 3)
        )
        items += [
            DynamoLoanStore._repayment_item(repayment, now.isoformat()),
            _outbox_item(repayment.requested_event(), now),
        ]
    return items


class PoolTooLarge(Conflict):
    """A pool's stored state would not fit one item (the file fails loudly, its message to the DLQ)."""


class DynamoDocumentStore:
    def __init__(
        self,
        loans: DynamoLoanStore | None = None,
        cache_bytes: int = POOL_CACHE_BYTES,
        client: Any | None = None,
    ) -> None:
        self.loans = loans or DynamoLoanStore()
        self.cache_bytes = cache_bytes
        self._pools: OrderedDict[PoolKey, tuple[bytes, int]] = OrderedDict()
        self._cached_bytes = 0
        self._client = client
        self._writers: ThreadPoolExecutor | None = None

    # ---- reads ------------------------------------------------------------------------------------

    def load_pools(self, keys: list[PoolKey], *, fresh: bool = False) -> dict[PoolKey, PoolVersion]:
        found: dict[PoolKey, PoolVersion] = {}
        missing = [key for key in keys if fresh or key not in self._pools]
        for key in set(keys).difference(missing):
            self._pools.move_to_end(key)
            state, version = self._pools[key]
            found[key] = PoolVersion(_decoder(state), version)
        for batch in _batches(missing):
            raw = batch_get([PoolItem.key(supplier_id, currency) for supplier_id, currency in batch])
            for key in batch:
                item = raw.get(PoolItem.key(*key))
                if item is None:
                    self._forget(key)
                    found[key] = PoolVersion(Pool(), None)
                    continue
                version = int(item["version"]["N"])
                self._remember(key, item["state"]["B"], version)
                found[key] = PoolVersion(_decoder(item["state"]["B"]), version)
        return found

    def document_hashes(self, keys: list[DocKey]) -> dict[DocKey, str]:
        hashes: dict[DocKey, str] = {}
        for batch in _batches(keys):
            for raw in batch_get([DocumentItem.key(*key) for key in batch]).values():
                hashes[(raw["supplier_id"]["S"], raw["document_id"]["S"])] = raw["content_hash"]["S"]
        return hashes

    def find_sweeps(self, keys: list[DocKey]) -> dict[DocKey, Sweep]:
        sweeps: dict[DocKey, Sweep] = {}
        for batch in _batches(keys):
            for raw in batch_get([SweepItem.key(*key) for key in batch]).values():
                item = SweepItem.from_raw_data(raw)
                sweeps[(item.supplier_id, item.document_id)] = Sweep(
                    document_id=item.document_id,
                    supplier_id=item.supplier_id,
                    currency=item.currency,
                    amount_minor=int(item.amount_minor),
                    swept=tuple(
                        SweptLoan(s["loan_id"], int(s["amount_minor"]), s["repayment_id"])
                        for s in item.swept or []
                    ),
                    released_minor=int(item.released_minor),
                )
        return sweeps

    def loans_to_sweep(self, keys: list[PoolKey], as_of: date) -> dict[PoolKey, list[OpenLoan]]:
        """The exposure item tells which suppliers have open loans (one BatchGetItem per 100 pools);
        only those are looked at: their paid-out loans not yet repaid, owing their payoff as of
        today less what is already on its way (repayments requested, not applied yet)."""
        result: dict[PoolKey, list[OpenLoan]] = {}
        for batch in _batches(keys):
            raw = batch_get([ExposureItem.key(*key) for key in batch])
            for key in batch:
                exposure = raw.get(ExposureItem.key(*key))
                if exposure is None or not exposure.get("open_loans", {}).get("SS"):
                    continue
                supplier_id, currency = key
                loans = self._open_loans(supplier_id, currency, as_of)
                if loans:
                    result[key] = loans
        return result

    def _open_loans(self, supplier_id: str, currency: str, as_of: date) -> list[OpenLoan]:
        found = []
        for record in self.loans.all_loans_of(supplier_id):
            loan = record.loan
            if loan.status not in REPAYABLE or loan.currency != currency or loan.maturity_date is None:
                continue
            pending = sum(
                r.amount_minor
                for r in self.loans.repayments_of(loan.loan_id)
                if r.status is RepaymentStatus.PENDING
            )
            found.append(OpenLoan(loan.loan_id, loan.maturity_date, loan.position(as_of).payoff - pending))
        return found

    # ---- writes -----------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """Its own client: writes go out from WRITERS threads at once, and parameter validation is
        off (the items are built here, by code the tests check; validating 100-action transactions
        cost more than building them)."""
        if self._client is None:
            config = Config(parameter_validation=False, max_pool_connections=2 * WRITERS)
            self._client = boto3.client("dynamodb", config=config)
        return self._client

    def writer(self, now: datetime) -> UnitWriter:
        return UnitWriter(self, now)

    def commit_units(self, units: list[Unit], now: datetime) -> set[int]:
        """Write `units`; the indices of those not written (UnitWriter.finish)."""
        writer = self.writer(now)
        for unit in units:
            writer.add(unit)
        return writer.finish()

    def stage(self, unit: Unit, stamp: str, now: datetime) -> Staged:
        """A unit's puts (documents, pool, sweeps), built once: its state is dropped from it, so a
        window's units hold their stored bytes only."""
        table = table_name()
        puts = [document_put(new, table) for new in unit.documents]
        supplier_id, currency = unit.pool_key
        pool = PoolItem(
            *PoolItem.key(supplier_id, currency),
            supplier_id=supplier_id,
            currency=currency,
            state=unit.state,
            updated_at=stamp,
        )
        pool.version = (unit.version or 0) + 1
        if unit.version is None:
            pool_put = _put(pool)
        else:
            pool_put = _put(
                pool,
                "#version = :read",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":read": {"N": str(unit.version)}},
            )
        state = pool_put["Item"]["state"]["B"]
        if len(state) > MAX_POOL_STATE_BYTES:
            raise PoolTooLarge(
                f"the pool of {supplier_id} in {currency} would be {len(state):,} bytes stored, over "
                f"DynamoDB's item limit (its document ids compress poorly: docs/credit-policy.md)"
            )
        puts.append(pool_put)
        for write in unit.sweeps:
            puts += [_put(item) for item in sweep_items(write, now)]
        unit.state = None
        return Staged(unit.pool_key, pool.version, puts, state)

    def _rounds(self, pending: list[int], staged: list[Staged], failed: set[int]) -> None:
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not pending:
                return
            pending = self._round(pending, staged, failed)
        raise RuntimeError("transactions kept conflicting with concurrent writers")

    def _round(self, pending: list[int], staged: list[Staged], failed: set[int]) -> list[int]:
        """Write what can be written of `pending` in waves (the k-th unit of each pool); what is
        to be written again."""
        waves: dict[int, list[int]] = {}
        seen: dict[PoolKey, int] = {}
        for index in pending:
            key = staged[index].pool_key
            seen[key] = seen.get(key, -1) + 1
            waves.setdefault(seen[key], []).append(index)
        retry: list[int] = []
        stopped: set[PoolKey] = set()  # pools with a unit not written: their later units wait
        broken: set[PoolKey] = set()  # pools with a unit that failed: their later units fail
        for wave in (waves[k] for k in sorted(waves)):
            ready = []
            for index in wave:
                key = staged[index].pool_key
                if key in broken:
                    failed.add(index)
                elif key in stopped:
                    retry.append(index)
                else:
                    ready.append(index)
            for result in self._executor().map(lambda b: self._write(b, staged), _pack(ready, staged)):
                again = self._settle(result, staged, failed)
                retry.extend(again)
                broken.update(staged[i].pool_key for i in result[0])
                stopped.update(staged[i].pool_key for i in (*result[0], *again))
        return sorted(retry)

    def _settle(self, result: WriteResult, staged: list[Staged], failed: set[int]) -> list[int]:
        """Record one transaction's outcome (in the caller's thread); the units to write again."""
        own, again, written = result
        failed.update(own)
        for i in own:
            self._forget(staged[i].pool_key)
        for i in written:
            self._remember(staged[i].pool_key, staged[i].state, staged[i].version)
        return again

    def _executor(self) -> ThreadPoolExecutor:
        if self._writers is None:
            self._writers = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="scf-writer")
        return self._writers

    def _write(self, batch: list[int], staged: list[Staged]) -> WriteResult:
        """One transaction: (units whose own condition failed, units to write again, units
        written)."""
        owners = [i for i in batch for _ in staged[i].puts]
        try:
            self.client.transact_write_items(
                TransactItems=[{"Put": put} for i in batch for put in staged[i].puts]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(codes) != len(owners) or any(
                c not in ("None", None, CONDITION_FAILED, TRANSACTION_CONFLICT) for c in codes
            ):
                raise
            own = sorted({owners[n] for n, code in enumerate(codes) if code == CONDITION_FAILED})
            return own, [i for i in batch if i not in own], []
        return [], [], batch

    def _remember(self, key: PoolKey, state: bytes, version: int) -> None:
        self._forget(key)
        self._pools[key] = (state, version)
        self._cached_bytes += len(state)
        while self._cached_bytes > self.cache_bytes and self._pools:
            _, (evicted, _) = self._pools.popitem(last=False)
            self._cached_bytes -= len(evicted)

    def _forget(self, key: PoolKey) -> None:
        held = self._pools.pop(key, None)
        if held is not None:
            self._cached_bytes -= len(held[0])


class UnitWriter:
    """Units written as they are planned: each is staged (its puts built) when added, and each
    pool's first unit of the window is packed with the ones before it into transactions that go
    out at once (WRITERS threads), so planning the next pools overlaps the store's work; a pool's
    later units (and anything to write again) follow in waves at `finish`."""

    def __init__(self, store: DynamoDocumentStore, now: datetime) -> None:
        self.store, self.now, self.stamp = store, now, iso_utc(now)
        self.staged: list[Staged] = []
        self.batch: list[int] = []
        self.batch_actions = 0
        self.started: set[PoolKey] = set()
        self.later: list[int] = []
        self.sent: list[Future[WriteResult]] = []

    def add(self, unit: Unit) -> int:
        index = len(self.staged)
        staged = self.store.stage(unit, self.stamp, self.now)
        self.staged.append(staged)
        if staged.pool_key in self.started:
            self.later.append(index)
            return index
        self.started.add(staged.pool_key)
        if self.batch and self.batch_actions + len(staged.puts) > MAX_TRANSACTION_ACTIONS:
            self._send()
        self.batch.append(index)
        self.batch_actions += len(staged.puts)
        return index

    def _send(self) -> None:
        batch, self.batch, self.batch_actions = self.batch, [], 0
        self.sent.append(self.store._executor().submit(self.store._write, batch, self.staged))

    def finish(self) -> set[int]:
        """Wait for everything; the indices of the units not written (their own condition failed,
        or an earlier unit of their pool's did)."""
        if self.batch:
            self._send()
        failed: set[int] = set()
        retry: list[int] = []
        for future in self.sent:
            retry += self.store._settle(future.result(), self.staged, failed)
        broken = {self.staged[i].pool_key for i in failed}
        pending = []
        for index in sorted(retry + self.later):
            if self.staged[index].pool_key in broken:
                failed.add(index)  # an earlier unit of its pool failed: it cannot follow it
            else:
                pending.append(index)
        self.store._rounds(pending, self.staged, failed)
        return failed
