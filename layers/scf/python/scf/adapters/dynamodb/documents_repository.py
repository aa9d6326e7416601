"""DynamoDB side of platform documents (scf.service.documents): pools read once and cached, units
of documents + pool + sweeps written in as few transactions as they fit, and what a sweep needs to
know about the supplier's loans (docs/access-patterns.md, "Documents").

The pool cache holds what this process last read or wrote of each pool, as the stored bytes
(compressed state) and version: a pool is decoded when it is planned and dropped afterwards, so
memory stays with the bytes. A cached pool that another writer changed meanwhile makes its unit's
version condition fail, and the service reads it again (`fresh`): the cache is never trusted for
correctness, only for speed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from scf.adapters.dynamodb.loan_repository import LoanRepository, _outbox_item
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
    cancellation_codes,
    connection,
    table_name,
)
from scf.domain.loan import REPAYABLE, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.domain.pool import Pool
from scf.events import REPAYMENT_REQUESTED, OutboxEvent
from scf.service.documents import (
    MAX_TRANSACTION_ACTIONS,
    DocKey,
    PoolKey,
    PoolVersion,
    SweepWrite,
    Unit,
)
from scf.service.sweeps import OpenLoan, Sweep, SweptLoan

POOL_CACHE_BYTES = 32 * 1024 * 1024  # stored pool states kept (a few KB each, up to ~100 KB)
MAX_CONFLICT_ROUNDS = 8  # TransactionConflict (a concurrent transaction on an item) is retried
NOT_EXISTS = "attribute_not_exists(pk)"
MAX_POOL_STATE_BYTES = 380 * 1024  # DynamoDB's item limit is 400 KB, the rest of the item included

Built = tuple[list[dict[str, Any]], bytes]  # a unit's puts, and its pool's stored state


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _batches(keys: Sequence[Any], size: int = 100) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _put(item: BaseItem, condition: str = NOT_EXISTS, **extra: Any) -> dict[str, Any]:
    return {"TableName": table_name(), "Item": item.serialize(), "ConditionExpression": condition, **extra}


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
            created_at=_iso(now),
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
        )
        event = OutboxEvent(
            event_id=f"{REPAYMENT_REQUESTED}-{swept.repayment_id}",
            event_type=REPAYMENT_REQUESTED,
            payload={
                "repayment_id": swept.repayment_id,
                "loan_id": swept.loan_id,
                "supplier_id": sweep.supplier_id,
                "amount": format_amount(swept.amount_minor),
                "currency": sweep.currency,
                "source": RepaymentSource.SETTLEMENT_SWEEP.value,
            },
        )
        items += [LoanRepository._repayment_item(repayment, now.isoformat()), _outbox_item(event, now)]
    return items


class PoolTooLarge(RuntimeError):
    """A pool's stored state would not fit one item (the file fails loudly, its message to the DLQ)."""


class DynamoDocumentStore:
    def __init__(self, loans: LoanRepository | None = None, cache_bytes: int = POOL_CACHE_BYTES) -> None:
        self.loans = loans or LoanRepository()
        self.cache_bytes = cache_bytes
        self._pools: OrderedDict[PoolKey, tuple[bytes, int]] = OrderedDict()
        self._cached_bytes = 0

    # ---- reads ------------------------------------------------------------------------------------

    def load_pools(self, keys: list[PoolKey], *, fresh: bool = False) -> dict[PoolKey, PoolVersion]:
        found: dict[PoolKey, PoolVersion] = {}
        missing = [key for key in keys if fresh or key not in self._pools]
        for key in keys:
            if key not in missing:
                self._pools.move_to_end(key)
                state, version = self._pools[key]
                found[key] = PoolVersion(Pool.from_state(PoolItem.state.deserialize(state)), version)
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
                found[key] = PoolVersion(
                    Pool.from_state(PoolItem.state.deserialize(item["state"]["B"])), version
                )
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

    def commit_units(self, units: list[Unit], now: datetime) -> set[int]:
        """Units packed in order into transactions of at most MAX_TRANSACTION_ACTIONS actions and one
        unit per pool. A cancelled transaction names the actions whose condition failed: their units
        fail, and so do the later units of the same pool (its version chain is broken); the other
        units of that transaction, and the later units of their pools, are written next round."""
        stamp = _iso(now)
        built = [self._actions(unit, stamp, now) for unit in units]
        failed: set[int] = set()
        pending = list(range(len(units)))
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not pending:
                return failed
            pending = self._round(pending, units, built, failed)
        raise RuntimeError("transactions kept conflicting with concurrent writers")

    def _round(
        self, pending: list[int], units: list[Unit], built: list[Built], failed: set[int]
    ) -> list[int]:
        """Write what can be written of `pending`; what is to be written again."""
        retry: list[int] = []
        waiting: set[PoolKey] = set()  # a pool with a unit not written this round
        batch: list[int] = []
        for index in [*pending, None]:
            key = units[index].pool_key if index is not None else None
            if batch and (
                index is None
                or sum(len(built[i][0]) for i in batch) + len(built[index][0]) > MAX_TRANSACTION_ACTIONS
                or key in {units[i].pool_key for i in batch}
            ):
                own, again = self._write(batch, units, built)
                failed.update(own)
                retry.extend(again)
                waiting.update(units[i].pool_key for i in (*own, *again))
                batch = []
            if index is None:
                break
            if key in waiting:
                if any(units[i].pool_key == key for i in failed):
                    failed.add(index)  # an earlier unit of its pool failed: it cannot follow it
                else:
                    retry.append(index)
                continue
            batch.append(index)
        return sorted(retry)

    def _write(self, batch: list[int], units: list[Unit], built: list[Built]) -> tuple[set[int], list[int]]:
        """One transaction; (units whose own condition failed, units to write again)."""
        puts = [put for i in batch for put in built[i][0]]
        try:
            connection().transact_write_items(
                condition_check_items=[], delete_items=[], put_items=puts, update_items=[]
            )
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if not codes or any(code not in (None, CONDITION_FAILED, TRANSACTION_CONFLICT) for code in codes):
                raise
            owners = [i for i in batch for _ in built[i][0]]
            own = {owners[n] for n, code in enumerate(codes) if code == CONDITION_FAILED}
            for i in own:
                self._forget(units[i].pool_key)
            return own, [i for i in batch if i not in own]
        for i in batch:
            unit = units[i]
            self._remember(unit.pool_key, built[i][1], (unit.version or 0) + 1)
        return set(), []

    def _actions(self, unit: Unit, stamp: str, now: datetime) -> Built:
        """A unit's puts (documents, pool, sweeps) and its pool's stored bytes."""
        puts = []
        for new in unit.documents:
            r, doc = new.record, new.record.document
            puts.append(
                _put(
                    DocumentItem(
                        *DocumentItem.key(r.supplier_id, doc.document_id),
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
                    )
                )
            )
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
        return puts, state

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
