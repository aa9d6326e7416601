"""What a bank's answer about one of our payments does (contract sections 6 and 7): the port the
statement matcher calls for every pain.002 status and every booking of one of our payment ids.

Invariant: a payment's final outcome is recorded once, with its effect on the loan in the same
write, and every answer from the bank it went through is kept on it, never overwritten
(docs/money.md, "Bank answers").
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.service.disbursement import reject_payout, settle_payout
from scf.service.loan_store import ATTEMPTS, Effect, LoanStore, PaymentRecord, StaleWrite
from scf.service.metrics import NO_METRICS, Metrics
from scf.service.payments import Direction, PaymentReport, PaymentStatus, mask_accounts_in
from scf.service.refunds import close_refund
from scf.service.repayment import close_collection
from scf.service.statements import PaymentOutcomes

logger = Logger(child=True)

__all__ = ["Effect", "PaymentOutcomeService"]


@dataclass(frozen=True)
class PaymentOutcomeService(PaymentOutcomes):
    loans: LoanStore
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY
    metrics: Metrics = NO_METRICS

    def apply(self, report: PaymentReport) -> Effect:
        for _ in range(ATTEMPTS):
            payment = self.loans.get_payment(report.payment_id)
            if payment is None:
                return Effect.UNKNOWN_PAYMENT
            if report.bank_code != payment.bank_code:
                # Another bank cannot speak for this payment: nothing is kept or changed.
                return self._logged(report, Effect.NOT_SENDERS_PAYMENT)
            try:
                return self._logged(report, self._apply(payment, report))
            except StaleWrite:
                logger.info(
                    "payment moved while applying a report; reloading",
                    extra={"payment_id": report.payment_id},
                )
        raise StaleWrite([f"payment {report.payment_id} kept changing"])

    def _apply(self, payment: PaymentRecord, report: PaymentReport) -> Effect:
        now = self.clock.now().isoformat()
        recorded = payment.final
        if recorded is not None or not report.status.final:
            effect = self._after_the_outcome(payment, report, recorded)
            self.loans.record_report(payment.payment_id, report, effect, now)
            return effect
        if payment.refund is not None:
            return close_refund(self.loans, payment, report, self.clock)
        if payment.direction is Direction.PAYOUT:
            return self._payout(payment, report, now)
        return self._collection(payment, report)

    @staticmethod
    def _after_the_outcome(
        payment: PaymentRecord, report: PaymentReport, recorded: PaymentStatus | None
    ) -> Effect:
        """A report that changes nothing on the loan: not final, a repeat, or a contradiction."""
        if recorded is None or not report.status.final or report.status is recorded:
            return Effect.RECORDED
        if payment.direction is Direction.PAYOUT and recorded is PaymentStatus.SETTLED:
            return Effect.PAYOUT_RETURNED  # the money left and came back: ops decide
        return Effect.OUTCOME_CONFLICT  # e.g. a collection returned after it settled: ops decide

    def _payout(self, payment: PaymentRecord, report: PaymentReport, now: str) -> Effect:
        record = self.loans.get_loan(payment.loan_id)
        if record is None or record.loan.status is not LoanStatus.DISBURSING:
            raise StaleWrite([f"loan {payment.loan_id} is not DISBURSING while its payout is open"])
        if report.status is PaymentStatus.SETTLED:
            settle_payout(self.loans, record, report, self.clock.today(), now, self.metrics)
            return Effect.SETTLED
        reject_payout(self.loans, record, report, now, self.metrics)
        return Effect.REJECTED

    def _collection(self, payment: PaymentRecord, report: PaymentReport) -> Effect:
        repayment = self.loans.get_repayment(payment.payment_id)
        record = self.loans.get_loan(payment.loan_id)
        if repayment is None or record is None or repayment.status is not RepaymentStatus.PENDING:
            raise StaleWrite([f"repayment {payment.payment_id} is not PENDING while its collection is open"])
        status = close_collection(
            self.loans, record, repayment, report, self.clock, self.policy, metrics=self.metrics
        )
        return Effect.SETTLED if status is RepaymentStatus.APPLIED else Effect.REJECTED

    @staticmethod
    def _logged(report: PaymentReport, effect: Effect) -> Effect:
        logger.info(
            "bank report applied",
            extra={
                "payment_id": report.payment_id,
                "bank_code": report.bank_code,
                "source": report.source,
                "status": report.status.value,
                "reason": mask_accounts_in(report.reason),
                "effect": effect.value,
            },
        )
        return effect
