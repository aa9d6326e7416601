"""Platform documents, applied a window at a time through the `DocumentStore` port (docs/ingestion.md,
"Documents at the speed of the store"). Invariant: a document exists <=> its effect is in its pool
(and its sweep is recorded), and a row's outcome is the same however many times it is applied."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from scf.domain.files import DocumentRecord, RowError
from scf.domain.policy import CreditPolicy
from scf.domain.pool import CONFIRMED, MAX_OPEN_DOCUMENTS, PAYMENT, Pool
from scf.errors import Contention
from scf.service.sweeps import OpenLoan, Sweep, plan_sweep

WINDOW_ROWS = 5_000  # rows read per window: what is planned, written and reported together
MAX_TRANSACTION_ACTIONS = 100  # TransactWriteItems
MAX_WINDOW_ATTEMPTS = 6  # re-plans of a pool within one window (conflicts with other writers)

NEW = "NEW"  # the document was applied by this row
NOOP = "NOOP"  # the same document with the same content was there already
CONFLICT = "CONFLICT"  # the same document with other content was there already
POOL_FULL = "POOL_FULL"  # the pool holds MAX_OPEN_DOCUMENTS open documents: not applied
REJECTED_OUTCOMES = (CONFLICT, POOL_FULL)

PoolKey = tuple[str, str]  # (supplier_id, currency)
DocKey = tuple[str, str]  # (supplier_id, document_id)


class WindowConflict(Contention):
    """A pool kept changing under this window (another writer) after every re-plan: the file's
    message is delivered again."""

    default_code = "WINDOW_CONFLICT"


class PoolVersion:
    """A pool and the version it was read at (None: the pool item does not exist yet). The pool
    may be given as a function that decodes it, called when it is first needed."""

    def __init__(self, pool: Pool | Callable[[], Pool], version: int | None) -> None:
        self._pool = pool
        self.version = version

    @property
    def pool(self) -> Pool:
        if not isinstance(self._pool, Pool):
            self._pool = self._pool()
        return self._pool


@dataclass(frozen=True)
class NewDocument:
    record: DocumentRecord
    source: str  # file key and line


@dataclass(frozen=True)
class SweepWrite:
    sweep: Sweep
    source: str


@dataclass
class Unit:
    """One atomic step of one pool: new documents, the pool's state after them (written on the
    condition that the pool is still at `version`), and the sweeps of its new PAYMENT documents."""

    pool_key: PoolKey
    version: int | None
    documents: list[NewDocument] = field(default_factory=list)
    sweeps: list[SweepWrite] = field(default_factory=list)
    state: dict[str, Any] | None = None  # set when the unit is closed

    @staticmethod
    def sweep_actions(sweep: Sweep) -> int:
        """The sweep item, and a repayment and its outbox event per loan (none when nothing swept)."""
        return 1 + 2 * len(sweep.swept) if sweep.swept else 0

    @property
    def actions(self) -> int:
        return len(self.documents) + 1 + sum(self.sweep_actions(s.sweep) for s in self.sweeps)

    @property
    def lines(self) -> list[int]:
        return [d.record.line for d in self.documents]


@dataclass(frozen=True)
class RowOutcome:
    status: str  # NEW, NOOP or CONFLICT
    record: DocumentRecord
    sweep: Sweep | None = None  # a NEW confirmed PAYMENT's sweep (maybe of nothing)

    def error(self) -> RowError:
        document_id = self.record.document.document_id
        if self.status == POOL_FULL:
            return RowError(
                self.record.line,
                "document_id",
                "POOL_LIMIT",
                f"document {document_id} not applied: the supplier's pool in {self.record.currency} holds "
                f"{MAX_OPEN_DOCUMENTS} open documents, the most one pool keeps",
            )
        return RowError(
            self.record.line,
            "document_id",
            "DUPLICATE_CONFLICT",
            f"document {document_id} was received before with other content",
        )


@dataclass
class GroupPlan:
    units: list[Unit]
    outcomes: dict[int, RowOutcome]  # by line


class UnitWriter(Protocol):
    def add(self, unit: Unit) -> int:
        """Write `unit` atomically, maybe while more are planned; its index (in order of adding)."""
        ...

    def finish(self) -> set[int]:
        """When everything added is written or failed: the indices of the units not written,
        because a condition of their own failed or an earlier unit of the same pool was not."""
        ...


class DocumentStore(Protocol):
    def load_pools(self, keys: list[PoolKey], *, fresh: bool = False) -> dict[PoolKey, PoolVersion]:
        """The pools (a missing one as an empty pool at version None); `fresh`: not from cache."""
        ...

    def document_hashes(self, keys: list[DocKey]) -> dict[DocKey, str]:
        """Content hashes of the documents that exist."""
        ...

    def writer(self, now: datetime) -> UnitWriter:
        """Where a window's units go as they are planned."""
        ...

    def find_sweeps(self, keys: list[DocKey]) -> dict[DocKey, Sweep]:
        """The recorded sweeps of these PAYMENT documents (only sweeps of something are recorded)."""
        ...

    def loans_to_sweep(self, keys: list[PoolKey], as_of: date) -> dict[PoolKey, list[OpenLoan]]:
        """For the pools given, the supplier's open loans in that currency (only non-empty lists)."""
        ...


def is_sweepable(record: DocumentRecord) -> bool:
    return record.document.document_type == PAYMENT and record.document.status == CONFIRMED


def plan_group(
    pool_key: PoolKey,
    rows: list[DocumentRecord],
    held: PoolVersion,
    known: dict[DocKey, str],
    loans: list[OpenLoan] | None,
    file_key: str,
    today: date,
    policy: CreditPolicy,
) -> GroupPlan:
    """Apply one pool's rows (file order) to its pool: units of at most MAX_TRANSACTION_ACTIONS
    actions, and each row's outcome. `known`: content hashes of documents that exist; `loans`: the
    supplier's open loans when its PAYMENT documents are to be swept (None: no sweeping)."""
    pool, version = held.pool, held.version
    pool.prune(today, policy)
    seen = dict(known)
    remaining = list(loans or [])
    units: list[Unit] = []
    current = Unit(pool_key, version)
    outcomes: dict[int, RowOutcome] = {}

    def close(unit: Unit) -> None:
        pool.prune(today, policy)
        unit.state = pool.to_state()
        units.append(unit)

    for record in rows:
        doc_key = (record.supplier_id, record.document.document_id)
        content = record.content_hash
        if doc_key in seen:
            outcomes[record.line] = RowOutcome(NOOP if seen[doc_key] == content else CONFLICT, record)
            continue
        if not pool.can_take(record.document):
            outcomes[record.line] = RowOutcome(POOL_FULL, record)
            continue
        seen[doc_key] = content
        sweep = None
        if loans is not None and is_sweepable(record):
            doc = record.document
            sweep = plan_sweep(
                record.supplier_id,
                doc.document_id,
                record.currency,
                doc.amount_minor,
                remaining,
                ratio=policy.sweep_ratio,
                paid_on=doc.document_date,
            )
            remaining = _after_sweep(remaining, sweep)
        needed = 1 + (Unit.sweep_actions(sweep) if sweep else 0)
        if current.documents and current.actions + needed > MAX_TRANSACTION_ACTIONS:
            close(current)
            current = Unit(pool_key, (current.version or 0) + 1)
        pool.apply(record.document)
        source = f"{file_key}:{record.line}"
        current.documents.append(NewDocument(record, source))
        if sweep is not None and sweep.swept:
            current.sweeps.append(SweepWrite(sweep, source))
        outcomes[record.line] = RowOutcome(NEW, record, sweep)
    if current.documents:
        close(current)
    return GroupPlan(units, outcomes)


def _after_sweep(loans: list[OpenLoan], sweep: Sweep) -> list[OpenLoan]:
    """The loans with what this sweep requested taken off their payoff (the next PAYMENT of the
    same supplier sweeps what is left)."""
    taken = {s.loan_id: s.amount_minor for s in sweep.swept}
    return [replace(loan, payoff_minor=loan.payoff_minor - taken.get(loan.loan_id, 0)) for loan in loans]


def group_by_pool(records: Iterable[DocumentRecord]) -> dict[PoolKey, list[DocumentRecord]]:
    groups: dict[PoolKey, list[DocumentRecord]] = {}
    for record in records:
        groups.setdefault((record.supplier_id, record.currency), []).append(record)
    return groups


@dataclass
class WindowApplier:
    """Applies the documents of one window through a `DocumentStore`; sweeps when the policy says."""

    store: DocumentStore
    policy: CreditPolicy

    def apply(
        self, records: list[DocumentRecord], file_key: str, today: date, now: datetime
    ) -> list[RowOutcome]:
        """Every record's outcome, in file order."""
        pending = group_by_pool(records)
        outcomes: dict[int, RowOutcome] = {}
        known: dict[DocKey, str] = {}
        fresh = False
        for _ in range(MAX_WINDOW_ATTEMPTS):
            pools = self.store.load_pools(list(pending), fresh=fresh)
            loans = self._loans(pending, today)
            writer = self.store.writer(now)
            plans: dict[PoolKey, tuple[GroupPlan, list[int]]] = {}
            for key, rows in pending.items():
                plan = plan_group(
                    key,
                    rows,
                    pools.pop(key),
                    known,
                    loans.get(key, []) if self._sweeps_any(rows) else None,
                    file_key,
                    today,
                    self.policy,
                )
                plans[key] = (plan, [writer.add(unit) for unit in plan.units])
            failed = writer.finish()
            for key, (plan, indices) in plans.items():
                written = [
                    unit for unit, index in zip(plan.units, indices, strict=True) if index not in failed
                ]
                if len(written) == len(plan.units):
                    outcomes.update(plan.outcomes)
                    del pending[key]
                    continue
                # A pool's units are a chain of versions, so the written ones come first: their
                # rows are applied; the pool's other rows are planned again.
                done = {line for unit in written for line in unit.lines}
                outcomes.update((line, plan.outcomes[line]) for line in done)
                pending[key] = [r for r in pending[key] if r.line not in done]
            if not pending:
                return [outcomes[r.line] for r in records]
            fresh = True
            known = self.store.document_hashes(
                list(
                    dict.fromkeys(
                        (r.supplier_id, r.document.document_id) for rows in pending.values() for r in rows
                    )
                )
            )
        raise WindowConflict(f"pools kept changing under this file: {sorted(pending)[:5]}")

    def _sweeps_any(self, rows: list[DocumentRecord]) -> bool:
        return self.policy.sweep_enabled and any(is_sweepable(r) for r in rows)

    def _loans(
        self, pending: dict[PoolKey, list[DocumentRecord]], today: date
    ) -> dict[PoolKey, list[OpenLoan]]:
        if not self.policy.sweep_enabled:
            return {}
        payers = [key for key, rows in pending.items() if any(is_sweepable(r) for r in rows)]
        return self.store.loans_to_sweep(payers, today) if payers else {}
