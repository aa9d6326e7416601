"""Settlement sweep (contract section 6; docs/ingestion.md, "Settlement sweeps"): the policy's
share of a PAYMENT repays the supplier's loans, earliest maturity first (then loan id), each up to
its payoff; the rest is released. Invariant: written with its document, so swept exactly once."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from scf.domain.money import format_amount, round_half_up

SWEEP_ID_PREFIX = "RS"
# The document, its pool, the sweep item and 2 actions per loan fit TransactWriteItems' 100 actions.
MAX_LOANS_PER_SWEEP = 48


def sweep_repayment_id(supplier_id: str, document_id: str, loan_id: str) -> str:
    """28 characters, like every repayment id (<= 35: it may travel as an end-to-end id)."""
    digest = hashlib.sha256(f"SWEEP\x00{supplier_id}\x00{document_id}\x00{loan_id}".encode()).digest()
    return SWEEP_ID_PREFIX + base64.b32encode(digest).decode()[:26]


@dataclass(frozen=True)
class OpenLoan:
    loan_id: str
    maturity_date: date
    payoff_minor: int  # as of the business date, less repayments requested but not yet applied


@dataclass(frozen=True)
class SweptLoan:
    loan_id: str
    amount_minor: int
    repayment_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "amount": format_amount(self.amount_minor),
            "repayment_id": self.repayment_id,
        }


@dataclass(frozen=True)
class Sweep:
    document_id: str
    supplier_id: str
    currency: str
    amount_minor: int
    swept: tuple[SweptLoan, ...]
    released_minor: int
    paid_on: date | None = None  # the PAYMENT's document date: its repayments' value date (s.3)

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "supplier_id": self.supplier_id,
            "currency": self.currency,
            "amount": format_amount(self.amount_minor),
            "swept": [s.to_json() for s in self.swept],
            "released": format_amount(self.released_minor),
        }


def plan_sweep(
    supplier_id: str,
    document_id: str,
    currency: str,
    amount_minor: int,
    loans: list[OpenLoan],
    *,
    ratio: Decimal,
    paid_on: date | None = None,
) -> Sweep:
    """`ratio` of the payment (the policy's `sweep_ratio`, half-up to the minor unit) is swept,
    earliest maturity first, then loan id, each loan up to its payoff, at most MAX_LOANS_PER_SWEEP
    loans; the rest of the payment is released."""
    sweepable = round_half_up(amount_minor * ratio)
    remaining = sweepable
    swept: list[SweptLoan] = []
    for loan in sorted(loans, key=lambda item: (item.maturity_date, item.loan_id)):
        if remaining <= 0 or len(swept) == MAX_LOANS_PER_SWEEP:
            break
        take = min(remaining, loan.payoff_minor)
        if take <= 0:
            continue
        swept.append(
            SweptLoan(loan.loan_id, take, sweep_repayment_id(supplier_id, document_id, loan.loan_id))
        )
        remaining -= take
    return Sweep(
        document_id,
        supplier_id,
        currency,
        amount_minor,
        tuple(swept),
        amount_minor - sweepable + remaining,
        paid_on,
    )
