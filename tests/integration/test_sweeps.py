"""Settlement sweep (contract section 6): PAYMENT documents repay the supplier's loans, earliest
maturity first, each up to its payoff as of the business date; the rest is released."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from scf.adapters.dynamodb.models import RepaymentItem
from scf.service.sweeps import sweep_repayment_id
from tests.integration.statement_world import IngestWorld, ingest_world

pytestmark = pytest.mark.integration

HEADER = b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch)


def payments(*rows: bytes) -> bytes:
    return HEADER + b"".join(rows)


def test_a_payment_sweeps_two_loans_earliest_maturity_first_and_releases_the_rest(world: IngestWorld) -> None:
    world.set_today(date(2026, 1, 1))
    late = world.active_loan(11, "S1", 10_000_000, term_days=60)  # matures 2026-03-02
    early = world.active_loan(12, "S1", 5_000_000, term_days=30)  # matures 2026-01-31
    other = world.active_loan(13, "S2", 1_000_000)
    world.set_today(date(2026, 1, 11))
    early_payoff = 5_000_000 + 13_889  # 10 days at 10% ACT/360 on 50,000.00 = 138.888... -> 138.89
    late_payoff = 10_000_000 + 27_778
    key = "platform/2026/01/11/payments.csv"
    world.drop(key, payments(b"S1,PAY-1,PAYMENT,2026-01-10,,200000.00,CNY,CONFIRMED,\n"))
    report = world.report(key)
    assert (report["status"], report["rows_accepted"]) == ("PROCESSED", 1)
    (sweep,) = report["sweeps"]
    assert [s["loan_id"] for s in sweep["swept"]] == [early, late]
    assert [s["amount"] for s in sweep["swept"]] == ["50138.89", "100277.78"]
    assert sweep["released"] == "49583.33"  # 200,000.00 - 150,416.67
    assert (sweep["document_id"], sweep["supplier_id"]) == ("PAY-1", "S1")
    events = {e["loan_id"]: e for e in world.repayment_events()}
    assert set(events) == {early, late} and other not in events
    assert events[early]["amount"] == "50138.89" and events[early]["source"] == "SETTLEMENT_SWEEP"
    assert events[early]["repayment_id"] == sweep_repayment_id("S1", "PAY-1", early)
    assert sum(
        int(RepaymentItem.get(*RepaymentItem.key(s["repayment_id"])).amount_minor) for s in sweep["swept"]
    ) == (early_payoff + late_payoff)
    # The repayments queue applies them: both loans repaid, nothing collected from the supplier.
    posts = len(world.money.bank.posts)
    world.money.deliver("repayments")
    assert len(world.money.bank.posts) == posts
    assert world.money.loan(early).status == "REPAID" and world.money.loan(late).status == "REPAID"
    world.money.assert_ledger_matches_loan(early)
    world.money.assert_ledger_matches_loan(late)


def test_a_partial_payment_pays_the_earliest_loan_first_and_pending_sweeps_count(world: IngestWorld) -> None:
    world.set_today(date(2026, 1, 1))
    late = world.active_loan(21, "S1", 1_000_000, term_days=60)
    early = world.active_loan(22, "S1", 1_000_000, term_days=30)
    world.set_today(date(2026, 1, 11))
    world.drop("platform/p1.csv", payments(b"S1,PAY-A,PAYMENT,2026-01-10,,6000.00,CNY,CONFIRMED,\n"))
    (first,) = world.report("platform/p1.csv")["sweeps"]
    assert [(s["loan_id"], s["amount"]) for s in first["swept"]] == [(early, "6000.00")]
    assert first["released"] == "0.00"
    # Before the queue applied the first sweep, a second payment: the pending 6,000.00 counts.
    world.drop("platform/p2.csv", payments(b"S1,PAY-B,PAYMENT,2026-01-10,,6000.00,CNY,CONFIRMED,\n"))
    (second,) = world.report("platform/p2.csv")["sweeps"]
    assert [(s["loan_id"], s["amount"]) for s in second["swept"]] == [(early, "4027.78"), (late, "1972.22")]


def test_a_payment_without_loans_is_released_and_a_disputed_one_never_swept(world: IngestWorld) -> None:
    world.drop(
        "platform/p.csv",
        payments(
            b"S9,PAY-X,PAYMENT,2026-01-01,,100.00,CNY,CONFIRMED,\n",
            b"S9,PAY-Y,PAYMENT,2026-01-01,,100.00,CNY,DISPUTED,\n",
        ),
    )
    report = world.report("platform/p.csv")
    assert report["sweeps"] == [
        {
            "document_id": "PAY-X",
            "supplier_id": "S9",
            "currency": "CNY",
            "amount": "100.00",
            "swept": [],
            "released": "100.00",
        }
    ]
    assert world.repayment_events() == []


def test_a_resumed_file_or_the_same_payment_in_another_file_never_sweeps_twice(world: IngestWorld) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(31, "S1", 1_000_000)
    world.set_today(date(2026, 1, 11))
    row = b"S1,PAY-R,PAYMENT,2026-01-10,,500.00,CNY,CONFIRMED,\n"
    world.drop("platform/r1.csv", payments(row))
    (sweep,) = world.report("platform/r1.csv")["sweeps"]
    # The same document in another file (other bytes): a no-op row, the first sweep reported again.
    world.drop("platform/r2.csv", payments(b"S1,OTHER,SALE,2026-01-10,,1.00,CNY,CONFIRMED,\n", row))
    assert world.report("platform/r2.csv")["sweeps"] == [sweep]
    events = world.repayment_events()
    assert [(e["loan_id"], e["amount"]) for e in events] == [(loan, "500.00")]


def test_a_swept_repayment_takes_effect_on_the_payments_document_date(world: IngestWorld) -> None:
    """Contract section 3: a settlement PAYMENT's money moved on its document date. The sweep is
    planned on the payoff of the business date (a payoff only grows), so paying on the earlier day
    leaves the difference as overpayment, owed back to the supplier (the next REFUND step)."""
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(21, "S1", 5_000_000, term_days=30)
    world.set_today(date(2026, 1, 11))
    key = "platform/2026/01/11/late-payments.csv"

    world.drop(key, payments(b"S1,PAY-LATE,PAYMENT,2026-01-10,,100000.00,CNY,CONFIRMED,\n"))
    world.money.deliver("repayments")

    (swept,) = world.report(key)["sweeps"][0]["swept"]
    applied = RepaymentItem.get(*RepaymentItem.key(swept["repayment_id"]))
    assert swept["amount"] == "50138.89"  # planned: 10 days of interest, as of 2026-01-11
    assert applied.value_date == "2026-01-10"
    assert (applied.allocation["interest"], applied.allocation["overpayment"]) == (12_500, 1_389)  # 9 days
    assert world.money.loan(loan).status == "REPAID"
    world.money.assert_ledger_matches_loan(loan)
