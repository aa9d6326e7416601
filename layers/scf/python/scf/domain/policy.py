"""The credit policy: one versioned, frozen document of the contract's defaults (sections 3-6).

Every number a decision or a credit line uses comes from here, and every decision records the
`policy_version` it ran under, so an old decision can be re-explained after the policy changes.
Money limits are minor units; ratios and rates are Decimal (never float).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ORDERED = "ORDERED"
RECEIVED = "RECEIVED"
INVOICED = "INVOICED"
STAGES: tuple[str, ...] = (ORDERED, RECEIVED, INVOICED)


@dataclass(frozen=True)
class StageRule:
    stage: str
    ratio: Decimal  # advance ratio on the eligible open amount
    window_days: int  # eligible while the document's age is <= this


@dataclass(frozen=True)
class GradeRule:
    grade: str
    annual_rate: Decimal


@dataclass(frozen=True)
class CreditPolicy:
    policy_version: str = "2026-11-28.1"
    timezone: str = "Asia/Shanghai"

    # Section 4: pool stages, borrowing base, facility cap.
    stage_rules: tuple[StageRule, ...] = (
        StageRule(ORDERED, Decimal("0.30"), 60),
        StageRule(RECEIVED, Decimal("0.70"), 120),
        StageRule(INVOICED, Decimal("0.90"), 120),
    )
    facility_cap_max_minor: int = 5_000_000_000  # 50,000,000.00
    facility_cap_window_days: int = 180
    facility_cap_share_of_receipts: Decimal = Decimal("0.5")  # 3 x monthly average over 6 months

    # Section 5: request bounds.
    term_min_days: int = 15
    term_max_days: int = 90
    min_amount_minor: int = 100_000  # 1,000.00

    # Section 5: rules.
    short_history_days: int = 90
    dilution_window_days: int = 90
    high_dilution: Decimal = Decimal("0.10")
    sales_recent_days: int = 30
    sales_baseline_days: int = 90  # the 90 days before the recent window
    sales_drop_ratio: Decimal = Decimal("0.5")
    large_amount_minor: int = 1_000_000_000  # 10,000,000.00

    # Section 5: price.
    grade_a: GradeRule = GradeRule("A", Decimal("0.08"))
    grade_b: GradeRule = GradeRule("B", Decimal("0.10"))
    grade_c: GradeRule = GradeRule("C", Decimal("0.12"))
    grade_a_min_history_days: int = 730
    grade_a_max_dilution: Decimal = Decimal("0.03")
    grade_c_max_history_days: int = 180  # history below this is grade C
    grade_c_min_dilution: Decimal = Decimal("0.08")  # dilution above this is grade C

    # Section 3: loan terms fixed at approval.
    penalty_multiplier: Decimal = Decimal("1.5")
    day_count: str = "ACT/360"

    # Section 6: settlement sweep.
    sweep_enabled: bool = True
    sweep_ratio: Decimal = Decimal("1.00")

    def stage_rule(self, stage: str) -> StageRule:
        for rule in self.stage_rules:
            if rule.stage == stage:
                return rule
        raise KeyError(stage)

    @property
    def history_horizon_days(self) -> int:
        """How far back the pool must keep date buckets for any window of this policy."""
        return max(
            self.facility_cap_window_days,
            self.dilution_window_days,
            self.sales_recent_days + self.sales_baseline_days,
        )


DEFAULT_POLICY = CreditPolicy()
