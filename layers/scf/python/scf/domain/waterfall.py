"""Repayment waterfall (contract section 3, default order): penalty interest, then interest, then
principal; whatever exceeds the payoff is `overpayment`, owed back to the supplier, never dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scf.domain.money import format_amount


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


def allocate(amount_minor: int, *, penalty_due: int, interest_due: int, principal_due: int) -> Allocation:
    """Split a positive amount over what is due, in waterfall order."""
    if amount_minor <= 0:
        raise ValueError("a repayment is a positive amount")
    if min(penalty_due, interest_due, principal_due) < 0:
        raise ValueError("amounts due are never negative")
    rest = amount_minor
    penalty = min(rest, penalty_due)
    rest -= penalty
    interest = min(rest, interest_due)
    rest -= interest
    principal = min(rest, principal_due)
    rest -= principal
    return Allocation(penalty=penalty, interest=interest, principal=principal, overpayment=rest)
