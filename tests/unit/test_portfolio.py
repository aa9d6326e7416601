"""The portfolio's pure rules: aging buckets, interest as a line in time, the ops list's filters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf.domain import portfolio
from scf.domain.interest import DayCount
from scf.domain.loan import LoanStatus
from scf.errors import InvalidInput
from scf.service.portfolio import loan_filter
from tests.fakes import a_loan

VALUE = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("days_past", "bucket"),
    [
        (-1, "CURRENT"),
        (0, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
    ],
)
def test_a_loan_ages_by_days_past_its_maturity(days_past: int, bucket: str) -> None:
    loan = a_loan(value_date=VALUE)
    assert loan.maturity_date is not None

    assert portfolio.bucket_of(loan, loan.maturity_date + timedelta(days=days_past)) == bucket


@given(
    principal=st.integers(1, 10**11),
    rate=st.decimals(Decimal("0.0001"), Decimal("0.36"), places=4),
    basis=st.sampled_from(DayCount),
    repaid=st.lists(st.tuples(st.integers(1, 29), st.integers(1, 10**9)), max_size=4),
    days=st.integers(0, 30),
)
def test_an_active_loans_interest_is_a_line_in_time(principal, rate, basis, repaid, days) -> None:
    """Counted from the counters, one loan's interest due on any day up to its maturity is what the
    loan itself says (one loan: the same single rounding)."""
    loan = a_loan(value_date=VALUE, principal_minor=principal, annual_rate=rate, day_count=basis)
    on = VALUE
    for offset, amount in sorted(repaid):
        on = max(on, VALUE + timedelta(days=offset))
        if not loan.outstanding_principal_minor:
            break
        outcome = loan.repay(min(amount, loan.outstanding_principal_minor), on)
        loan = outcome.loan
    if loan.status is not LoanStatus.ACTIVE:
        return
    as_of = max(on, VALUE + timedelta(days=days))
    assert loan.maturity_date is not None and as_of <= loan.maturity_date

    counters = portfolio.total([portfolio.contribution(loan)])
    view = portfolio.portfolio_view("CNY", as_of, counters, [])

    assert Decimal(view["interest_due"]) == Decimal(loan.position(as_of).interest_due) / 100


def test_a_loan_past_maturity_not_marked_yet_is_aged_not_current() -> None:
    """Between 00:00 and the daily job an ACTIVE loan past maturity is read, bucketed and taken out
    of CURRENT (the counters still hold it as ACTIVE)."""
    due = a_loan(loan_id="L1", value_date=VALUE)
    later = a_loan(loan_id="L2", value_date=VALUE + timedelta(days=10))
    assert due.maturity_date is not None
    counters = portfolio.total([portfolio.contribution(due), portfolio.contribution(later)])

    view = portfolio.portfolio_view("CNY", due.maturity_date + timedelta(days=3), counters, [due])

    aging = {row["bucket"]: row for row in view["aging"]}
    assert (aging["CURRENT"]["count"], aging["1-30"]["count"]) == (1, 1)
    assert aging["1-30"]["penalty_due"] == "125.00"  # 100,000.00 x 10% x 1.5 x 3 / 360
    assert view["loans_by_status"]["ACTIVE"] == {"count": 2, "outstanding_principal": "200000.00"}


def test_the_list_needs_a_status_or_a_supplier() -> None:
    with pytest.raises(InvalidInput) as refused:
        loan_filter(None, None, "CNY")
    assert (refused.value.code, refused.value.field) == ("MISSING_FILTER", "status")


@pytest.mark.parametrize(
    ("status", "supplier_id", "currency", "field"),
    [
        ("LATE", None, None, "status"),
        ("active", None, None, "status"),
        (None, "S 1", None, "supplier_id"),
        ("OVERDUE", None, "JPY", "currency"),
        ("OVERDUE", None, "", "currency"),
    ],
)
def test_an_unknown_filter_is_refused_naming_it(status, supplier_id, currency, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        loan_filter(status, supplier_id, currency)
    assert refused.value.field == field


def test_filters_that_hold_are_kept() -> None:
    wanted = loan_filter("OVERDUE", "S-1", "USD")
    assert (wanted.status, wanted.supplier_id, wanted.currency) == (LoanStatus.OVERDUE, "S-1", "USD")
