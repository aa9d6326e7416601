"""Financing decisions (contract section 5): request validation, the rules in order, grade and price.

Pure: the caller gathers the inputs (supplier profile, pool metrics, exposure, available amount) and
gets back a decision that names every rule that fired. DECLINE beats REVIEW beats APPROVED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from scf.domain.money import MoneyError, format_amount, parse_amount, parse_currency
from scf.domain.policy import CreditPolicy
from scf.domain.pool import PoolMetrics
from scf.errors import InvalidInput

APPROVED = "APPROVED"
DECLINED = "DECLINED"
REVIEW = "REVIEW"

SUPPLIER_INACTIVE = "SUPPLIER_INACTIVE"
HAS_OVERDUE_LOAN = "HAS_OVERDUE_LOAN"
AMOUNT_EXCEEDS_AVAILABLE = "AMOUNT_EXCEEDS_AVAILABLE"
SHORT_HISTORY = "SHORT_HISTORY"
HIGH_DILUTION = "HIGH_DILUTION"
SALES_DROP = "SALES_DROP"
LARGE_AMOUNT = "LARGE_AMOUNT"
BANK_ACCOUNT_UNVERIFIED = "BANK_ACCOUNT_UNVERIFIED"
# Contract section 5: these rules decline; every other rule that fires holds the application for review.
DECLINE_CODES = frozenset({SUPPLIER_INACTIVE, HAS_OVERDUE_LOAN, AMOUNT_EXCEEDS_AVAILABLE})


class RequestError(InvalidInput):
    """A request outside the bounds: answered 422 naming `field`, never decided."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message, code=code, field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class ApplicationRequest:
    amount_minor: int
    currency: str
    term_days: int

    def canonical(self) -> dict[str, Any]:
        """The request in one canonical form (compared on idempotent retries)."""
        return {
            "amount": format_amount(self.amount_minor),
            "currency": self.currency,
            "term_days": self.term_days,
        }


def parse_application(body: dict[str, Any], policy: CreditPolicy) -> ApplicationRequest:
    for name in ("amount", "currency", "term_days"):
        if name not in body:
            raise RequestError(name, "REQUIRED", "is required")
    try:
        amount = parse_amount(body["amount"])
    except MoneyError as exc:
        raise RequestError("amount", exc.code, exc.message) from exc
    if amount < policy.min_amount_minor:
        raise RequestError(
            "amount", "AMOUNT_TOO_SMALL", f"must be at least {format_amount(policy.min_amount_minor)}"
        )
    try:
        currency = parse_currency(body["currency"])
    except MoneyError as exc:
        raise RequestError("currency", exc.code, exc.message) from exc
    term = body["term_days"]
    if isinstance(term, bool) or not isinstance(term, int):
        raise RequestError("term_days", "INVALID_TERM", "must be an integer number of days")
    if not policy.term_min_days <= term <= policy.term_max_days:
        raise RequestError(
            "term_days", "TERM_OUT_OF_RANGE", f"must be from {policy.term_min_days} to {policy.term_max_days}"
        )
    return ApplicationRequest(amount, currency, term)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    @property
    def declines(self) -> bool:
        """This rule declines the application (else it holds it for review)."""
        return self.code in DECLINE_CODES


@dataclass(frozen=True)
class DecisionInputs:
    """Everything a decision reads; stored with the application so it can be re-explained."""

    supplier_status: str | None  # None: no supplier master data
    account_verified: bool
    overdue_loans: int
    available_minor: int
    metrics: PoolMetrics

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        dilution = self.metrics.dilution
        out["metrics"]["dilution"] = None if dilution is None else str(dilution)
        return out

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> DecisionInputs:
        """The inputs as stored with an application (`to_json`; extra keys such as `limit` are
        explanations for people and ignored here)."""
        metrics = {
            name: stored["metrics"][name]
            for name in PoolMetrics.__dataclass_fields__  # `dilution` is derived, not stored input
        }
        return cls(
            supplier_status=stored["supplier_status"],
            account_verified=bool(stored["account_verified"]),
            overdue_loans=int(stored["overdue_loans"]),
            available_minor=int(stored["available_minor"]),
            metrics=PoolMetrics(**metrics),
        )


def is_overdue(maturity_date: date, today: date) -> bool:
    """Contract section 3: from maturity_date on, an unextended, unpaid loan is OVERDUE. The one
    test used by the decision (open loans on the exposure item) and by `Loan.status_on`."""
    return maturity_date <= today


def overdue_count(open_maturities: Mapping[str, date], stored_overdue: int, today: date) -> int:
    """How many of the supplier's loans are overdue on `today`: loans whose stored status is OVERDUE
    and loans still ACTIVE in storage whose maturity has come (nobody touched them since). Both are
    lower bounds of the truth, so the larger one is taken."""
    matured = sum(1 for maturity in open_maturities.values() if is_overdue(maturity, today))
    return max(stored_overdue, matured)


@dataclass(frozen=True)
class Decision:
    status: str
    reasons: tuple[Reason, ...]
    grade: str
    annual_rate: Decimal
    policy_version: str

    def reasons_json(self) -> list[dict[str, str]]:
        return [{"code": r.code, "message": r.message} for r in self.reasons]


def fired_rules(request: ApplicationRequest, inputs: DecisionInputs, policy: CreditPolicy) -> list[Reason]:
    """Every rule of section 5 that fires, in the contract's order."""
    m = inputs.metrics
    reasons: list[Reason] = []
    if inputs.supplier_status != "ACTIVE":
        status = inputs.supplier_status or "unknown (no master data)"
        reasons.append(Reason(SUPPLIER_INACTIVE, f"supplier status is {status}, not ACTIVE"))
    if inputs.overdue_loans > 0:
        reasons.append(Reason(HAS_OVERDUE_LOAN, f"supplier has {inputs.overdue_loans} overdue loan(s)"))
    if request.amount_minor > inputs.available_minor:
        reasons.append(
            Reason(
                AMOUNT_EXCEEDS_AVAILABLE,
                f"amount {format_amount(request.amount_minor)} exceeds available "
                f"{format_amount(inputs.available_minor)}",
            )
        )
    if m.history_days is None or m.history_days < policy.short_history_days:
        history = (
            "no goods receipt yet"
            if m.history_days is None
            else f"first goods receipt {m.history_days} days ago"
        )
        reasons.append(Reason(SHORT_HISTORY, f"{history} (less than {policy.short_history_days})"))
    dilution = m.dilution
    if dilution is None or dilution > policy.high_dilution:
        shown = "returns without goods receipts" if dilution is None else f"{dilution:.4f}"
        reasons.append(
            Reason(
                HIGH_DILUTION,
                f"returns / goods receipts over the last {policy.dilution_window_days} days is {shown} "
                f"(above {policy.high_dilution})",
            )
        )
    if m.sales_baseline_minor > 0:
        monthly = Decimal(m.sales_baseline_minor) * 30 / policy.sales_baseline_days
        if Decimal(m.sales_recent_minor) < policy.sales_drop_ratio * monthly:
            reasons.append(
                Reason(
                    SALES_DROP,
                    f"sales in the last {policy.sales_recent_days} days "
                    f"{format_amount(m.sales_recent_minor)} are below {policy.sales_drop_ratio} x "
                    f"the monthly average {format_amount(int(monthly))} "
                    f"of the {policy.sales_baseline_days} days before",
                )
            )
    if request.amount_minor > policy.large_amount_minor:
        reasons.append(Reason(LARGE_AMOUNT, f"amount is above {format_amount(policy.large_amount_minor)}"))
    if not inputs.account_verified:
        reasons.append(Reason(BANK_ACCOUNT_UNVERIFIED, "supplier's bank account is not verified"))
    return reasons


def grade(metrics: PoolMetrics, policy: CreditPolicy) -> tuple[str, Decimal]:
    history = metrics.history_days if metrics.history_days is not None else -1
    dilution = metrics.dilution
    if (
        history < policy.grade_c_max_history_days
        or dilution is None
        or dilution > policy.grade_c_min_dilution
    ):
        return policy.grade_c.grade, policy.grade_c.annual_rate
    if history >= policy.grade_a_min_history_days and dilution <= policy.grade_a_max_dilution:
        return policy.grade_a.grade, policy.grade_a.annual_rate
    return policy.grade_b.grade, policy.grade_b.annual_rate


def decide(request: ApplicationRequest, inputs: DecisionInputs, policy: CreditPolicy) -> Decision:
    reasons = fired_rules(request, inputs, policy)
    status = DECLINED if any(r.declines for r in reasons) else REVIEW if reasons else APPROVED
    letter, rate = grade(inputs.metrics, policy)
    return Decision(status, tuple(reasons), letter, rate, policy.policy_version)
