"""Waterfall: the buckets fill in the policy's order (the contract's: penalty, then interest, then
principal); the excess is overpayment, never dropped."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf.domain.waterfall import INTEREST, PENALTY, PRINCIPAL, Allocation, allocate

pytestmark = pytest.mark.unit


def test_penalty_first_then_interest_then_principal() -> None:
    assert allocate(150, penalty_due=100, interest_due=100, principal_due=1000) == Allocation(100, 50, 0, 0)
    assert allocate(50, penalty_due=100, interest_due=100, principal_due=1000) == Allocation(50, 0, 0, 0)
    assert allocate(700, penalty_due=100, interest_due=100, principal_due=1000) == Allocation(
        100, 100, 500, 0
    )


def test_the_excess_over_the_payoff_is_overpayment() -> None:
    assert allocate(1500, penalty_due=100, interest_due=100, principal_due=1000) == Allocation(
        100, 100, 1000, 300
    )


def test_money_for_a_loan_that_owes_nothing_is_all_overpayment() -> None:
    assert allocate(42, penalty_due=0, interest_due=0, principal_due=0) == Allocation(0, 0, 0, 42)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_repayment_is_positive(amount: int) -> None:
    with pytest.raises(ValueError):
        allocate(amount, penalty_due=0, interest_due=0, principal_due=1)


def test_the_buckets_fill_in_the_order_given() -> None:
    order = (PRINCIPAL, INTEREST, PENALTY)

    split = allocate(1050, penalty_due=100, interest_due=100, principal_due=1000, order=order)

    assert split == Allocation(penalty=0, interest=50, principal=1000, overpayment=0)


@pytest.mark.parametrize(
    "order",
    [(PENALTY, INTEREST), (PENALTY, INTEREST, PRINCIPAL, PRINCIPAL), (PENALTY, INTEREST, "fees")],
)
def test_an_order_names_each_bucket_once(order: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="once each"):
        allocate(100, penalty_due=1, interest_due=1, principal_due=1, order=order)


def test_money_formats_with_two_decimals() -> None:
    assert Allocation(1, 2, 300, 0).as_money() == {
        "penalty": "0.01",
        "interest": "0.02",
        "principal": "3.00",
        "overpayment": "0.00",
    }
    assert Allocation.from_minor(Allocation(1, 2, 3, 4).as_minor()) == Allocation(1, 2, 3, 4)


dues = st.integers(min_value=0, max_value=10**13)


@given(amount=st.integers(min_value=1, max_value=10**14), penalty=dues, interest=dues, principal=dues)
def test_every_minor_unit_lands_somewhere_in_order(
    amount: int, penalty: int, interest: int, principal: int
) -> None:
    split = allocate(amount, penalty_due=penalty, interest_due=interest, principal_due=principal)
    assert split.total == amount
    assert (
        0 <= split.penalty <= penalty
        and 0 <= split.interest <= interest
        and 0 <= split.principal <= principal
    )
    # A later bucket receives money only when every earlier one is full.
    if split.interest:
        assert split.penalty == penalty
    if split.principal:
        assert split.interest == interest
    if split.overpayment:
        assert split.principal == principal


@given(
    amount=st.integers(min_value=1, max_value=10**14),
    penalty=dues,
    interest=dues,
    principal=dues,
    order=st.permutations([PENALTY, INTEREST, PRINCIPAL]).map(tuple),
)
def test_any_order_places_the_whole_amount_never_over_a_bucket(
    amount: int, penalty: int, interest: int, principal: int, order: tuple[str, ...]
) -> None:
    due = {PENALTY: penalty, INTEREST: interest, PRINCIPAL: principal}

    split = allocate(amount, penalty_due=penalty, interest_due=interest, principal_due=principal, order=order)

    paid = split.as_minor()
    assert split.total == amount
    assert all(0 <= paid[bucket] <= due[bucket] for bucket in order)
    assert split.overpayment == max(0, amount - sum(due.values()))
    # A later bucket receives money only when every earlier one is full.
    for earlier, later in pairwise(order):
        if paid[later]:
            assert paid[earlier] == due[earlier]
