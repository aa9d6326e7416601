"""The receivables pool (contract section 4): stage moves, reductions, windows, base and cap."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.policy import DEFAULT_POLICY, INVOICED, ORDERED, RECEIVED, STAGES
from scf.domain.pool import (
    DISPUTED,
    DOCUMENT_TYPES,
    GOODS_RECEIPT,
    INVOICE,
    PAYMENT,
    PURCHASE_ORDER,
    RETURN,
    SALE,
    Document,
    Pool,
)

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)


def doc(
    doc_id: str, kind: str, amount: int, age: int = 10, refs: tuple[str, ...] = (), status: str = "CONFIRMED"
):
    return Document(doc_id, kind, TODAY - timedelta(days=age), amount, status, refs)


def opens(pool: Pool) -> dict[str, dict[str, int]]:
    return {s: {d: e.open_minor for d, e in pool.stages[s].items()} for s in STAGES}


def test_goods_receipt_moves_out_of_referenced_order_first_then_oldest():
    pool = Pool()
    pool.apply(doc("PO-OLD", PURCHASE_ORDER, 10_000, age=50))
    pool.apply(doc("PO-NEW", PURCHASE_ORDER, 10_000, age=20))
    effect = pool.apply(doc("GR-1", GOODS_RECEIPT, 15_000, age=5, refs=("PO-NEW",)))
    assert [(m.document_id, m.amount_minor) for m in effect.moved_out] == [
        ("PO-NEW", 10_000),
        ("PO-OLD", 5_000),
    ]
    assert opens(pool) == {ORDERED: {"PO-OLD": 5_000}, RECEIVED: {"GR-1": 15_000}, INVOICED: {}}


def test_oldest_first_breaks_date_ties_by_document_id():
    pool = Pool()
    pool.apply(doc("PO-B", PURCHASE_ORDER, 100, age=30))
    pool.apply(doc("PO-A", PURCHASE_ORDER, 100, age=30))
    pool.apply(doc("GR", GOODS_RECEIPT, 150, age=1))
    assert opens(pool)[ORDERED] == {"PO-B": 50}


def test_surplus_beyond_the_earlier_stage_enters_the_new_stage():
    pool = Pool()
    pool.apply(doc("PO", PURCHASE_ORDER, 1_000))
    effect = pool.apply(doc("GR", GOODS_RECEIPT, 5_000))
    assert effect.moved_out_minor == 1_000 and effect.entered_minor == 5_000
    assert pool.open_minor(ORDERED) == 0 and pool.open_minor(RECEIVED) == 5_000


def test_invoice_moves_out_of_received_then_ordered():
    pool = Pool()
    pool.apply(doc("PO", PURCHASE_ORDER, 3_000))
    pool.apply(doc("GR", GOODS_RECEIPT, 1_000))  # PO left with 2,000
    pool.apply(doc("INV", INVOICE, 2_500))
    assert opens(pool) == {ORDERED: {"PO": 500}, RECEIVED: {}, INVOICED: {"INV": 2_500}}


@pytest.mark.parametrize(
    ("kind", "refs", "expected"),
    [
        (RETURN, (), {ORDERED: {}, RECEIVED: {"GR": 600}, INVOICED: {"INV": 1_000}}),
        (RETURN, ("INV",), {ORDERED: {}, RECEIVED: {"GR": 1_000}, INVOICED: {"INV": 600}}),
        (PAYMENT, (), {ORDERED: {}, RECEIVED: {"GR": 1_000}, INVOICED: {"INV": 600}}),
        (PAYMENT, ("GR",), {ORDERED: {}, RECEIVED: {"GR": 600}, INVOICED: {"INV": 1_000}}),
    ],
)
def test_reductions(kind, refs, expected):
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 1_000, age=40))
    pool.apply(doc("GR2", GOODS_RECEIPT, 1_000, age=30))
    pool.apply(doc("INV", INVOICE, 1_000, age=20, refs=("GR2",)))
    pool.apply(doc("X", kind, 400, age=1, refs=refs))
    assert opens(pool) == expected


def test_payment_beyond_invoiced_reduces_received_and_never_goes_negative():
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 1_000))
    pool.apply(doc("INV", INVOICE, 400))  # GR -> 600
    pool.apply(doc("PAY", PAYMENT, 5_000))
    assert pool.total_open_minor() == 0


@pytest.mark.parametrize(
    ("stage_doc", "age", "eligible"),
    [
        (PURCHASE_ORDER, 60, True),
        (PURCHASE_ORDER, 61, False),
        (GOODS_RECEIPT, 120, True),
        (GOODS_RECEIPT, 121, False),
        (INVOICE, 0, True),
        (INVOICE, 120, True),
        (INVOICE, 121, False),
    ],
)
def test_eligibility_window_is_age_at_most_n_days(stage_doc, age, eligible):
    pool = Pool()
    pool.apply(doc("D", stage_doc, 10_000, age=age))
    view = {v.stage: v for v in pool.stage_views(TODAY, DEFAULT_POLICY)}
    stage = {PURCHASE_ORDER: ORDERED, GOODS_RECEIPT: RECEIVED, INVOICE: INVOICED}[stage_doc]
    assert view[stage].open_minor == 10_000
    assert view[stage].eligible_minor == (10_000 if eligible else 0)


def test_disputed_documents_are_open_but_never_eligible():
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 10_000, status=DISPUTED))
    view = {v.stage: v for v in pool.stage_views(TODAY, DEFAULT_POLICY)}
    assert view[RECEIVED].open_minor == 10_000 and view[RECEIVED].eligible_minor == 0
    assert pool.first_receipt is None  # a disputed receipt is no history and no cap


def test_borrowing_base_rounds_the_exact_sum_half_up_and_cap_is_half_of_180_day_receipts():
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 3_000, age=181))  # out of the cap window and of eligibility
    pool.apply(doc("GR2", GOODS_RECEIPT, 1_001, age=100))  # 1,001 x 0.70 = 700.7
    pool.apply(doc("PO", PURCHASE_ORDER, 5, age=1))  # 5 x 0.30 = 1.5 minor
    line = pool.credit_line(TODAY, DEFAULT_POLICY, outstanding_minor=100)
    assert [v.amount_exact for v in line.stages] == [Decimal("1.5"), Decimal("700.7"), Decimal(0)]
    assert [v.amount_minor for v in line.stages] == [2, 701, 0]  # shown per stage, rounded half-up
    assert line.borrowing_base_minor == 702  # round_half_up(702.2)
    assert line.facility_cap_minor == 500  # floor(1,001 / 2): the cap is a ceiling
    assert line.limit_minor == 500 and line.available_minor == 400


def test_facility_cap_never_exceeds_fifty_million():
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 20_000_000_000, age=1))
    assert pool.credit_line(TODAY, DEFAULT_POLICY, 0).facility_cap_minor == 5_000_000_000


def test_available_is_never_negative():
    pool = Pool()
    pool.apply(doc("GR", GOODS_RECEIPT, 1_000))
    assert pool.credit_line(TODAY, DEFAULT_POLICY, outstanding_minor=10_000).available_minor == 0


def test_metrics_windows():
    pool = Pool()
    pool.apply(doc("GR-OLD", GOODS_RECEIPT, 50_000, age=400))
    pool.apply(doc("GR", GOODS_RECEIPT, 10_000, age=90))
    pool.apply(doc("RET", RETURN, 1_000, age=90))
    pool.apply(doc("RET-OLD", RETURN, 9_000, age=91))
    pool.apply(doc("S1", SALE, 300, age=30))
    pool.apply(doc("S2", SALE, 900, age=31))
    pool.apply(doc("S3", SALE, 100, age=120))
    pool.apply(doc("S4", SALE, 5_000, age=121))
    m = pool.metrics(TODAY, DEFAULT_POLICY)
    assert m.history_days == 400
    assert (m.receipts_dilution_window_minor, m.returns_dilution_window_minor) == (10_000, 1_000)
    assert str(m.dilution) == "0.1"
    assert (m.sales_recent_minor, m.sales_baseline_minor) == (300, 1_000)


def test_dilution_with_returns_but_no_receipts_is_unbounded():
    pool = Pool()
    pool.apply(doc("RET", RETURN, 1, age=1))
    assert pool.metrics(TODAY, DEFAULT_POLICY).dilution is None


def test_state_round_trips_through_json_and_prune_keeps_windows():
    pool = Pool()
    pool.apply(doc("PO", PURCHASE_ORDER, 123, age=3, refs=()))
    pool.apply(doc("GR", GOODS_RECEIPT, 456, age=500))
    pool.apply(doc("GR2", GOODS_RECEIPT, 456, age=2, status=DISPUTED))
    pool.apply(doc("S", SALE, 7, age=1))
    again = Pool.from_state(json.loads(json.dumps(pool.to_state())))
    assert again == pool
    again.prune(TODAY, DEFAULT_POLICY)
    assert again.receipts == {} and again.first_receipt == pool.first_receipt
    assert again.sales == pool.sales


def test_unknown_state_schema_is_refused():
    with pytest.raises(ValueError, match="schema"):
        Pool.from_state({"schema": 99})


documents = st.builds(
    Document,
    document_id=st.sampled_from([f"D{i}" for i in range(12)]),
    document_type=st.sampled_from(DOCUMENT_TYPES),
    document_date=st.dates(min_value=TODAY - timedelta(days=200), max_value=TODAY),
    amount_minor=st.integers(min_value=1, max_value=10**9),
    status=st.sampled_from(["CONFIRMED", "DISPUTED"]),
    references=st.lists(st.sampled_from([f"D{i}" for i in range(12)]), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(documents, max_size=40))
def test_no_sequence_of_documents_makes_a_stage_negative_or_creates_money(sequence):
    pool = Pool()
    entered = 0
    for d in sequence:
        before = {s: pool.open_minor(s) for s in STAGES}
        effect = pool.apply(d)
        after = {s: pool.open_minor(s) for s in STAGES}
        assert all(e.open_minor > 0 for s in STAGES for e in pool.stages[s].values())
        assert effect.moved_out_minor <= d.amount_minor
        # What left plus what entered is exactly the change: nothing appears from nowhere.
        assert sum(after.values()) == sum(before.values()) - effect.moved_out_minor + effect.entered_minor
        if d.document_type in (RETURN, PAYMENT, SALE):
            assert sum(after.values()) <= sum(before.values())
        entered += effect.entered_minor
        assert pool.total_open_minor() <= entered
    line = pool.credit_line(TODAY, DEFAULT_POLICY, 0)
    assert 0 <= line.borrowing_base_minor <= pool.total_open_minor()
    assert Pool.from_state(json.loads(json.dumps(pool.to_state()))) == pool


@settings(max_examples=200, deadline=None)
@given(
    st.lists(documents, max_size=30),
    st.integers(min_value=-10, max_value=400),
    st.integers(min_value=0, max_value=10**10),
)
def test_every_term_of_the_credit_line_is_bounded_on_any_business_date(sequence, days_later, outstanding):
    """Whatever the documents and the business date: per stage 0 <= eligible <= open and the amount
    is eligible x ratio; the cap is within [0, maximum] and never more than half the receipts; the
    available amount is within [0, min(base, cap)] and falls by exactly what is outstanding."""
    pool = Pool()
    for d in sequence:
        pool.apply(d)
    today = TODAY + timedelta(days=days_later)
    line = pool.credit_line(today, DEFAULT_POLICY, outstanding)
    for view in line.stages:
        assert 0 <= view.eligible_minor <= view.open_minor == pool.open_minor(view.stage)
        assert view.amount_exact == view.eligible_minor * DEFAULT_POLICY.stage_rule(view.stage).ratio
    assert 0 <= line.facility_cap_minor <= DEFAULT_POLICY.facility_cap_max_minor
    assert 2 * line.facility_cap_minor <= line.receipts_cap_window_minor
    assert (
        0
        <= line.available_minor
        <= line.limit_minor
        == min(line.borrowing_base_minor, line.facility_cap_minor)
    )
    assert line.available_minor == max(0, line.limit_minor - outstanding)
    metrics = pool.metrics(today, DEFAULT_POLICY)
    assert metrics.receipts_dilution_window_minor <= metrics.receipts_cap_window_minor
    assert metrics.history_days is None or pool.first_receipt is not None


ENTERS = {PURCHASE_ORDER: ORDERED, GOODS_RECEIPT: RECEIVED, INVOICE: INVOICED}
OUT_OF = {PURCHASE_ORDER: (), GOODS_RECEIPT: (ORDERED,), INVOICE: (RECEIVED, ORDERED)}
REDUCES = {RETURN: (RECEIVED,), PAYMENT: (INVOICED, RECEIVED)}
REF_STAGES = {RETURN: STAGES, PAYMENT: (INVOICED, RECEIVED)}


class ReferencePool:
    """The contract's words as plainly as they go (a sort per take): the oracle for `Pool`."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, tuple[date, int]]] = {s: {} for s in STAGES}

    def apply(self, d: Document) -> None:
        if d.document_type in ENTERS:
            self.take(d.amount_minor, d.references, STAGES, OUT_OF[d.document_type])
            stage = self.open[ENTERS[d.document_type]]
            day, before = stage.get(d.document_id, (d.document_date, 0))
            stage[d.document_id] = (day, before + d.amount_minor)
        elif d.document_type in REDUCES:
            self.take(d.amount_minor, d.references, REF_STAGES[d.document_type], REDUCES[d.document_type])

    def take(
        self, amount: int, refs: tuple[str, ...], ref_stages: tuple[str, ...], stages: tuple[str, ...]
    ) -> None:
        order = [(s, r) for r in refs for s in ref_stages if r in self.open[s]]
        for s in stages:
            order += sorted(((s, d) for d in self.open[s]), key=lambda sd: (self.open[s][sd[1]][0], sd[1]))
        for s, d in order:
            if amount and d in self.open[s]:
                day, left = self.open[s][d]
                taken = min(amount, left)
                amount -= taken
                if left == taken:
                    del self.open[s][d]
                else:
                    self.open[s][d] = (day, left - taken)


@settings(max_examples=300, deadline=None)
@given(st.lists(documents, max_size=60))
def test_the_pool_takes_exactly_what_the_plain_reading_of_the_contract_takes(sequence):
    pool, reference = Pool(), ReferencePool()
    for d in sequence:
        pool.apply(d)
        reference.apply(d)
        assert opens(pool) == {s: {d: left for d, (_, left) in reference.open[s].items()} for s in STAGES}


@settings(max_examples=200, deadline=None)
@given(st.lists(documents, max_size=40), st.integers(min_value=0, max_value=800))
def test_ageing_keeps_every_amount_and_every_eligible_amount(sequence, days_later):
    """Pruning folds old documents into the aged amount of their stage: open totals stay, nothing
    eligible is folded, and what follows takes the aged amount first as it would the documents."""
    today = TODAY + timedelta(days=days_later)
    pruned, kept = Pool(), Pool()
    for d in sequence:
        pruned.apply(d)
        kept.apply(d)
    pruned.prune(today, DEFAULT_POLICY)
    assert pruned.total_open_minor() == kept.total_open_minor()
    for stage in STAGES:
        assert pruned.open_minor(stage) == kept.open_minor(stage)
    assert pruned.stage_views(today, DEFAULT_POLICY) == kept.stage_views(today, DEFAULT_POLICY)
    assert Pool.from_state(json.loads(json.dumps(pruned.to_state()))) == pruned
    # An unreferenced receipt takes as much out of ORDERED either way (aged amounts are the oldest).
    later = Document("GR-LATER", GOODS_RECEIPT, today, 10**9 // 3)
    assert pruned.apply(later).moved_out_minor == kept.apply(later).moved_out_minor
    assert pruned.stage_views(today, DEFAULT_POLICY) == kept.stage_views(today, DEFAULT_POLICY)


def test_documents_past_the_horizon_are_aged_and_taken_first():
    pool = Pool()
    pool.apply(doc("PO-ANCIENT", PURCHASE_ORDER, 1_000, age=400))
    pool.apply(doc("PO-RECENT", PURCHASE_ORDER, 1_000, age=5))
    pool.prune(TODAY, DEFAULT_POLICY)
    assert pool.aged == {ORDERED: 1_000} and set(pool.stages[ORDERED]) == {"PO-RECENT"}
    assert pool.open_minor(ORDERED) == 2_000
    effect = pool.apply(doc("GR", GOODS_RECEIPT, 1_500, age=1))
    assert [(m.document_id, m.amount_minor) for m in effect.moved_out] == [
        ("(aged)", 1_000),
        ("PO-RECENT", 500),
    ]
    assert pool.aged == {} and opens(pool)[ORDERED] == {"PO-RECENT": 500}


def test_a_schema_1_state_reads_with_nothing_aged():
    pool = Pool()
    pool.apply(doc("PO", PURCHASE_ORDER, 700))
    state = pool.to_state() | {"schema": 1}
    del state["aged"]
    assert Pool.from_state(state) == pool
