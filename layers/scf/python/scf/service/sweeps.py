"""Settlement sweep (contract section 6): a PAYMENT document to a supplier with loans to repay is
applied to them, earliest maturity first (then loan id), each paid off up to its payoff as of the
business date before the next; the rest is released to the supplier.

The plan is pure (`plan_sweep`). It is written in the transaction that writes the PAYMENT document
itself (scf.service.documents): the sweep item `SWEEP#<document_id>`, a SETTLEMENT_SWEEP repayment
per loan and its `RepaymentRequested` outbox event. A document is written once, so it is swept once:
a redelivered or resumed file, or the same document in another file, never sweeps it again, and a
crash can never leave a document applied but not swept. A payment to a supplier with nothing to
repay writes no sweep item (its report entry says everything was released). Repayment ids come
from the document and the loan.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from scf.domain.money import format_amount

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
    supplier_id: str, document_id: str, currency: str, amount_minor: int, loans: list[OpenLoan]
) -> Sweep:
    """Earliest maturity first, then loan id; each loan takes up to its payoff; the rest is released.
    At most MAX_LOANS_PER_SWEEP loans take part (the rest of the money is released)."""
    remaining = amount_minor
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
    return Sweep(document_id, supplier_id, currency, amount_minor, tuple(swept), remaining)
