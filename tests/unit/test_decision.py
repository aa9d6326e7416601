"""Decisions (contract section 5): request bounds, rules in order, outcome precedence, grades."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.decision import (
    APPROVED,
    DECLINED,
    REVIEW,
    ApplicationRequest,
    DecisionInputs,
    Reason,
    RequestError,
    decide,
    grade,
    parse_application,
)
from scf.domain.policy import DEFAULT_POLICY
from scf.domain.pool import PoolMetrics

pytestmark = pytest.mark.unit
P = DEFAULT_POLICY

GOOD_METRICS = PoolMetrics(
    history_days=800,
    receipts_dilution_window_minor=1_000_000,
    returns_dilution_window_minor=10_000,
    receipts_cap_window_minor=2_000_000,
    sales_recent_minor=300_000,
    sales_baseline_minor=900_000,
)
GOOD = DecisionInputs("ACTIVE", True, 0, 50_000_000, GOOD_METRICS)
REQUEST = ApplicationRequest(1_000_000, "CNY", 30)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"currency": "CNY", "term_days": 30}, "amount", "REQUIRED"),
        ({"amount": 1000, "currency": "CNY", "term_days": 30}, "amount", "INVALID_AMOUNT"),
        ({"amount": "1000.001", "currency": "CNY", "term_days": 30}, "amount", "INVALID_AMOUNT"),
        ({"amount": "1000", "currency": "CNY", "term_days": 30}, "amount", "INVALID_AMOUNT"),
        ({"amount": "-1000.00", "currency": "CNY", "term_days": 30}, "amount", "INVALID_AMOUNT"),
        ({"amount": "NaN", "currency": "CNY", "term_days": 30}, "amount", "INVALID_AMOUNT"),
        ({"amount": "999.99", "currency": "CNY", "term_days": 30}, "amount", "AMOUNT_TOO_SMALL"),
        ({"amount": "1000.00", "currency": "JPY", "term_days": 30}, "currency", "INVALID_CURRENCY"),
        ({"amount": "1000.00", "currency": "cny", "term_days": 30}, "currency", "INVALID_CURRENCY"),
        ({"amount": "1000.00", "currency": "CNY", "term_days": 14}, "term_days", "TERM_OUT_OF_RANGE"),
        ({"amount": "1000.00", "currency": "CNY", "term_days": 91}, "term_days", "TERM_OUT_OF_RANGE"),
        ({"amount": "1000.00", "currency": "CNY", "term_days": 30.0}, "term_days", "INVALID_TERM"),
        ({"amount": "1000.00", "currency": "CNY", "term_days": "30"}, "term_days", "INVALID_TERM"),
        ({"amount": "1000.00", "currency": "CNY", "term_days": True}, "term_days", "INVALID_TERM"),
    ],
)
def test_requests_outside_the_bounds_name_the_field(body, field, code):
    with pytest.raises(RequestError) as caught:
        parse_application(body, P)
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(("amount", "term"), [("1000.00", 15), ("1000.00", 90), ("10000000.00", 60)])
def test_requests_at_the_bounds_are_accepted(amount, term):
    assert parse_application({"amount": amount, "currency": "CNY", "term_days": term}, P).term_days == term


def codes(decision):
    return [r.code for r in decision.reasons]


def test_clean_application_is_approved_grade_a():
    d = decide(REQUEST, GOOD, P)
    assert (d.status, codes(d), d.grade, d.annual_rate, d.policy_version) == (
        APPROVED,
        [],
        "A",
        Decimal("0.08"),
        "2026-12-03.1",
    )


M = GOOD_METRICS


@pytest.mark.parametrize(
    ("inputs", "request_", "status", "fired"),
    [
        (replace(GOOD, supplier_status="SUSPENDED"), REQUEST, DECLINED, ["SUPPLIER_INACTIVE"]),
        (replace(GOOD, supplier_status=None), REQUEST, DECLINED, ["SUPPLIER_INACTIVE"]),
        (replace(GOOD, overdue_loans=1), REQUEST, DECLINED, ["HAS_OVERDUE_LOAN"]),
        (replace(GOOD, available_minor=999_999), REQUEST, DECLINED, ["AMOUNT_EXCEEDS_AVAILABLE"]),
        (replace(GOOD, available_minor=1_000_000), REQUEST, APPROVED, []),
        (replace(GOOD, metrics=replace(M, history_days=89)), REQUEST, REVIEW, ["SHORT_HISTORY"]),
        (replace(GOOD, metrics=replace(M, history_days=90)), REQUEST, APPROVED, []),
        (replace(GOOD, metrics=replace(M, history_days=None)), REQUEST, REVIEW, ["SHORT_HISTORY"]),
        (
            replace(GOOD, metrics=replace(M, returns_dilution_window_minor=100_001)),
            REQUEST,
            REVIEW,
            ["HIGH_DILUTION"],
        ),
        (replace(GOOD, metrics=replace(M, returns_dilution_window_minor=100_000)), REQUEST, APPROVED, []),
        (
            replace(
                GOOD, metrics=replace(M, receipts_dilution_window_minor=0, returns_dilution_window_minor=1)
            ),
            REQUEST,
            REVIEW,
            ["HIGH_DILUTION"],
        ),
        (replace(GOOD, metrics=replace(M, sales_recent_minor=149_999)), REQUEST, REVIEW, ["SALES_DROP"]),
        (replace(GOOD, metrics=replace(M, sales_recent_minor=150_000)), REQUEST, APPROVED, []),
        (
            replace(GOOD, metrics=replace(M, sales_recent_minor=0, sales_baseline_minor=0)),
            REQUEST,
            APPROVED,
            [],
        ),
        (
            replace(GOOD, available_minor=2 * 10**9),
            replace(REQUEST, amount_minor=1_000_000_001),
            REVIEW,
            ["LARGE_AMOUNT"],
        ),
        (
            replace(GOOD, available_minor=2 * 10**9),
            replace(REQUEST, amount_minor=1_000_000_000),
            APPROVED,
            [],
        ),
        (replace(GOOD, account_verified=False), REQUEST, REVIEW, ["BANK_ACCOUNT_UNVERIFIED"]),
    ],
)
def test_each_rule_at_its_boundary(inputs, request_, status, fired):
    d = decide(request_, inputs, P)
    assert (d.status, codes(d)) == (status, fired)


def test_every_fired_rule_is_listed_in_order_and_decline_wins():
    inputs = DecisionInputs(
        "SUSPENDED",
        False,
        2,
        0,
        replace(M, history_days=10, returns_dilution_window_minor=900_000, sales_recent_minor=0),
    )
    d = decide(replace(REQUEST, amount_minor=2_000_000_000), inputs, P)
    assert d.status == DECLINED
    assert codes(d) == ORDER  # every rule fired, in the contract's order
    assert all(r.message for r in d.reasons)


@pytest.mark.parametrize(
    ("code", "declines"),
    [
        ("SUPPLIER_INACTIVE", True),
        ("HAS_OVERDUE_LOAN", True),
        ("AMOUNT_EXCEEDS_AVAILABLE", True),
        ("SHORT_HISTORY", False),
        ("HIGH_DILUTION", False),
        ("SALES_DROP", False),
        ("LARGE_AMOUNT", False),
        ("BANK_ACCOUNT_UNVERIFIED", False),
    ],
)
def test_a_reason_says_whether_it_declines(code, declines):
    reason = Reason(code=code, message="fired")

    assert reason.declines is declines


@pytest.mark.parametrize(
    ("history", "returns", "expected"),
    [
        (730, 30_000, "A"),  # dilution 0.03
        (729, 0, "B"),
        (730, 30_001, "B"),
        (180, 80_000, "B"),  # dilution 0.08
        (179, 0, "C"),
        (None, 0, "C"),
        (800, 80_001, "C"),
    ],
)
def test_grades(history, returns, expected):
    metrics = replace(
        M,
        history_days=history,
        receipts_dilution_window_minor=1_000_000,
        returns_dilution_window_minor=returns,
    )
    letter, rate = grade(metrics, P)
    assert letter == expected
    assert rate == {"A": Decimal("0.08"), "B": Decimal("0.10"), "C": Decimal("0.12")}[expected]


# ---- property: the rules as the contract words them, for any inputs ---------------------------

ORDER = [
    "SUPPLIER_INACTIVE",
    "HAS_OVERDUE_LOAN",
    "AMOUNT_EXCEEDS_AVAILABLE",
    "SHORT_HISTORY",
    "HIGH_DILUTION",
    "SALES_DROP",
    "LARGE_AMOUNT",
    "BANK_ACCOUNT_UNVERIFIED",
]
DECLINES = {"SUPPLIER_INACTIVE", "HAS_OVERDUE_LOAN", "AMOUNT_EXCEEDS_AVAILABLE"}


def contract_rules(amount: int, inputs: DecisionInputs) -> list[str]:
    """Contract section 5, read literally, in exact arithmetic (no Decimal division)."""
    m = inputs.metrics
    fired = []
    if inputs.supplier_status != "ACTIVE":
        fired.append("SUPPLIER_INACTIVE")
    if inputs.overdue_loans > 0:
        fired.append("HAS_OVERDUE_LOAN")
    if amount > inputs.available_minor:
        fired.append("AMOUNT_EXCEEDS_AVAILABLE")
    if m.history_days is None or m.history_days < 90:
        fired.append("SHORT_HISTORY")
    returns, receipts = m.returns_dilution_window_minor, m.receipts_dilution_window_minor
    if (receipts == 0 and returns > 0) or 10 * returns > receipts:  # returns / receipts > 0.10
        fired.append("HIGH_DILUTION")
    # last 30 days < 0.5 x (90-day baseline / 3), when the baseline has sales: 6 x recent < baseline
    if m.sales_baseline_minor > 0 and 6 * m.sales_recent_minor < m.sales_baseline_minor:
        fired.append("SALES_DROP")
    if amount > 1_000_000_000:
        fired.append("LARGE_AMOUNT")
    if not inputs.account_verified:
        fired.append("BANK_ACCOUNT_UNVERIFIED")
    return fired


def contract_grade(m: PoolMetrics) -> str:
    returns, receipts = m.returns_dilution_window_minor, m.receipts_dilution_window_minor
    unbounded = receipts == 0 and returns > 0
    if m.history_days is None or m.history_days < 180 or unbounded or 100 * returns > 8 * receipts:
        return "C"
    if m.history_days >= 730 and 100 * returns <= 3 * receipts:
        return "A"
    return "B"


amounts = st.integers(min_value=100_000, max_value=6_000_000_000)
metrics = st.builds(
    PoolMetrics,
    history_days=st.none() | st.integers(min_value=0, max_value=1_000),
    receipts_dilution_window_minor=st.integers(min_value=0, max_value=10**9),
    returns_dilution_window_minor=st.integers(min_value=0, max_value=2 * 10**8),
    receipts_cap_window_minor=st.integers(min_value=0, max_value=10**9),
    sales_recent_minor=st.integers(min_value=0, max_value=10**8),
    sales_baseline_minor=st.integers(min_value=0, max_value=10**9),
)
decision_inputs = st.builds(
    DecisionInputs,
    supplier_status=st.sampled_from(["ACTIVE", "SUSPENDED", None]),
    account_verified=st.booleans(),
    overdue_loans=st.integers(min_value=0, max_value=3),
    available_minor=amounts | st.just(0),
    metrics=metrics,
)


@settings(max_examples=500, deadline=None)
@given(amounts, decision_inputs)
def test_every_rule_fires_exactly_when_the_contract_says_in_its_order(amount, inputs):
    d = decide(ApplicationRequest(amount, "CNY", 30), inputs, P)
    fired = codes(d)
    assert fired == contract_rules(amount, inputs)
    assert fired == sorted(fired, key=ORDER.index)
    assert all(r.message for r in d.reasons)
    expected = DECLINED if DECLINES & set(fired) else REVIEW if fired else APPROVED
    assert d.status == expected
    assert d.grade == contract_grade(inputs.metrics)
    assert d.annual_rate == {"A": Decimal("0.08"), "B": Decimal("0.10"), "C": Decimal("0.12")}[d.grade]
    # Stored and read back, the inputs decide the same again (re-explanation).
    again = decide(ApplicationRequest(amount, "CNY", 30), DecisionInputs.from_json(inputs.to_json()), P)
    assert again == d
