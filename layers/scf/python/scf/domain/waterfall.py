"""Repayment waterfall (contract section 3): the amount fills the buckets in the policy's order
(`CreditPolicy.waterfall_order`; the contract's default is penalty interest, then interest, then
principal); whatever exceeds the payoff is `overpayment`, owed back to the supplier, never dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scf.domain.money import format_amount
from scf.errors import InvalidInput

PENALTY = "penalty"
INTEREST = "interest"
PRINCIPAL = "principal"
BUCKETS = frozenset({PENALTY, INTEREST, PRINCIPAL})
CONTRACT_ORDER: tuple[str, ...] = (PENALTY, INTEREST, PRINCIPAL)  # contract section 3's default


def is_waterfall_order(order: tuple[str, ...]) -> bool:
    """An order names each of the three buckets exactly once."""
    return len(order) == len(BUCKETS) and set(order) == BUCKETS


@dataclass(frozen=True)
class Allocation:
    """How one repayment was split, in minor units. The parts always add up to the amount."""

    penalty: int
    interest: int
    principal: int
    overpayment: int

    @property
    def total(self) -> int:
        return self.penalty + self.interest + self.principal + self.overpayment

    def as_minor(self) -> dict[str, int]:
        return {
            "penalty": self.penalty,
            "interest": self.interest,
            "principal": self.principal,
            "overpayment": self.overpayment,
        }

    def as_money(self) -> dict[str, str]:
        return {name: format_amount(value) for name, value in self.as_minor().items()}

    @classmethod
    def from_minor(cls, data: dict[str, Any]) -> Allocation:
        return cls(
            penalty=int(data["penalty"]),
            interest=int(data["interest"]),
            principal=int(data["principal"]),
            overpayment=int(data["overpayment"]),
        )


def allocate(
    amount_minor: int,
    *,
    penalty_due: int,
    interest_due: int,
    principal_due: int,
    order: tuple[str, ...] = CONTRACT_ORDER,
) -> Allocation:
    """Split a positive amount over what is due, bucket by bucket in `order`: a bucket receives
    money only once every earlier one is full, none receives more than it is owed."""
    if amount_minor <= 0:
        raise InvalidInput("a repayment is a positive amount", code="INVALID_AMOUNT")
    if min(penalty_due, interest_due, principal_due) < 0:
        raise InvalidInput("amounts due are never negative", code="INVALID_AMOUNT")
    if not is_waterfall_order(order):
        raise InvalidInput(
            f"a waterfall order names {', '.join(sorted(BUCKETS))} once each, got {order}",
            code="INVALID_ORDER",
        )
    due = {PENALTY: penalty_due, INTEREST: interest_due, PRINCIPAL: principal_due}
    paid: dict[str, int] = {}
    rest = amount_minor
    for bucket in order:
        paid[bucket] = min(rest, due[bucket])
        rest -= paid[bucket]
    return Allocation(
        penalty=paid[PENALTY], interest=paid[INTEREST], principal=paid[PRINCIPAL], overpayment=rest
    )
