"""Every rule boundary of contract sections 4 and 5, table-driven, from documents to decision: the
pool as of the business date, the credit line, the metrics, the rules, the grade. Each row sits
exactly on a boundary or one unit past it (a day, a minor unit)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scf.domain.decision import ApplicationRequest, DecisionInputs, decide, is_overdue, overdue_count
from scf.domain.interest import DayCount
from scf.domain.loan import Loan, LoanStatus
from scf.domain.money import parse_amount
from scf.domain.policy import DEFAULT_POLICY
from scf.domain.pool import Document, Pool

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 28)
_ids = iter(range(10**6))


def doc(kind: str, age: int, amount: str, *refs: str, doc_id: str | None = None) -> Document:
    return Document(
        doc_id or f"D{next(_ids)}", kind, TODAY - timedelta(days=age), parse_amount(amount), references=refs
    )


def history(age: int) -> Document:
    """The supplier's first goods receipt, too old (or too small) to matter to anything else."""
    return doc("GOODS_RECEIPT", age, "0.01")


# A supplier with 800 days of history and 5,000,000.00 available: 10,000,000.00 of goods received
# 10 days ago give a borrowing base of 7,000,000.00 and a facility cap of 5,000,000.00, which binds.
def base(history_age: int = 800) -> list[Document]:
    return [history(history_age), doc("GOODS_RECEIPT", 10, "10000000.00", doc_id="GR-BASE")]


def decide_on(
    docs: list[Document], amount: str, *, outstanding: str = "0.00", maturities: tuple[int, ...] = ()
) -> tuple[str, list[str], str, str]:
    pool = Pool()
    for d in docs:
        pool.apply(d)
    line = pool.credit_line(TODAY, DEFAULT_POLICY, parse_amount(outstanding))
    open_maturities = {f"L{i}": TODAY + timedelta(days=days) for i, days in enumerate(maturities)}
    inputs = DecisionInputs(
        "ACTIVE",
        True,
        overdue_count(open_maturities, 0, TODAY),
        line.available_minor,
        pool.metrics(TODAY, DEFAULT_POLICY),
    )
    decision = decide(ApplicationRequest(parse_amount(amount), "CNY", 30), inputs, DEFAULT_POLICY)
    return decision.status, [r.code for r in decision.reasons], decision.grade, str(decision.annual_rate)


ROWS = [
    # --- HIGH_DILUTION: returns / receipts over the last 90 days > 0.10 --------------------------
    ("dilution exactly 0.10", [*base(), doc("RETURN", 5, "1000000.00")], "1000.00", "APPROVED", [], "C"),
    (
        "dilution 0.10 + 1 minor",
        [*base(), doc("RETURN", 5, "1000000.01")],
        "1000.00",
        "REVIEW",
        ["HIGH_DILUTION"],
        "C",
    ),
    (
        "a return 90 days old counts",
        [*base(), doc("GOODS_RECEIPT", 90, "0.01"), doc("RETURN", 90, "1000000.01")],
        "1000.00",
        "REVIEW",
        ["HIGH_DILUTION"],
        "C",
    ),
    (
        "a return 91 days old does not",
        [*base(), doc("RETURN", 91, "5000000.00")],
        "1000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "returns and no receipts",
        [
            history(800),
            doc("GOODS_RECEIPT", 150, "1000000.00"),
            doc("INVOICE", 5, "100000.00"),
            doc("RETURN", 5, "1.00"),
        ],
        "1000.00",
        "REVIEW",
        ["HIGH_DILUTION"],
        "C",
    ),
    # --- SHORT_HISTORY: first goods receipt less than 90 days ago --------------------------------
    ("history exactly 90 days", base(history_age=90), "1000.00", "APPROVED", [], "C"),
    ("history 89 days", base(history_age=89), "1000.00", "REVIEW", ["SHORT_HISTORY"], "C"),
    (
        "no goods receipt at all",
        [doc("INVOICE", 5, "100000.00")],
        "1000.00",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE", "SHORT_HISTORY"],
        "C",
    ),
    # --- grades: A needs >= 730 days and dilution <= 0.03; C below 180 days or above 0.08 --------
    ("730 days, no returns: grade A", base(history_age=730), "1000.00", "APPROVED", [], "A"),
    ("729 days: grade B", base(history_age=729), "1000.00", "APPROVED", [], "B"),
    ("180 days: grade B", base(history_age=180), "1000.00", "APPROVED", [], "B"),
    ("179 days: grade C", base(history_age=179), "1000.00", "APPROVED", [], "C"),
    (
        "dilution exactly 0.03: grade A",
        [*base(), doc("RETURN", 5, "300000.00")],
        "1000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "dilution 0.03 + 1 minor: grade B",
        [*base(), doc("RETURN", 5, "300000.01")],
        "1000.00",
        "APPROVED",
        [],
        "B",
    ),
    (
        "dilution exactly 0.08: grade B",
        [*base(), doc("RETURN", 5, "800000.00")],
        "1000.00",
        "APPROVED",
        [],
        "B",
    ),
    (
        "dilution 0.08 + 1 minor: grade C",
        [*base(), doc("RETURN", 5, "800000.01")],
        "1000.00",
        "APPROVED",
        [],
        "C",
    ),
    # --- AMOUNT_EXCEEDS_AVAILABLE at the cap ------------------------------------------------------
    ("amount exactly available (the cap)", base(), "5000000.00", "APPROVED", [], "A"),
    ("amount available + 1 minor", base(), "5000000.01", "DECLINED", ["AMOUNT_EXCEEDS_AVAILABLE"], "A"),
    ("available after outstanding, exactly", base(), "1000.00", "APPROVED", [], "A", "4999000.00"),
    ("nothing left", base(), "1000.00", "DECLINED", ["AMOUNT_EXCEEDS_AVAILABLE"], "A", "5000000.00"),
    (
        "outstanding above the limit",
        base(),
        "1000.00",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE"],
        "A",
        "6000000.00",
    ),
    (
        "receipts 180 days old count for the cap",
        [history(800), doc("GOODS_RECEIPT", 180, "2000000.00"), doc("INVOICE", 1, "100000.00")],
        "90000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "receipts 181 days old do not",
        [history(800), doc("GOODS_RECEIPT", 181, "2000000.00"), doc("INVOICE", 1, "100000.00")],
        "1000.00",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE"],
        "A",
    ),
    (
        "the borrowing base binds below the cap",
        [history(800), doc("GOODS_RECEIPT", 120, "1000000.00")],
        "350000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "a receipt 121 days old is not eligible",
        [history(800), doc("GOODS_RECEIPT", 121, "1000000.00")],
        "1000.00",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE"],
        "A",
    ),
    (
        "an order 60 days old is eligible",
        [history(800), doc("GOODS_RECEIPT", 170, "1000000.00"), doc("PURCHASE_ORDER", 60, "100000.00")],
        "30000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "an order 61 days old is not",
        [history(800), doc("GOODS_RECEIPT", 170, "1000000.00"), doc("PURCHASE_ORDER", 61, "100000.00")],
        "1000.00",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE"],
        "A",
    ),
    # --- LARGE_AMOUNT: above 10,000,000.00; the facility cap's maximum 50,000,000.00 --------------
    (
        "exactly 10,000,000.00",
        [history(800), doc("GOODS_RECEIPT", 10, "200000000.00")],
        "10000000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "10,000,000.01",
        [history(800), doc("GOODS_RECEIPT", 10, "200000000.00")],
        "10000000.01",
        "REVIEW",
        ["LARGE_AMOUNT"],
        "A",
    ),
    (
        "the cap stops at 50,000,000.00",
        [history(800), doc("GOODS_RECEIPT", 10, "200000000.00")],
        "50000000.00",
        "REVIEW",
        ["LARGE_AMOUNT"],
        "A",
    ),
    (
        "50,000,000.01 is over the cap",
        [history(800), doc("GOODS_RECEIPT", 10, "200000000.00")],
        "50000000.01",
        "DECLINED",
        ["AMOUNT_EXCEEDS_AVAILABLE", "LARGE_AMOUNT"],
        "A",
    ),
    # --- SALES_DROP: last 30 days < 0.5 x monthly average of the 90 days before ------------------
    (
        "sales exactly half the average",
        [*base(), doc("SALE", 30, "150000.00"), doc("SALE", 31, "900000.00")],
        "1000.00",
        "APPROVED",
        [],
        "A",
    ),
    (
        "sales 1 minor below half",
        [*base(), doc("SALE", 30, "149999.99"), doc("SALE", 120, "900000.00")],
        "1000.00",
        "REVIEW",
        ["SALES_DROP"],
        "A",
    ),
    (
        "a sale 121 days old is no baseline",
        [*base(), doc("SALE", 121, "900000.00")],
        "1000.00",
        "APPROVED",
        [],
        "A",
    ),
]


@pytest.mark.parametrize(
    ("name", "docs", "amount", "status", "fired", "grade", "outstanding"),
    [(*row, "0.00") if len(row) == 6 else row for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_rule_boundary(name, docs, amount, status, fired, grade, outstanding):
    assert decide_on(docs, amount, outstanding=outstanding)[:3] == (status, fired, grade), name


@pytest.mark.parametrize(
    ("maturities", "fired"),
    [
        ((0,), ["HAS_OVERDUE_LOAN"]),  # matures today: overdue from its maturity date on
        ((1,), []),
        ((-30, 5), ["HAS_OVERDUE_LOAN"]),
        ((), []),
    ],
)
def test_an_open_loan_is_overdue_from_its_maturity_date(maturities, fired):
    status, codes, _, _ = decide_on(base(), "1000.00", maturities=maturities)
    assert (status, codes) == ("DECLINED" if fired else "APPROVED", fired)


@pytest.mark.parametrize("days_to_maturity", [-1, 0, 1])
def test_the_decision_and_the_loan_agree_on_overdue(days_to_maturity):
    maturity = TODAY + timedelta(days=days_to_maturity)
    loan = Loan(
        "L1",
        "S1",
        LoanStatus.ACTIVE,
        "CNY",
        100_000,
        100_000,
        DEFAULT_POLICY.grade_b.annual_rate,
        30,
        DayCount.ACT_360,
        value_date=maturity - timedelta(days=30),
        maturity_date=maturity,
    )
    assert is_overdue(maturity, TODAY) == (loan.status_on(TODAY) is LoanStatus.OVERDUE)


def test_the_stored_overdue_count_and_the_matured_loans_are_both_lower_bounds():
    matured = {"L1": TODAY, "L2": TODAY - timedelta(days=3), "L3": TODAY + timedelta(days=1)}
    assert overdue_count(matured, 0, TODAY) == 2
    assert overdue_count(matured, 3, TODAY) == 3
    assert overdue_count({}, 1, TODAY) == 1
