"""The credit line's terms as a decision stores them: re-derived under the policy they give exactly
the pool's own line, and the credit-line answer shows every term so that the sum can be redone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.line_terms import LineTerms
from scf.domain.money import parse_amount, round_half_up
from scf.domain.policy import DEFAULT_POLICY
from scf.domain.pool import Document, Pool
from scf.service.credit import credit_line_view
from tests.unit.test_pool import documents

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)
# Another policy version: other ratios, another cap share and maximum.
OTHER = replace(
    DEFAULT_POLICY,
    policy_version="test.2",
    stage_rules=tuple(replace(r, ratio=r.ratio - Decimal("0.15")) for r in DEFAULT_POLICY.stage_rules),
    facility_cap_share_of_receipts=Decimal("0.33"),
    facility_cap_max_minor=123_456_789,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(documents, max_size=30),
    st.integers(min_value=-5, max_value=300),
    st.integers(min_value=0, max_value=10**10),
    st.sampled_from([DEFAULT_POLICY, OTHER]),
)
def test_stored_terms_re_derive_the_pools_own_line(sequence, days_later, outstanding, policy):
    pool = Pool()
    for d in sequence:
        pool.apply(d)
    line = pool.credit_line(TODAY + timedelta(days=days_later), policy, outstanding)
    stored = json.loads(json.dumps(LineTerms.of(line).to_json()))
    assert LineTerms.from_json(stored).derive(policy) == line


def _line_of(*docs: Document, outstanding: int = 0):
    pool = Pool()
    for d in docs:
        pool.apply(d)
    return pool.credit_line(TODAY, DEFAULT_POLICY, outstanding)


def test_the_exact_terms_show_why_the_rounded_ones_do_not_add_up():
    """5 minor x 0.30 = 1.5 and 1,001 minor x 0.70 = 700.7: shown rounded 0.02 + 7.01 = 7.03, but the
    base rounds the exact sum 7.022 once: 7.02. The exact terms add up to it."""
    line = _line_of(
        Document("GR", "GOODS_RECEIPT", TODAY - timedelta(days=100), 1_001),
        Document("PO", "PURCHASE_ORDER", TODAY - timedelta(days=1), 5),
    )
    view = credit_line_view("S", "CNY", line, DEFAULT_POLICY)
    shown = [(s["stage"], s["amount"], s["amount_exact"]) for s in view["stages"]]
    assert shown == [
        ("ORDERED", "0.02", "0.015"),
        ("RECEIVED", "7.01", "7.007"),
        ("INVOICED", "0.00", "0.00"),
    ]
    assert (view["borrowing_base_exact"], view["borrowing_base"]) == ("7.022", "7.02")
    assert (view["facility_cap"], view["limit"], view["limit_source"]) == ("5.00", "5.00", "facility_cap")


def test_the_limit_source_is_the_smaller_term():
    gr = Document("GR", "GOODS_RECEIPT", TODAY - timedelta(days=130), 1_000_000)  # cap 5,000.00, not eligible
    inv = Document("INV", "INVOICE", TODAY - timedelta(days=1), 100_000)  # base 900.00
    view = credit_line_view("S", "CNY", _line_of(gr, inv), DEFAULT_POLICY)
    assert (view["borrowing_base"], view["facility_cap"], view["limit_source"]) == (
        "900.00",
        "5000.00",
        "borrowing_base",
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(documents, max_size=30), st.integers(min_value=0, max_value=10**10))
def test_every_shown_term_adds_up(sequence, outstanding):
    """A supplier redoing the sum from the answer gets the answer: per stage amount_exact is eligible x
    ratio and amount its half-up rounding; the exact terms add up to borrowing_base_exact, which
    rounds half-up to the base; the limit is the smaller of base and cap; available = limit -
    outstanding, never below 0."""
    pool = Pool()
    for d in sequence:
        pool.apply(d)
    view = credit_line_view("S", "CNY", pool.credit_line(TODAY, DEFAULT_POLICY, outstanding), DEFAULT_POLICY)
    exact_sum = Decimal(0)
    for stage in view["stages"]:
        exact = Decimal(stage["amount_exact"])
        assert exact == Decimal(stage["eligible"]) * Decimal(stage["ratio"])
        assert parse_amount(stage["amount"]) == round_half_up(exact * 100)
        assert 0 <= parse_amount(stage["eligible"]) <= parse_amount(stage["open"])
        exact_sum += exact
    assert Decimal(view["borrowing_base_exact"]) == exact_sum
    assert parse_amount(view["borrowing_base"]) == round_half_up(exact_sum * 100)
    assert parse_amount(view["eligible"]) == sum(parse_amount(s["eligible"]) for s in view["stages"])
    base, cap = parse_amount(view["borrowing_base"]), parse_amount(view["facility_cap"])
    derivation = view["facility_cap_derivation"]
    receipts = Decimal(derivation["goods_receipts_total"])
    assert cap == min(
        parse_amount(derivation["maximum"]), int(receipts * Decimal(derivation["share_of_receipts"]) * 100)
    )
    assert parse_amount(view["limit"]) == min(base, cap)
    assert view["limit_source"] == ("facility_cap" if cap < base else "borrowing_base")
    assert parse_amount(view["available"]) == max(0, min(base, cap) - outstanding)
    assert parse_amount(view["outstanding"]) == outstanding
