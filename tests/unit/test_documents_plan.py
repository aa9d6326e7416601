"""Planning a pool's rows of a window (scf.service.documents.plan_group): outcomes per row, units of
at most 100 transaction actions chained by version, sweeps counted and planned against what earlier
payments of the window already took, and the pool's size limit."""

from __future__ import annotations

from datetime import date

import pytest

import scf.domain.pool as pool_module
from scf.domain.files import DocumentRecord
from scf.domain.policy import DEFAULT_POLICY
from scf.domain.pool import Document, Pool
from scf.service.documents import (
    CONFLICT,
    MAX_TRANSACTION_ACTIONS,
    NEW,
    NOOP,
    POOL_FULL,
    PoolVersion,
    group_by_pool,
    plan_group,
)
from scf.service.sweeps import OpenLoan

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)
KEY = ("S-1", "CNY")


def record(
    line: int, doc_id: str, kind: str = "PURCHASE_ORDER", amount: int = 10_000, **kw: object
) -> DocumentRecord:
    supplier = str(kw.get("supplier", "S-1"))
    return DocumentRecord(
        line=line,
        supplier_id=supplier,
        currency=str(kw.get("currency", "CNY")),
        due_date=None,
        document=Document(
            document_id=doc_id, document_type=kind, document_date=date(2026, 11, 20), amount_minor=amount
        ),
    )


def plan(
    rows: list[DocumentRecord],
    known: dict | None = None,
    loans: list[OpenLoan] | None = None,
    version: int | None = 4,
):
    return plan_group(
        KEY, rows, PoolVersion(Pool(), version), known or {}, loans, "platform/f.csv", TODAY, DEFAULT_POLICY
    )


def test_a_known_document_is_a_noop_with_the_same_content_and_a_conflict_with_other_content() -> None:
    first = record(2, "PO-1")
    known = {("S-1", "PO-1"): first.content_hash, ("S-1", "PO-2"): "other content"}
    result = plan([first, record(3, "PO-2"), record(4, "PO-3"), record(5, "PO-3")], known)
    assert {line: o.status for line, o in result.outcomes.items()} == {2: NOOP, 3: CONFLICT, 4: NEW, 5: NOOP}
    (unit,) = result.units
    assert [d.record.line for d in unit.documents] == [4]
    assert unit.state == Pool.from_state(unit.state).to_state()
    assert Pool.from_state(unit.state).open_minor("ORDERED") == 10_000


def test_units_hold_at_most_100_actions_and_chain_their_versions() -> None:
    rows = [record(n + 2, f"PO-{n}") for n in range(250)]
    result = plan(rows)
    assert [len(u.documents) for u in result.units] == [99, 99, 52]
    assert [u.version for u in result.units] == [4, 5, 6]
    assert all(u.actions <= MAX_TRANSACTION_ACTIONS for u in result.units)
    assert [Pool.from_state(u.state).open_minor("ORDERED") for u in result.units] == [
        990_000,
        1_980_000,
        2_500_000,
    ]
    assert [u.version for u in plan(rows, version=None).units] == [None, 1, 2]  # a new pool


def test_payments_sweep_in_order_against_what_is_left_and_count_their_actions() -> None:
    loans = [OpenLoan("L-B", date(2026, 12, 30), 15_000), OpenLoan("L-A", date(2026, 12, 1), 5_000)]
    rows = [
        record(2, "INV-1", "INVOICE", 50_000),
        record(3, "PAY-1", "PAYMENT", 8_000),
        record(4, "PAY-2", "PAYMENT", 20_000),
        record(5, "PAY-3", "PAYMENT", 1_000),
    ]
    result = plan(rows, loans=loans)
    sweeps = [result.outcomes[line].sweep for line in (3, 4, 5)]
    assert [[(s.loan_id, s.amount_minor) for s in sweep.swept] for sweep in sweeps if sweep] == [
        [("L-A", 5_000), ("L-B", 3_000)],  # earliest maturity first
        [("L-B", 12_000)],  # what PAY-1 took is on its way already
        [],
    ]
    assert [sweep.released_minor for sweep in sweeps if sweep] == [0, 8_000, 1_000]
    (unit,) = result.units
    assert [w.sweep.document_id for w in unit.sweeps] == [
        "PAY-1",
        "PAY-2",
    ]  # a sweep of nothing writes nothing
    assert unit.actions == 4 + 1 + (1 + 2 * 2) + (1 + 2 * 1)


def test_a_sweep_that_would_not_fit_starts_the_next_unit() -> None:
    loans = [OpenLoan(f"L-{n:02d}", date(2026, 12, 1), 100) for n in range(40)]
    rows = [record(n + 2, f"PO-{n}") for n in range(30)] + [record(40, "PAY-1", "PAYMENT", 4_000)]
    result = plan(rows, loans=loans)
    assert [len(u.documents) for u in result.units] == [30, 1]
    assert result.units[1].actions == 1 + 1 + 1 + 2 * 40


def test_without_loans_to_look_at_a_payment_is_applied_but_not_swept() -> None:
    result = plan([record(2, "PAY-1", "PAYMENT", 8_000)], loans=None)
    assert result.outcomes[2].status == NEW and result.outcomes[2].sweep is None


def test_a_full_pool_rejects_what_would_grow_it_and_applies_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "MAX_OPEN_DOCUMENTS", 3)
    rows = [record(n + 2, f"PO-{n}") for n in range(5)] + [
        record(9, "PAY-1", "PAYMENT", 25_000),
        record(10, "PO-9"),
    ]
    result = plan(rows)
    statuses = {line: o.status for line, o in result.outcomes.items()}
    assert statuses == {2: NEW, 3: NEW, 4: NEW, 5: POOL_FULL, 6: POOL_FULL, 9: NEW, 10: POOL_FULL}
    error = result.outcomes[5].error()
    assert (error.line, error.field, error.code) == (5, "document_id", "POOL_LIMIT")


def test_rows_are_grouped_by_supplier_and_currency_in_file_order() -> None:
    rows = [record(2, "A"), record(3, "B", supplier="S-2"), record(4, "C"), record(5, "D", currency="USD")]
    groups = group_by_pool(rows)
    assert {key: [r.line for r in group] for key, group in groups.items()} == {
        ("S-1", "CNY"): [2, 4],
        ("S-2", "CNY"): [3],
        ("S-1", "USD"): [5],
    }
