"""The ops loan view's reader (`scf.service.loan_history.LoanHistoryReader`) on the business table:
the loan, its payments and its repayments with the timestamps their items keep, and the review of
the application it came from. Reads by key (one query for the repayments), strongly consistent."""

from __future__ import annotations

from scf.adapters.dynamodb.loan_repository import _loan, _payment, _repayment
from scf.adapters.dynamodb.models import ApplicationItem, LoanItem, PaymentItem, RepaymentItem
from scf.service.loan_history import (
    LoanHistoryReader,
    StoredApplication,
    StoredLoan,
    StoredPayment,
    StoredRepayment,
)


class DynamoLoanHistoryReader(LoanHistoryReader):
    def loan(self, loan_id: str) -> StoredLoan | None:
        try:
            item = LoanItem.get(*LoanItem.key(loan_id), consistent_read=True)
        except LoanItem.DoesNotExist:
            return None
        return StoredLoan(record=_loan(item), application_id=item.application_id)

    def repayments(self, loan_id: str) -> list[StoredRepayment]:
        """gsi1 LOAN#<id>#REPAYMENTS, oldest first."""
        query = RepaymentItem.by_loan.query(f"LOAN#{loan_id}#REPAYMENTS", scan_index_forward=True)
        return [
            StoredRepayment(_repayment(item), item.created_at, item.updated_at)
            for item in query
            if isinstance(item, RepaymentItem)
        ]

    def payments(self, payment_ids: list[str]) -> dict[str, StoredPayment]:
        keys = [PaymentItem.key(payment_id) for payment_id in dict.fromkeys(payment_ids)]
        return {
            item.payment_id: StoredPayment(record=_payment(item), created_at=item.created_at)
            for item in PaymentItem.batch_get(keys, consistent_read=True)
        }

    def application(self, application_id: str) -> StoredApplication | None:
        try:
            item = ApplicationItem.get(*ApplicationItem.key(application_id), consistent_read=True)
        except ApplicationItem.DoesNotExist:
            return None
        return StoredApplication(
            status=item.status,
            created_at=item.created_at,
            reasons=list(item.reasons or []),
            review=dict(item.review) if item.review else None,
        )
