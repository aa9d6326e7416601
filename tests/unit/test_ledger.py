"""Double-entry postings: balanced, positive, known accounts; balances derived from postings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf.domain.ledger import (
    BANK_OPERATING,
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    PENALTY_INCOME,
    SUPPLIER_OVERPAYMENT,
    Entry,
    Posting,
    Side,
    UnbalancedPosting,
    balances,
    disbursement_posting,
    extension_posting,
    repayment_posting,
)
from scf.domain.waterfall import Allocation

pytestmark = pytest.mark.unit


def test_a_disbursement_moves_cash_into_the_receivable() -> None:
    posting = disbursement_posting("PAYL1", 10_000)
    assert posting.posting_id == "DISBURSEMENT#PAYL1"
    assert balances([posting])[LOANS_RECEIVABLE] == 10_000
    assert balances([posting])[BANK_OPERATING] == -10_000


def test_a_repayment_credits_each_part_of_its_allocation() -> None:
    posting = repayment_posting("RP1", Allocation(penalty=5, interest=10, principal=100, overpayment=7))
    assert posting.posting_id == "REPAYMENT#RP1"
    assert balances([posting]) == {
        BANK_OPERATING: 122,
        INTEREST_INCOME: -10,
        LOANS_RECEIVABLE: -100,
        PENALTY_INCOME: -5,
        SUPPLIER_OVERPAYMENT: -7,
    }
    # Zero parts get no entry: entries are positive.
    assert [e.account for e in repayment_posting("RP2", Allocation(0, 3, 0, 0)).entries] == [
        BANK_OPERATING,
        INTEREST_INCOME,
    ]


def test_an_extension_reclassifies_penalty_as_interest() -> None:
    assert balances([extension_posting("L1", 9)])[PENALTY_INCOME] == 9
    assert balances([extension_posting("L1", 9)])[INTEREST_INCOME] == -9


@pytest.mark.parametrize(
    "entries",
    [
        (Entry(BANK_OPERATING, Side.DEBIT, 10), Entry(LOANS_RECEIVABLE, Side.CREDIT, 9)),
        (Entry(BANK_OPERATING, Side.DEBIT, 0), Entry(LOANS_RECEIVABLE, Side.CREDIT, 0)),
        (Entry(BANK_OPERATING, Side.DEBIT, -5), Entry(LOANS_RECEIVABLE, Side.CREDIT, -5)),
        (Entry("petty_cash", Side.DEBIT, 5), Entry(LOANS_RECEIVABLE, Side.CREDIT, 5)),
        (),
    ],
)
def test_an_unbalanced_or_malformed_posting_cannot_exist(entries: tuple[Entry, ...]) -> None:
    with pytest.raises(UnbalancedPosting):
        Posting("X", "TEST", entries)


def test_postings_round_trip_through_json() -> None:
    posting = repayment_posting("RP1", Allocation(1, 2, 3, 4))
    assert Posting.from_json(posting.posting_id, posting.reason, posting.entries_json()) == posting


parts = st.integers(min_value=0, max_value=10**12)


@given(
    principal=st.integers(min_value=1, max_value=10**12),
    repayments=st.lists(st.tuples(parts, parts, parts, parts).filter(lambda t: sum(t) > 0), max_size=8),
)
def test_balances_always_sum_to_zero(principal: int, repayments: list[tuple[int, int, int, int]]) -> None:
    postings = [disbursement_posting("PAYL1", principal)]
    postings += [repayment_posting(f"RP{i}", Allocation(*parts)) for i, parts in enumerate(repayments)]
    totals = balances(postings)
    assert sum(totals.values()) == 0
    assert totals[LOANS_RECEIVABLE] == principal - sum(p[2] for p in repayments)
    assert totals[INTEREST_INCOME] == -sum(p[1] for p in repayments)
