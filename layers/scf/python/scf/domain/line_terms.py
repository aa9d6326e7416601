"""The terms of a credit line as a decision read them (per stage open and eligible amounts, the cap
window's goods receipts, the outstanding principal), stored with the decision. Pure: no I/O.

Invariant: `derive` under the policy version the decision ran under gives its `available` exactly
(docs/credit-policy.md, "Re-explaining").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from scf.domain.money import round_half_up
from scf.domain.policy import CreditPolicy
from scf.domain.pool import CreditLine, StageView


@dataclass(frozen=True)
class StageTerms:
    stage: str
    open_minor: int
    eligible_minor: int


@dataclass(frozen=True)
class LineTerms:
    as_of: date
    stages: tuple[StageTerms, ...]
    receipts_cap_window_minor: int
    outstanding_minor: int

    @classmethod
    def of(cls, line: CreditLine) -> LineTerms:
        return cls(
            line.as_of,
            tuple(StageTerms(v.stage, v.open_minor, v.eligible_minor) for v in line.stages),
            line.receipts_cap_window_minor,
            line.outstanding_minor,
        )

    def derive(self, policy: CreditPolicy) -> CreditLine:
        """The credit line these terms give under `policy`: the same arithmetic as the pool's own
        (`Pool.credit_line`; a property test holds the two together)."""
        views = tuple(
            StageView(
                s.stage,
                s.open_minor,
                s.eligible_minor,
                policy.stage_rule(s.stage).ratio,
                s.eligible_minor * policy.stage_rule(s.stage).ratio,
            )
            for s in self.stages
        )
        share = int(Decimal(self.receipts_cap_window_minor) * policy.facility_cap_share_of_receipts)
        return CreditLine(
            as_of=self.as_of,
            stages=views,
            borrowing_base_minor=round_half_up(sum((v.amount_exact for v in views), Decimal(0))),
            facility_cap_minor=min(policy.facility_cap_max_minor, share),
            receipts_cap_window_minor=self.receipts_cap_window_minor,
            outstanding_minor=self.outstanding_minor,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "stages": [[s.stage, s.open_minor, s.eligible_minor] for s in self.stages],
            "receipts_cap_window_minor": self.receipts_cap_window_minor,
            "outstanding_minor": self.outstanding_minor,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> LineTerms:
        return cls(
            date.fromisoformat(stored["as_of"]),
            tuple(StageTerms(str(stage), int(o), int(e)) for stage, o, e in stored["stages"]),
            int(stored["receipts_cap_window_minor"]),
            int(stored["outstanding_minor"]),
        )
