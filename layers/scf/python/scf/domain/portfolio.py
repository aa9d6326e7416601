"""The ops portfolio (contract section 8, `GET /v1/ops/portfolio`): what one loan contributes to the
sharded counters, and the view built from the counters plus the overdue loans (docs/ops-views.md,
"The portfolio"). Invariant: every counter is the exact sum of `contribution(loan)` over the loans
of its shard, because every loan write adds `delta(before, after)` in the same transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction
from itertools import pairwise
from typing import Any

from scf.domain.interest import DayCount
from scf.domain.loan import Loan, LoanStatus
from scf.domain.money import format_amount, round_half_up

SHARDS = 16  # counter items per currency: a loan writes only its own (docs/access-patterns.md)

# The counter fields of a shard item (attribute names of PortfolioShardItem).
COUNT = {status: f"count_{status.value.lower()}" for status in LoanStatus}
OUTSTANDING = {status: f"outstanding_{status.value.lower()}" for status in LoanStatus}
SLOPE = {DayCount.ACT_360: "slope_act360", DayCount.ACT_365F: "slope_act365f"}
INTERCEPT = {DayCount.ACT_360: "intercept_act360", DayCount.ACT_365F: "intercept_act365f"}
INTEREST_PAID = "interest_paid_active"
OVERPAYMENT_OWED = "overpayment_owed"
FIELDS = (
    *COUNT.values(),
    *OUTSTANDING.values(),
    *SLOPE.values(),
    *INTERCEPT.values(),
    INTEREST_PAID,
    OVERPAYMENT_OWED,
)

Counters = dict[str, Decimal]

# Aging buckets: days past maturity (as_of - maturity; the maturity day itself is day 0 of 1-30,
# the first day the loan is OVERDUE), upper bound inclusive.
CURRENT = "CURRENT"
BUCKETS: tuple[tuple[str, int | None], ...] = (("1-30", 30), ("31-60", 60), ("61-90", 90), ("90+", None))


def shard_of(loan_id: str) -> int:
    """A stable shard for the loan (crc32: the same in every process, unlike `hash`)."""
    return zlib.crc32(loan_id.encode()) % SHARDS


def exact(value: Fraction) -> Decimal:
    """A Fraction whose denominator divides a power of ten, as the Decimal DynamoDB stores (38
    digits); anything DynamoDB would round is an error, never a silent rounding."""
    with localcontext(prec=38) as context:
        context.traps[Inexact] = True
        return context.divide(Decimal(value.numerator), Decimal(value.denominator))


def contribution(loan: Loan) -> Counters:
    """What the loan adds to its shard: one to its stored status' count and its outstanding
    principal; an ACTIVE loan also its interest as a line in the day number t (ordinal):
    exact interest accrued before t = (intercept + slope * t) / days_in_year, from its last principal
    change up to its maturity, and the interest it has paid."""
    out: Counters = {COUNT[loan.status]: Decimal(1)}
    if loan.outstanding_principal_minor:
        out[OUTSTANDING[loan.status]] = Decimal(loan.outstanding_principal_minor)
    if loan.status is LoanStatus.ACTIVE and loan.principal_changes and loan.maturity_date is not None:
        rate = Fraction(loan.annual_rate)
        closed = Fraction(0)  # sum of outstanding x normal days x rate over the closed segments
        changes = loan.principal_changes
        for change, following in pairwise(changes):
            days = max(0, (min(following.on, loan.maturity_date) - change.on).days)
            closed += change.outstanding_minor * days * rate
        last = changes[-1]
        slope = last.outstanding_minor * rate
        if slope:
            out[SLOPE[loan.day_count]] = exact(slope)
        if closed - slope * last.on.toordinal():
            out[INTERCEPT[loan.day_count]] = exact(closed - slope * last.on.toordinal())
        if loan.interest_paid_minor:
            out[INTEREST_PAID] = Decimal(loan.interest_paid_minor)
    return out


def delta(before: Loan | None, after: Loan | None, *, overpayment_owed: int = 0) -> Counters:
    """The change of the shard's counters when a loan moves from `before` to `after` (None: not
    counted yet, or gone), plus overpayment now owed (negative: refunded); zero entries left out."""
    out: Counters = dict(contribution(after)) if after is not None else {}
    for name, value in (contribution(before) if before is not None else {}).items():
        out[name] = out.get(name, Decimal(0)) - value
    if overpayment_owed:
        out[OVERPAYMENT_OWED] = out.get(OVERPAYMENT_OWED, Decimal(0)) + overpayment_owed
    return {name: value for name, value in out.items() if value}


def total(shards: Iterable[Mapping[str, Decimal]]) -> Counters:
    """The counters of all shards summed (an absent field is zero)."""
    out: Counters = dict.fromkeys(FIELDS, Decimal(0))
    for shard in shards:
        for name in FIELDS:
            out[name] += shard.get(name, Decimal(0))
    return out


def bucket_of(loan: Loan, as_of: date) -> str:
    """The aging bucket of a loan on `as_of`: CURRENT before its maturity, then by days past it."""
    if loan.maturity_date is None or as_of < loan.maturity_date:
        return CURRENT
    days = (as_of - loan.maturity_date).days
    return next(name for name, upto in BUCKETS if upto is None or days <= upto)


@dataclass
class _Bucket:
    count: int = 0
    outstanding: int = 0
    penalty: int = 0

    def as_json(self, name: str) -> dict[str, str | int]:
        return {
            "bucket": name,
            "count": self.count,
            "outstanding_principal": format_amount(self.outstanding),
            "penalty_due": format_amount(self.penalty),
        }


def portfolio_view(
    currency: str, as_of: date, counters: Counters, past_maturity: list[Loan]
) -> dict[str, Any]:
    """The portfolio on `as_of` from the summed counters and the loans of the currency past their
    maturity (stored OVERDUE, or ACTIVE not marked yet): those are read, so their interest and
    penalty are exact per loan; the other ACTIVE loans' interest comes from the counters' line,
    rounded once (docs/ops-views.md: it may differ from the sum of rounded loans by < 1/2 per loan)."""
    unmarked = [loan for loan in past_maturity if loan.status is LoanStatus.ACTIVE]
    current = total([counters, *(_negated(contribution(loan)) for loan in unmarked)])
    buckets = {name: _Bucket() for name in (CURRENT, *(name for name, _ in BUCKETS))}
    buckets[CURRENT].count = int(current[COUNT[LoanStatus.ACTIVE]])
    buckets[CURRENT].outstanding = int(current[OUTSTANDING[LoanStatus.ACTIVE]])
    interest = _line_interest(current, as_of)
    for loan in past_maturity:
        position = loan.position(as_of)
        bucket = buckets[bucket_of(loan, as_of)]
        bucket.count += 1
        bucket.outstanding += position.outstanding_principal
        bucket.penalty += position.penalty_due
        interest += position.interest_due
    return {
        "currency": currency,
        "as_of": as_of.isoformat(),
        "loans_by_status": {
            status.value: {
                "count": int(counters[COUNT[status]]),
                "outstanding_principal": format_amount(int(counters[OUTSTANDING[status]])),
            }
            for status in LoanStatus
        },
        "aging": [bucket.as_json(name) for name, bucket in buckets.items()],
        "interest_due": format_amount(interest),
        "overpayment_owed": format_amount(int(counters[OVERPAYMENT_OWED])),
    }


def _negated(counters: Counters) -> Counters:
    return {name: -value for name, value in counters.items()}


def _line_interest(counters: Counters, as_of: date) -> int:
    """Interest due on the ACTIVE loans not yet at maturity: the exact accrued sum, rounded once,
    less what they paid (never below zero, as a loan's own interest due)."""
    t = as_of.toordinal()
    accrued = sum(
        (
            (Fraction(counters[INTERCEPT[basis]]) + Fraction(counters[SLOPE[basis]]) * t) / basis.days_in_year
            for basis in DayCount
        ),
        Fraction(0),
    )
    return max(0, round_half_up(max(accrued, Fraction(0))) - int(counters[INTEREST_PAID]))
