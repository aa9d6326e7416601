"""The receivables pool of one supplier in one currency (contract section 4): open amounts per
stage and document, and the history a decision needs as date buckets. Pure: no I/O, no clock.

Invariant: the state stays bounded (documents past the open-document horizon fold into one aged
amount per stage, `prune`) and is JSON (`PoolItem.state`); docs/credit-policy.md, "The pool's size".
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from scf.domain.money import round_half_up
from scf.domain.policy import INVOICED, ORDERED, RECEIVED, STAGES, CreditPolicy
from scf.errors import InvalidInput

PURCHASE_ORDER = "PURCHASE_ORDER"
GOODS_RECEIPT = "GOODS_RECEIPT"
INVOICE = "INVOICE"
RETURN = "RETURN"
SALE = "SALE"
PAYMENT = "PAYMENT"
DOCUMENT_TYPES = (PURCHASE_ORDER, GOODS_RECEIPT, INVOICE, RETURN, SALE, PAYMENT)

CONFIRMED = "CONFIRMED"
DISPUTED = "DISPUTED"
DOCUMENT_STATUSES = (CONFIRMED, DISPUTED)

STATE_SCHEMA = 2  # 2 added `aged`; schema 1 states (no aged amounts) are read as they are
READABLE_SCHEMAS = (1, 2)
OPEN_DOCUMENT_HORIZON_DAYS = 365
MAX_OPEN_DOCUMENTS = 20_000  # per pool: what one item holds (docs/credit-policy.md, "The pool's size")
AGED = "(aged)"  # the document id of an aged amount in a Movement

# The stage a document enters, and the earlier stages its amount moves out of (nearest first).
_ENTERS = {PURCHASE_ORDER: ORDERED, GOODS_RECEIPT: RECEIVED, INVOICE: INVOICED}
_MOVES_OUT_OF = {PURCHASE_ORDER: (), GOODS_RECEIPT: (ORDERED,), INVOICE: (RECEIVED, ORDERED)}
# Reductions: the stages whose oldest documents are reduced when references do not cover the amount.
_REDUCES = {RETURN: (RECEIVED,), PAYMENT: (INVOICED, RECEIVED)}
# Which stages a reduction's references may point into.
_REFERENCE_STAGES = {RETURN: STAGES, PAYMENT: (INVOICED, RECEIVED)}


@dataclass(frozen=True)
class Document:
    """A platform document as the pool sees it (validated by the file parser)."""

    document_id: str
    document_type: str
    document_date: date
    amount_minor: int
    status: str = CONFIRMED
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise InvalidInput("a document amount is positive", code="INVALID_AMOUNT")
        if self.document_type not in DOCUMENT_TYPES:
            raise InvalidInput(f"unknown document type {self.document_type}", code="INVALID_DOCUMENT_TYPE")

    @property
    def disputed(self) -> bool:
        return self.status == DISPUTED


@dataclass
class OpenEntry:
    document_date: date
    open_minor: int
    disputed: bool


@dataclass(frozen=True)
class Movement:
    """`amount_minor` left `stage` from document `document_id` (reductions and stage moves)."""

    stage: str
    document_id: str
    amount_minor: int


@dataclass(frozen=True)
class Effect:
    """What applying one document did: amounts moved out, amount entered (0 if none)."""

    moved_out: tuple[Movement, ...] = ()
    entered_stage: str | None = None
    entered_minor: int = 0

    @property
    def moved_out_minor(self) -> int:
        return sum(m.amount_minor for m in self.moved_out)


@dataclass(frozen=True)
class StageView:
    stage: str
    open_minor: int
    eligible_minor: int
    ratio: Decimal
    amount_exact: Decimal  # eligible x ratio, in minor units, unrounded

    @property
    def amount_minor(self) -> int:
        return round_half_up(self.amount_exact)


@dataclass(frozen=True)
class PoolMetrics:
    """History figures as of a business date (contract section 5)."""

    history_days: int | None  # None: no goods receipt yet
    receipts_dilution_window_minor: int
    returns_dilution_window_minor: int
    receipts_cap_window_minor: int
    sales_recent_minor: int
    sales_baseline_minor: int

    @property
    def dilution(self) -> Decimal | None:
        """returns / receipts in the dilution window; None when there were returns but no receipts
        (unbounded); 0 when there was neither."""
        if self.receipts_dilution_window_minor == 0:
            return Decimal(0) if self.returns_dilution_window_minor == 0 else None
        return Decimal(self.returns_dilution_window_minor) / Decimal(self.receipts_dilution_window_minor)


@dataclass(frozen=True)
class CreditLine:
    as_of: date
    stages: tuple[StageView, ...]
    borrowing_base_minor: int
    facility_cap_minor: int
    receipts_cap_window_minor: int
    outstanding_minor: int

    @property
    def limit_minor(self) -> int:
        return min(self.borrowing_base_minor, self.facility_cap_minor)

    @property
    def available_minor(self) -> int:
        return max(0, self.limit_minor - self.outstanding_minor)


def _age(today: date, day: date) -> int:
    return (today - day).days


def _within(today: date, day: date, days: int) -> bool:
    """Contract section 2: "within N days" means age <= N; a future date is in no window."""
    return 0 <= _age(today, day) <= days


def open_document_horizon_days(policy: CreditPolicy) -> int:
    """Documents older than this are aged: never eligible under `policy` (docstring above)."""
    return max(OPEN_DOCUMENT_HORIZON_DAYS, *(rule.window_days for rule in policy.stage_rules))


@dataclass
class Pool:
    """Change it through `apply` and `prune` only (the oldest-first heaps follow those)."""

    stages: dict[str, dict[str, OpenEntry]] = field(default_factory=lambda: {s: {} for s in STAGES})
    receipts: dict[date, int] = field(default_factory=dict)
    returns: dict[date, int] = field(default_factory=dict)
    sales: dict[date, int] = field(default_factory=dict)
    first_receipt: date | None = None
    aged: dict[str, int] = field(default_factory=dict)  # stage -> open amount of aged documents
    # Per stage, (document_date, document_id) of its open documents, oldest on top; built when
    # first needed, entries of documents that left are dropped as they surface.
    _oldest: dict[str, list[tuple[date, str]]] = field(default_factory=dict, compare=False, repr=False)

    # ---- applying documents -------------------------------------------------------------------

    def apply(self, doc: Document) -> Effect:
        """Apply one document (in file order). Never makes an amount negative; a move out of an
        earlier stage takes at most what it holds; reductions beyond the pool are dropped."""
        if doc.document_type in _ENTERS:
            moved = self._take(doc.amount_minor, doc.references, STAGES, _MOVES_OUT_OF[doc.document_type])
            stage = _ENTERS[doc.document_type]
            self._enter(stage, doc)
            if doc.document_type == GOODS_RECEIPT and not doc.disputed:
                _add(self.receipts, doc.document_date, doc.amount_minor)
                if self.first_receipt is None or doc.document_date < self.first_receipt:
                    self.first_receipt = doc.document_date
            return Effect(moved, stage, doc.amount_minor)
        if doc.document_type in _REDUCES:
            moved = self._take(
                doc.amount_minor,
                doc.references,
                _REFERENCE_STAGES[doc.document_type],
                _REDUCES[doc.document_type],
            )
            if doc.document_type == RETURN:
                # A disputed return still counts: dilution errs on the lender's side.
                _add(self.returns, doc.document_date, doc.amount_minor)
            return Effect(moved)
        # SALE: a sell-through signal, no receivable; a disputed sale is not counted.
        if not doc.disputed:
            _add(self.sales, doc.document_date, doc.amount_minor)
        return Effect()

    def _enter(self, stage: str, doc: Document) -> None:
        entries = self.stages[stage]
        existing = entries.get(doc.document_id)
        if existing is None:
            entries[doc.document_id] = OpenEntry(doc.document_date, doc.amount_minor, doc.disputed)
            if stage in self._oldest:
                heapq.heappush(self._oldest[stage], (doc.document_date, doc.document_id))
        else:  # the store keys documents by id, so this only happens for a hand-made sequence
            existing.open_minor += doc.amount_minor
            existing.disputed = existing.disputed or doc.disputed

    def _heap(self, stage: str) -> list[tuple[date, str]]:
        heap = self._oldest.get(stage)
        if heap is None:
            heap = [(entry.document_date, doc_id) for doc_id, entry in self.stages[stage].items()]
            heapq.heapify(heap)
            self._oldest[stage] = heap
        return heap

    def _take_from(self, stage: str, doc_id: str, wanted: int, moved: list[Movement]) -> int:
        """Take up to `wanted` out of one open document; what was taken."""
        entries = self.stages[stage]
        entry = entries[doc_id]
        taken = min(wanted, entry.open_minor)
        entry.open_minor -= taken
        if entry.open_minor == 0:
            del entries[doc_id]
        moved.append(Movement(stage, doc_id, taken))
        return taken

    def _take_oldest(self, stage: str, wanted: int, moved: list[Movement]) -> int:
        """Take up to `wanted` out of the stage's aged amount, then its oldest documents (by date,
        then id); what was taken."""
        taken = 0
        aged = self.aged.get(stage, 0)
        if aged and wanted:
            taken = min(wanted, aged)
            self.aged[stage] = aged - taken
            if self.aged[stage] == 0:
                del self.aged[stage]
            moved.append(Movement(stage, AGED, taken))
        heap, entries = self._heap(stage), self.stages[stage]
        while taken < wanted and heap:
            day, doc_id = heap[0]
            entry = entries.get(doc_id)
            if entry is None or entry.document_date != day:
                heapq.heappop(heap)  # it left the stage (or a hand-made re-entry moved it)
                continue
            taken += self._take_from(stage, doc_id, wanted - taken, moved)
        return taken

    def _take(
        self,
        amount: int,
        references: tuple[str, ...],
        reference_stages: tuple[str, ...],
        stages: tuple[str, ...],
    ) -> tuple[Movement, ...]:
        """Take up to `amount` out of the referenced documents first, then the oldest open ones."""
        moved: list[Movement] = []
        remaining = amount
        for ref in dict.fromkeys(references):
            for stage in reference_stages:
                if remaining and ref in self.stages[stage]:
                    remaining -= self._take_from(stage, ref, remaining, moved)
        for stage in stages:
            if remaining:
                remaining -= self._take_oldest(stage, remaining, moved)
        return tuple(moved)

    def prune(self, today: date, policy: CreditPolicy) -> None:
        """Keep the state bounded: drop history buckets older than any window of the policy, and
        fold documents older than the open-document horizon into their stage's aged amount."""
        horizon = today - timedelta(days=policy.history_horizon_days)
        for buckets in (self.receipts, self.returns, self.sales):
            for day in [d for d in buckets if d < horizon]:
                del buckets[day]
        aged_before = today - timedelta(days=open_document_horizon_days(policy))
        for stage, entries in self.stages.items():
            old = [doc_id for doc_id, entry in entries.items() if entry.document_date < aged_before]
            if old:
                self.aged[stage] = self.aged.get(stage, 0) + sum(entries.pop(d).open_minor for d in old)

    # ---- reading as of a business date ---------------------------------------------------------

    def open_documents(self) -> int:
        return sum(len(entries) for entries in self.stages.values())

    def can_take(self, doc: Document) -> bool:
        """False when `doc` would add an open document to a pool holding MAX_OPEN_DOCUMENTS."""
        return doc.document_type not in _ENTERS or self.open_documents() < MAX_OPEN_DOCUMENTS

    def open_minor(self, stage: str) -> int:
        return self.aged.get(stage, 0) + sum(entry.open_minor for entry in self.stages[stage].values())

    def total_open_minor(self) -> int:
        return sum(self.open_minor(stage) for stage in STAGES)

    def stage_views(self, today: date, policy: CreditPolicy) -> tuple[StageView, ...]:
        views = []
        for rule in policy.stage_rules:
            entries = self.stages[rule.stage].values()
            eligible = sum(
                e.open_minor
                for e in entries
                if not e.disputed and _within(today, e.document_date, rule.window_days)
            )
            views.append(
                StageView(
                    rule.stage,
                    self.open_minor(rule.stage),
                    eligible,
                    rule.ratio,
                    eligible * rule.ratio,
                )
            )
        return tuple(views)

    def metrics(self, today: date, policy: CreditPolicy) -> PoolMetrics:
        recent, baseline_end = policy.sales_recent_days, policy.sales_recent_days + policy.sales_baseline_days
        return PoolMetrics(
            history_days=None if self.first_receipt is None else _age(today, self.first_receipt),
            receipts_dilution_window_minor=_window(self.receipts, today, 0, policy.dilution_window_days),
            returns_dilution_window_minor=_window(self.returns, today, 0, policy.dilution_window_days),
            receipts_cap_window_minor=_window(self.receipts, today, 0, policy.facility_cap_window_days),
            sales_recent_minor=_window(self.sales, today, 0, recent),
            sales_baseline_minor=_window(self.sales, today, recent + 1, baseline_end),
        )

    def credit_line(self, today: date, policy: CreditPolicy, outstanding_minor: int) -> CreditLine:
        views = self.stage_views(today, policy)
        receipts = self.metrics(today, policy).receipts_cap_window_minor
        # The cap is rounded down: it is a ceiling, and half a minor unit is not owed to anyone.
        share = int(Decimal(receipts) * policy.facility_cap_share_of_receipts)
        return CreditLine(
            as_of=today,
            stages=views,
            borrowing_base_minor=round_half_up(sum((v.amount_exact for v in views), Decimal(0))),
            facility_cap_minor=min(policy.facility_cap_max_minor, share),
            receipts_cap_window_minor=receipts,
            outstanding_minor=outstanding_minor,
        )

    # ---- JSON state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "schema": STATE_SCHEMA,
            "stages": {
                stage: {
                    doc_id: [e.document_date.isoformat(), e.open_minor, e.disputed]
                    for doc_id, e in sorted(entries.items())
                }
                for stage, entries in self.stages.items()
            },
            "receipts": _buckets_out(self.receipts),
            "returns": _buckets_out(self.returns),
            "sales": _buckets_out(self.sales),
            "first_receipt": self.first_receipt.isoformat() if self.first_receipt else None,
            "aged": {stage: amount for stage, amount in sorted(self.aged.items()) if amount},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Pool:
        if not state:
            return cls()
        if state.get("schema") not in READABLE_SCHEMAS:
            raise InvalidInput(f"unknown pool state schema {state.get('schema')!r}", code="POOL_STATE_SCHEMA")
        stages: dict[str, dict[str, OpenEntry]] = {s: {} for s in STAGES}
        for stage, entries in state["stages"].items():
            for doc_id, (day, open_minor, disputed) in entries.items():
                stages[stage][doc_id] = OpenEntry(date.fromisoformat(day), int(open_minor), bool(disputed))
        first = state.get("first_receipt")
        return cls(
            stages=stages,
            receipts=_buckets_in(state.get("receipts")),
            returns=_buckets_in(state.get("returns")),
            sales=_buckets_in(state.get("sales")),
            first_receipt=date.fromisoformat(first) if first else None,
            aged={stage: int(amount) for stage, amount in (state.get("aged") or {}).items() if int(amount)},
        )


def _add(buckets: dict[date, int], day: date, amount: int) -> None:
    buckets[day] = buckets.get(day, 0) + amount


def _window(buckets: dict[date, int], today: date, min_age: int, max_age: int) -> int:
    return sum(amount for day, amount in buckets.items() if min_age <= _age(today, day) <= max_age)


def _buckets_out(buckets: dict[date, int]) -> dict[str, int]:
    return {day.isoformat(): amount for day, amount in sorted(buckets.items())}


def _buckets_in(raw: dict[str, Any] | None) -> dict[date, int]:
    return {date.fromisoformat(day): int(amount) for day, amount in (raw or {}).items()}
