"""Loan views (contract section 8 field names, every amount as of the business date) and the
extension use case (contract section 3: once per loan, decided on the latest stored loan)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from scf.clock import Clock
from scf.domain.ledger import extension_posting
from scf.domain.loan import LoanStatus, Repayment
from scf.domain.money import format_amount
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.domain.pool import Pool
from scf.service.loan_store import (
    ATTEMPTS,
    LoanNotFound,
    LoanRecord,
    LoanStore,
    RepaymentNotFound,
    StaleWrite,
)


def repayment_view(repayment: Repayment) -> dict[str, Any]:
    return {
        "repayment_id": repayment.repayment_id,
        "loan_id": repayment.loan_id,
        "status": repayment.status.value,
        "source": repayment.source.value,
        "amount": format_amount(repayment.amount_minor),
        "currency": repayment.currency,
        "allocation": repayment.allocation.as_money() if repayment.allocation else None,
        "value_date": repayment.value_date.isoformat() if repayment.value_date else None,
        "failure_reason": repayment.failure_reason,
    }


def extension_request_hash(supplier_id: str, idempotency_key: str | None) -> str:
    return hashlib.sha256(f"{supplier_id}\x00{idempotency_key or ''}".encode()).hexdigest()


@dataclass(frozen=True)
class LoanService:
    loans: LoanStore
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY

    def view(self, record: LoanRecord, repayments: list[Repayment] | None) -> dict[str, Any]:
        loan = record.loan
        position = loan.position(self.clock.today())
        out: dict[str, Any] = {
            "loan_id": loan.loan_id,
            "status": position.status.value,
            "currency": loan.currency,
            "principal": format_amount(loan.principal_minor),
            "outstanding_principal": format_amount(position.outstanding_principal),
            "interest_due": format_amount(position.interest_due),
            "penalty_due": format_amount(position.penalty_due),
            "payoff": format_amount(position.payoff),
            "annual_rate": str(loan.annual_rate),
            "day_count": loan.day_count.value,
            "term_days": loan.term_days,
            "value_date": loan.value_date.isoformat() if loan.value_date else None,
            "maturity_date": loan.maturity_date.isoformat() if loan.maturity_date else None,
            "extended": loan.extended,
            "interest_paid": format_amount(loan.interest_paid_minor),
            "penalty_paid": format_amount(loan.penalty_paid_minor),
            "overpayment": format_amount(loan.overpayment_minor),
            "refunded": format_amount(loan.refunded_minor),
            "refund_pending": format_amount(loan.refund_pending_minor),
            "as_of": position.as_of.isoformat(),
            "created_at": record.created_at,
        }
        if repayments is not None:
            out["repayments"] = [repayment_view(r) for r in repayments]
        return out

    def _own(self, supplier_id: str, loan_id: str) -> LoanRecord:
        record = self.loans.get_loan(loan_id)
        if record is None or record.loan.supplier_id != supplier_id:
            raise LoanNotFound(loan_id)  # another supplier's loan is as absent as an unknown one
        return record

    def get(self, supplier_id: str, loan_id: str) -> dict[str, Any]:
        record = self._own(supplier_id, loan_id)
        return self.view(record, self.loans.repayments_of(loan_id))

    def list(self, supplier_id: str, *, limit: int, next_token: str | None) -> dict[str, Any]:
        """Newest first; list items carry every loan field but `repayments` (see the loan itself)."""
        page = self.loans.loans_of(supplier_id, limit=limit, next_token=next_token)
        return {"items": [self.view(record, None) for record in page.items], "next_token": page.next_token}

    def repayment(self, supplier_id: str, repayment_id: str) -> dict[str, Any]:
        repayment = self.loans.get_repayment(repayment_id)
        if repayment is None or repayment.supplier_id != supplier_id:
            raise RepaymentNotFound(repayment_id)
        return repayment_view(repayment)

    def extend(self, supplier_id: str, loan_id: str, idempotency_key: str | None) -> dict[str, Any]:
        """Extend per contract section 3 (raises `ExtensionRefused` with the reason)."""
        request = extension_request_hash(supplier_id, idempotency_key)
        for _ in range(ATTEMPTS):
            record = self._own(supplier_id, loan_id)
            if record.loan.extended and idempotency_key and record.extension_request == request:
                break  # a retry of the request that extended it: the same answer
            try:
                self._extend(record, request)
                break
            except StaleWrite:
                continue  # a concurrent request or repayment moved the loan: decide again
        else:
            raise StaleWrite([f"loan {loan_id} kept changing"])
        return self.get(supplier_id, loan_id)

    def _extend(self, record: LoanRecord, request: str) -> None:
        today = self.clock.today()
        loan = record.loan
        other_overdue = any(
            other.loan.loan_id != loan.loan_id and other.loan.status_on(today) is LoanStatus.OVERDUE
            for other in self.loans.all_loans_of(loan.supplier_id)
        )
        pool = Pool.from_state(self.loans.pool_state(loan.supplier_id, loan.currency))
        borrowing_base = pool.credit_line(today, self.policy, 0).borrowing_base_minor
        outcome = loan.extend(
            today,
            other_loan_overdue=other_overdue,
            borrowing_base_minor=borrowing_base,
            terms=self.policy.extension,
        )
        reclassification = (
            extension_posting(loan.loan_id, outcome.penalty_reclassified)
            if outcome.penalty_reclassified
            else None
        )
        self.loans.extend(
            record,
            outcome.loan,
            reclassification=reclassification,
            overdue_delta=outcome.overdue_delta,
            request_hash=request,
            now=self.clock.now().isoformat(),
        )
