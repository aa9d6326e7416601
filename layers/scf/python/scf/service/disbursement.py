"""Pay out an approved loan (the use case behind `LoanApproved`).

Invariant: whatever is redelivered or crashes, a loan is paid out at most once, to the account
recorded on it at approval, and moves once: to ACTIVE with its posting or to FAILED with its
reservation released; while the bank holds the order (PENDING) it stays DISBURSING until a report
closes it (docs/money.md, "Payouts and collections").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ledger import disbursement_posting
from scf.domain.loan import LoanStatus
from scf.errors import InvalidInput
from scf.service.banks import BankDirectory, Route
from scf.service.loan_store import (
    ATTEMPTS,
    Effect,
    LoanNotFound,
    LoanRecord,
    LoanStore,
    PaymentRecord,
    StaleWrite,
    SupplierAccountMissing,
    api_report,
)
from scf.service.metrics import APPROVAL_TO_ACTIVE, NO_METRICS, PAYOUTS, Metrics, Unit
from scf.service.payments import (
    Account,
    Direction,
    Gateways,
    PaymentOrder,
    PaymentReport,
    PaymentStatus,
    execute,
    mask_account,
    payout_payment_id,
)

logger = Logger(child=True)


def route_for(account: Account, banks: BankDirectory | None, lender: Account | None) -> Route:
    """Through the bank directory when configured (contract section 7), else the supplier's own
    bank from the one lender account."""
    if banks is not None:
        return banks.route(account)
    if lender is None:
        raise InvalidInput("neither a bank directory nor a lender account is configured", field="BANKS")
    return Route(bank_code=account.bank_code, lender=lender, on_us=account.bank_code == lender.bank_code)


def settle_payout(
    loans: LoanStore,
    record: LoanRecord,
    report: PaymentReport,
    today: date,
    now: str,
    metrics: Metrics = NO_METRICS,
) -> None:
    """DISBURSING -> ACTIVE from the bank's settlement date (today if the answer has none)."""
    active = record.loan.activate(report.value_date or today)
    posting = disbursement_posting(report.payment_id, active.principal_minor)
    loans.complete_disbursement(record, active, report, posting, now)
    metrics.put(PAYOUTS, 1, bank=report.bank_code, outcome=PaymentStatus.SETTLED.value)
    metrics.put(APPROVAL_TO_ACTIVE, seconds_between(record.created_at, now), Unit.SECONDS)


def reject_payout(
    loans: LoanStore, record: LoanRecord, report: PaymentReport, now: str, metrics: Metrics = NO_METRICS
) -> None:
    """DISBURSING -> FAILED, its reservation released, in one write."""
    loans.fail_disbursement(record, record.loan.fail(), report, now)
    metrics.put(PAYOUTS, 1, bank=report.bank_code, outcome=PaymentStatus.REJECTED.value)


def seconds_between(earlier: str, later: str) -> int:
    """Whole seconds from one stored ISO-8601 moment to another (`Z` or an offset)."""
    start = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    end = datetime.fromisoformat(later.replace("Z", "+00:00"))
    return max(0, int((end - start).total_seconds()))


@dataclass(frozen=True)
class PayoutService:
    loans: LoanStore
    gateways: Gateways
    clock: Clock
    lender: Account | None = field(default=None, kw_only=True)
    banks: BankDirectory | None = field(default=None, kw_only=True)
    metrics: Metrics = field(default=NO_METRICS, kw_only=True)

    def disburse(self, loan_id: str) -> LoanStatus:
        """Drive the loan as far as the bank's answer allows; returns its state (DISBURSING while
        the bank holds the order)."""
        for _ in range(ATTEMPTS):
            record = self.loans.get_loan(loan_id)
            if record is None:
                raise LoanNotFound(loan_id)
            if record.loan.status not in (LoanStatus.APPROVED, LoanStatus.DISBURSING):
                return record.loan.status  # already paid out, or failed: nothing left to do
            try:
                return self._pay_out(record)
            except StaleWrite:
                logger.info("loan moved while disbursing; reloading", extra={"loan_id": loan_id})
        raise StaleWrite([f"loan {loan_id} kept changing"])

    def pay_again(self, payment: PaymentRecord) -> LoanStatus:
        """A payout its bank never received (the daily inquiry): asked about once more, then sent
        again with the same payment id, to the account and bank recorded on it."""
        return self.disburse(payment.loan_id)

    def _pay_out(self, record: LoanRecord) -> LoanStatus:
        loan = record.loan
        payment_id = payout_payment_id(loan.loan_id)
        payment = self.loans.get_payment(payment_id) if loan.status is LoanStatus.DISBURSING else None
        if payment is not None and payment.final is not None:
            return loan.status  # a report settled it; the loan write is being retried by its writer
        creditor = (payment.account if payment else None) or record.payout_account
        if creditor is None:  # a loan approved before accounts were recorded on loans
            creditor = self.loans.get_supplier_account(loan.supplier_id)
        if creditor is None:
            raise SupplierAccountMissing(loan.supplier_id)
        route = route_for(creditor, self.banks, self.lender)
        bank_code = payment.bank_code if payment else route.bank_code
        now = self.clock.now().isoformat()
        maybe_sent = loan.status is LoanStatus.DISBURSING
        if loan.status is LoanStatus.APPROVED:
            disbursing = loan.start_disbursement()
            self.loans.start_disbursement(record, disbursing, payment_id, bank_code, now, account=creditor)
            # As stored now: the write counted the loan in the portfolio (`LoanRecord.counted`).
            record = replace(record, loan=disbursing, version=(record.version or 0) + 1, counted=True)
        order = PaymentOrder(
            payment_id=payment_id,
            direction=Direction.PAYOUT,
            amount_minor=loan.principal_minor,
            currency=loan.currency,
            debtor=route.lender,
            creditor=creditor,
            remittance=loan.loan_id,
        )
        logger.info(
            "paying out",
            extra={
                "loan_id": loan.loan_id,
                "payment_id": payment_id,
                "amount_minor": loan.principal_minor,
                "bank_code": bank_code,
                "creditor": f"{creditor.bank_code}/{mask_account(creditor.account_number)}",
                "ask_bank_first": maybe_sent,
            },
        )
        result = execute(self.gateways.for_bank(bank_code), order, maybe_sent=maybe_sent)
        report = api_report(result, bank_code)
        now = self.clock.now().isoformat()
        if result.status is PaymentStatus.SETTLED:
            settle_payout(self.loans, record, report, self.clock.today(), now, self.metrics)
            logger.info("paid out", extra={**result.log_fields(), "value_date": str(result.value_date)})
            return LoanStatus.ACTIVE
        if result.status is PaymentStatus.REJECTED:
            reject_payout(self.loans, record, report, now, self.metrics)
            logger.warning("bank rejected the payout", extra=result.log_fields())
            return LoanStatus.FAILED
        self.loans.record_report(payment_id, report, Effect.RECORDED, now)
        self.metrics.put(PAYOUTS, 1, bank=bank_code, outcome=PaymentStatus.PENDING.value)
        logger.info("the bank holds the payout; a report will close it", extra=result.log_fields())
        return LoanStatus.DISBURSING
