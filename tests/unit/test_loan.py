"""The loan: status machine, position on a business date, repayments, extension, and the worked
example of docs/money.md."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import product
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.interest import PrincipalChange, accrue
from scf.domain.loan import (
    TRANSITIONS,
    ExtensionRefused,
    InvalidTransition,
    Loan,
    LoanStatus,
    effective_value_date,
    transition,
)
from scf.domain.money import format_amount
from scf.domain.policy import ExtensionRule
from scf.domain.waterfall import INTEREST, PENALTY, PRINCIPAL, Allocation
from scf.errors import Conflict

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
ALLOWED = {
    (LoanStatus.APPROVED, LoanStatus.DISBURSING),
    (LoanStatus.DISBURSING, LoanStatus.ACTIVE),
    (LoanStatus.DISBURSING, LoanStatus.FAILED),
    (LoanStatus.ACTIVE, LoanStatus.OVERDUE),
    (LoanStatus.ACTIVE, LoanStatus.REPAID),
    (LoanStatus.OVERDUE, LoanStatus.REPAID),
    (LoanStatus.OVERDUE, LoanStatus.ACTIVE),  # an extension granted within its window
}


def approved(principal: int = 10_000_000, term: int = 30, rate: str = "0.10") -> Loan:
    return Loan("L1", "S1", LoanStatus.APPROVED, "CNY", principal, principal, Decimal(rate), term)


def active(principal: int = 10_000_000, term: int = 30, rate: str = "0.10") -> Loan:
    return approved(principal, term, rate).start_disbursement().activate(VALUE)


@pytest.mark.parametrize(("current", "target"), list(product(LoanStatus, LoanStatus)))
def test_the_status_machine_is_the_contracts(current: LoanStatus, target: LoanStatus) -> None:
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition):
            transition(current, target)
    assert {(c, t) for c, ts in TRANSITIONS.items() for t in ts} == ALLOWED


def test_activation_starts_interest_on_the_value_date() -> None:
    loan = active(term=45)
    assert loan.status is LoanStatus.ACTIVE
    assert loan.maturity_date == VALUE + timedelta(days=45)
    assert loan.principal_changes == (PrincipalChange(VALUE, 10_000_000),)
    with pytest.raises(InvalidTransition):
        approved().activate(VALUE)  # never without DISBURSING first


def test_a_rejected_payout_owes_nothing() -> None:
    loan = approved().start_disbursement().fail()
    assert loan.status is LoanStatus.FAILED and loan.outstanding_principal_minor == 0
    assert loan.position(VALUE).payoff == 0


def test_position_is_overdue_from_maturity_on() -> None:
    loan = active(term=30)
    assert loan.position(VALUE + timedelta(days=29)).status is LoanStatus.ACTIVE
    position = loan.position(VALUE + timedelta(days=31))
    assert position.status is LoanStatus.OVERDUE
    assert position.penalty_due == round(10_000_000 * 0.15 / 360)  # one penalty day: 4,166.67 -> 41.67
    assert position.payoff == position.penalty_due + position.interest_due + 10_000_000


def test_paying_the_payoff_repays_the_loan() -> None:
    loan = active()
    day = VALUE + timedelta(days=10)
    outcome = loan.repay(loan.position(day).payoff, day)
    assert outcome.loan.status is LoanStatus.REPAID
    assert outcome.allocation.overpayment == 0
    assert outcome.loan.outstanding_principal_minor == 0
    assert outcome.overdue_delta == 0


def test_a_partial_repayment_keeps_the_loan_active_and_lowers_the_principal_from_that_day() -> None:
    loan = active()
    day = VALUE + timedelta(days=10)
    outcome = loan.repay(1_000_000, day)
    assert outcome.loan.status is LoanStatus.ACTIVE
    assert outcome.allocation == Allocation(0, 27_778, 972_222, 0)
    assert outcome.loan.principal_changes[-1] == PrincipalChange(day, 10_000_000 - 972_222)


def test_a_repayment_after_maturity_marks_the_loan_overdue_and_repaying_it_counts_back() -> None:
    day = VALUE + timedelta(days=35)
    first = active().repay(100, day)
    assert first.loan.status is LoanStatus.OVERDUE and first.overdue_delta == 1
    assert first.allocation.penalty == 100
    rest = first.loan.repay(first.loan.position(day).payoff, day)
    assert rest.loan.status is LoanStatus.REPAID and rest.overdue_delta == -1


def test_money_for_a_repaid_loan_is_overpayment() -> None:
    loan = active()
    day = VALUE + timedelta(days=3)
    repaid = loan.repay(loan.position(day).payoff + 500, day)
    assert repaid.allocation.overpayment == 500 and repaid.loan.status is LoanStatus.REPAID
    assert repaid.loan.overpayment_minor == 500
    again = repaid.loan.repay(700, day)
    assert again.allocation == Allocation(0, 0, 0, 700)
    assert again.loan == replace(repaid.loan, overpayment_minor=1200)  # received in excess, cumulative


repayment_plans = st.lists(
    st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=6_000_000)),
    min_size=1,
    max_size=6,
)


def run(loan: Loan, plan: list[tuple[date, int]]) -> tuple[Loan, Allocation]:
    totals = Allocation(0, 0, 0, 0)
    for day, amount in plan:
        outcome = loan.repay(amount, day)
        loan = outcome.loan
        a = outcome.allocation
        totals = Allocation(
            totals.penalty + a.penalty,
            totals.interest + a.interest,
            totals.principal + a.principal,
            totals.overpayment + a.overpayment,
        )
    return loan, totals


@settings(max_examples=300, deadline=None)
@given(plan=repayment_plans, split_at=st.integers(min_value=0), share=st.floats(0.01, 0.99))
def test_splitting_a_repayment_never_changes_a_minor_unit(
    plan: list[tuple[int, int]], split_at: int, share: float
) -> None:
    days: list[tuple[date, int]] = []
    day = VALUE
    for gap, amount in plan:
        day += timedelta(days=gap)
        days.append((day, amount))
    index = split_at % len(days)
    split_day, split_amount = days[index]
    part = max(1, min(split_amount - 1, int(split_amount * share)))
    if split_amount < 2:
        return
    split = [*days[:index], (split_day, part), (split_day, split_amount - part), *days[index + 1 :]]
    whole_loan, whole_totals = run(active(), days)
    split_loan, split_totals = run(active(), split)
    assert split_loan == whole_loan
    assert split_totals == whole_totals


@settings(max_examples=200, deadline=None)
@given(plan=repayment_plans, payoff_gap=st.integers(min_value=0, max_value=60))
def test_interest_paid_at_payoff_is_the_rounded_exact_sum(
    plan: list[tuple[int, int]], payoff_gap: int
) -> None:
    loan = active()
    day = VALUE
    for gap, amount in plan:
        day += timedelta(days=gap)
        loan = loan.repay(amount, day).loan
    day += timedelta(days=payoff_gap)
    if loan.status is not LoanStatus.REPAID:
        loan = loan.repay(loan.position(day).payoff, day).loan
    assert loan.status is LoanStatus.REPAID
    assert loan.maturity_date is not None
    exact = accrue(
        loan.principal_changes, annual_rate=loan.annual_rate, maturity_date=loan.maturity_date, as_of=day
    )
    # The payoff day (or the day the last principal left) bounds the accrual: later days earn nothing.
    assert loan.interest_paid_minor == exact.interest_minor
    assert loan.penalty_paid_minor == exact.penalty_minor


def test_a_repayment_fills_the_buckets_in_the_policys_order() -> None:
    loan = active(principal=10_000_000, term=30, rate="0.10")
    on = VALUE + timedelta(days=10)  # 10 days at 10% on 100,000.00: 277.78 interest due

    outcome = loan.repay(10_000_000, on, order=(PRINCIPAL, INTEREST, PENALTY))

    assert outcome.allocation == Allocation(penalty=0, interest=0, principal=10_000_000, overpayment=0)


# -- extension ---------------------------------------------------------------------------------------

MATURITY = VALUE + timedelta(days=30)


@pytest.mark.parametrize(
    ("on", "code"),
    [
        (MATURITY - timedelta(days=8), "EXTENSION_TOO_EARLY"),
        (MATURITY + timedelta(days=4), "EXTENSION_TOO_LATE"),
    ],
)
def test_extension_window(on: date, code: str) -> None:
    with pytest.raises(ExtensionRefused) as refused:
        active().extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
    assert refused.value.code == code


def test_extension_moves_maturity_once() -> None:
    for on in (MATURITY - timedelta(days=7), MATURITY + timedelta(days=3)):
        outcome = active().extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
        assert outcome.loan.maturity_date == MATURITY + timedelta(days=30)
        assert outcome.loan.extended
        with pytest.raises(ExtensionRefused) as refused:
            outcome.loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
        assert refused.value.code == "ALREADY_EXTENDED"


@pytest.mark.parametrize(
    ("overdue", "base", "code"),
    [(True, 10**10, "HAS_OVERDUE_LOAN"), (False, 9_999_999, "BORROWING_BASE_SHORT")],
)
def test_extension_needs_no_other_overdue_loan_and_a_covering_borrowing_base(
    overdue: bool, base: int, code: str
) -> None:
    with pytest.raises(ExtensionRefused) as refused:
        active().extend(MATURITY, other_loan_overdue=overdue, borrowing_base_minor=base)
    assert refused.value.code == code


LONGER = ExtensionRule(days_before_maturity=10, days_after_maturity=5, extension_days=45)


@pytest.mark.parametrize(
    ("on", "code"),
    [
        (MATURITY - timedelta(days=11), "EXTENSION_TOO_EARLY"),
        (MATURITY + timedelta(days=6), "EXTENSION_TOO_LATE"),
    ],
)
def test_the_extension_window_is_the_policys(on: date, code: str) -> None:
    loan = active()

    with pytest.raises(ExtensionRefused) as refused:
        loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10, terms=LONGER)

    assert refused.value.code == code


@pytest.mark.parametrize("on", [MATURITY - timedelta(days=10), MATURITY + timedelta(days=5)])
def test_the_extension_moves_maturity_by_the_policys_length(on: date) -> None:
    loan = active()

    outcome = loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10, terms=LONGER)

    assert outcome.loan.maturity_date == MATURITY + timedelta(days=45)


def test_days_after_the_old_maturity_earn_normal_interest_once_extended() -> None:
    on = MATURITY + timedelta(days=2)
    overdue = active().repay(50, on)  # pays penalty for 2 overdue days, marks it OVERDUE
    assert overdue.loan.status is LoanStatus.OVERDUE and overdue.loan.penalty_paid_minor == 50
    outcome = overdue.loan.extend(on, other_loan_overdue=False, borrowing_base_minor=10**10)
    assert outcome.loan.status is LoanStatus.ACTIVE and outcome.overdue_delta == -1
    assert outcome.penalty_reclassified == 50
    position = outcome.loan.position(on)
    assert position.penalty_due == 0
    # 32 normal days on 100,000.00 at 10% = 888.89, of which 0.50 was already paid as penalty.
    assert position.interest_due == 88_889 - 50


# -- the worked example of docs/money.md -------------------------------------------------------------


def test_the_worked_example_in_docs_money_md() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "money.md").read_text(encoding="utf-8")
    block = re.search(r"```text worked-example\n(.*?)```", doc, re.S)
    assert block, "docs/money.md lost its worked example block"
    stated = dict(line.split(": ", 1) for line in block.group(1).strip().splitlines())

    loan = active(principal=10_000_000, term=30, rate="0.10")
    first_day = date(2026, 1, 11)
    first = loan.repay(4_000_000, first_day)
    later = date(2026, 2, 5)
    position = first.loan.position(later)
    final = first.loan.repay(position.payoff, later)

    computed = {
        "maturity_date": str(loan.maturity_date),
        "2026-01-11 interest": format_amount(first.allocation.interest),
        "2026-01-11 principal": format_amount(first.allocation.principal),
        "outstanding after": format_amount(first.loan.outstanding_principal_minor),
        "2026-02-05 status": position.status.value,
        "2026-02-05 interest_due": format_amount(position.interest_due),
        "2026-02-05 penalty_due": format_amount(position.penalty_due),
        "2026-02-05 payoff": format_amount(position.payoff),
        "status after paying the payoff": final.loan.status.value,
        "interest income": format_amount(final.loan.interest_paid_minor),
        "penalty income": format_amount(final.loan.penalty_paid_minor),
    }
    assert stated == computed


# -- value date of a repayment (contract section 3, "Value date (v2)") --------------------------------


def test_a_repayment_takes_effect_on_the_day_the_money_moved() -> None:
    loan = active()

    assert effective_value_date(date(2026, 1, 11), loan, [date(2026, 1, 5)]) == date(2026, 1, 11)


def test_a_repayment_never_takes_effect_before_the_loans_value_date() -> None:
    loan = active()  # value date 2026-01-01

    assert effective_value_date(date(2025, 12, 30), loan) == VALUE


def test_a_repayment_never_takes_effect_before_one_already_applied() -> None:
    loan = active()

    assert effective_value_date(date(2026, 1, 11), loan, [date(2026, 1, 20), None]) == date(2026, 1, 20)


# -- the daily job: OVERDUE stored at maturity, its events ---------------------------------------------


def test_an_active_loan_is_marked_overdue_from_its_maturity_date_on() -> None:
    for today in (MATURITY, MATURITY + timedelta(days=4)):
        marked = active().mark_overdue(today)
        assert marked.status is LoanStatus.OVERDUE
        assert marked.maturity_date == MATURITY and marked.outstanding_principal_minor == 10_000_000


def test_a_loan_before_its_maturity_date_is_not_marked_overdue() -> None:
    with pytest.raises(Conflict) as refused:
        active().mark_overdue(MATURITY - timedelta(days=1))
    assert refused.value.code == "NOT_AT_MATURITY"


@pytest.mark.parametrize("status", [LoanStatus.OVERDUE, LoanStatus.REPAID])
def test_only_an_active_loan_is_marked_overdue(status: LoanStatus) -> None:
    with pytest.raises(InvalidTransition):
        replace(active(), status=status).mark_overdue(MATURITY)


def test_an_extension_returns_a_stored_overdue_loan_to_active() -> None:
    overdue = active().mark_overdue(MATURITY)
    outcome = overdue.extend(
        MATURITY + timedelta(days=1), other_loan_overdue=False, borrowing_base_minor=10**10
    )
    assert outcome.loan.status is LoanStatus.ACTIVE and outcome.overdue_delta == -1
    assert outcome.loan.maturity_date == MATURITY + timedelta(days=30)


def test_a_stored_overdue_loan_still_takes_repayments_and_is_repaid_at_payoff() -> None:
    on = MATURITY + timedelta(days=2)
    overdue = active().mark_overdue(MATURITY)
    partial = overdue.repay(1_000_000, on)
    assert partial.loan.status is LoanStatus.OVERDUE and partial.overdue_delta == 0
    paid = partial.loan.repay(partial.loan.position(on).payoff, on)
    assert paid.loan.status is LoanStatus.REPAID and paid.overdue_delta == -1


def test_overdue_and_due_soon_events_are_once_per_loan_and_maturity_without_accounts() -> None:
    loan = active()
    overdue, due_soon = loan.overdue_event(), loan.due_soon_event()
    assert overdue.event_id == f"LoanOverdue-L1-{MATURITY.isoformat()}"
    assert due_soon.event_id == f"LoanDueSoon-L1-{MATURITY.isoformat()}"
    assert (
        overdue.payload
        == due_soon.payload
        == {
            "loan_id": "L1",
            "supplier_id": "S1",
            "currency": "CNY",
            "outstanding_principal": "100000.00",
            "maturity_date": MATURITY.isoformat(),
        }
    )
    extended = loan.extend(MATURITY, other_loan_overdue=False, borrowing_base_minor=10**10).loan
    assert extended.due_soon_event().event_id != due_soon.event_id
