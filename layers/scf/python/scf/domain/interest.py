"""Simple interest on the principal outstanding each day, penalty interest from maturity instead
(contract section 3; docs/money.md, "Interest").

Invariant: sums are exact (`Fraction`) and rounded once, on the total since value_date, so how the
repayments are split never moves the total by a minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from scf.domain import money
from scf.errors import InvalidInput


class DayCount(StrEnum):
    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"

    @property
    def days_in_year(self) -> int:
        return 360 if self is DayCount.ACT_360 else 365


@dataclass(frozen=True)
class PrincipalChange:
    """From `on` (inclusive) the outstanding principal is `outstanding_minor`."""

    on: date
    outstanding_minor: int


@dataclass(frozen=True)
class Accrual:
    """Exact interest and penalty interest (minor units) earned by the days before `as_of`."""

    interest: Fraction
    penalty: Fraction

    @property
    def interest_minor(self) -> int:
        return round_half_up(self.interest)

    @property
    def penalty_minor(self) -> int:
        return round_half_up(self.penalty)


def round_half_up(amount: Fraction) -> int:
    """Interest rounded by the money rule (`scf.domain.money.round_half_up`); never negative."""
    if amount < 0:
        raise InvalidInput("interest is never negative", code="NEGATIVE_INTEREST")
    return money.round_half_up(amount)


def record_principal(
    changes: Sequence[PrincipalChange], on: date, outstanding_minor: int
) -> tuple[PrincipalChange, ...]:
    """The principal path with a new outstanding amount from `on`; a second change on the same day
    replaces the first (only the end-of-day principal ever earns)."""
    if changes and on < changes[-1].on:
        raise InvalidInput(
            f"principal change on {on} is before the last one on {changes[-1].on}",
            code="PRINCIPAL_CHANGE_ORDER",
        )
    kept = tuple(change for change in changes if change.on != on)
    return (*kept, PrincipalChange(on, outstanding_minor))


def accrue(
    changes: Sequence[PrincipalChange],
    *,
    annual_rate: Decimal,
    maturity_date: date,
    as_of: date,
    day_count: DayCount = DayCount.ACT_360,
    penalty_multiplier: Decimal = Decimal("1.5"),
) -> Accrual:
    """Exact accrual for the days value_date <= d < as_of (value_date = the first change)."""
    rate = Fraction(annual_rate)
    penalty_rate = rate * Fraction(penalty_multiplier)
    year = day_count.days_in_year
    interest_days = Fraction(0)  # sum over normal days of outstanding(d), in minor units
    penalty_days = Fraction(0)
    for index, change in enumerate(changes):
        start = change.on
        end = changes[index + 1].on if index + 1 < len(changes) else as_of
        end = min(end, as_of)
        if end <= start:
            continue
        normal = _days(start, min(end, maturity_date))
        overdue = _days(max(start, maturity_date), end)
        interest_days += change.outstanding_minor * normal
        penalty_days += change.outstanding_minor * overdue
    return Accrual(interest=interest_days * rate / year, penalty=penalty_days * penalty_rate / year)


def _days(start: date, end: date) -> int:
    return max(0, (end - start).days)
