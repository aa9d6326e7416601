"""Pay out an approved loan (the use case behind `LoanApproved`).

Invariant: whatever is redelivered or crashes, a loan is paid out at most once and moves once, to
ACTIVE with its posting or to FAILED with its reservation released (docs/money.md, "Payouts and
collections").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ledger import disbursement_posting
from scf.domain.loan import LoanStatus
from scf.service.loan_store import (
    ATTEMPTS,
    LoanNotFound,
    LoanRecord,
    LoanStore,
    StaleWrite,
    SupplierAccountMissing,
)
from scf.service.payments import (
    Account,
    Direction,
    Gateways,
    PaymentOrder,
    PaymentStatus,
    execute,
    mask_account,
    payout_payment_id,
)

logger = Logger(child=True)


@dataclass(frozen=True)
class PayoutService:
    loans: LoanStore
    gateways: Gateways
    lender: Account
    clock: Clock

    def disburse(self, loan_id: str) -> LoanStatus:
        """Drive the loan to a final disbursement state; returns that state."""
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

    def _pay_out(self, record: LoanRecord) -> LoanStatus:
        loan = record.loan
        supplier = self.loans.get_supplier_account(loan.supplier_id)
        if supplier is None:
            raise SupplierAccountMissing(loan.supplier_id)
        payment_id = payout_payment_id(loan.loan_id)
        now = self.clock.now().isoformat()
        maybe_sent = loan.status is LoanStatus.DISBURSING
        if loan.status is LoanStatus.APPROVED:
            disbursing = loan.start_disbursement()
            self.loans.start_disbursement(record, disbursing, payment_id, supplier.bank_code, now)
            record = replace(record, loan=disbursing, version=(record.version or 0) + 1)
        order = PaymentOrder(
            payment_id=payment_id,
            direction=Direction.PAYOUT,
            amount_minor=loan.principal_minor,
            currency=loan.currency,
            debtor=self.lender,
            creditor=supplier,
            remittance=loan.loan_id,
        )
        logger.info(
            "paying out",
            extra={
                "loan_id": loan.loan_id,
                "payment_id": payment_id,
                "amount_minor": loan.principal_minor,
                "creditor": f"{supplier.bank_code}/{mask_account(supplier.account_number)}",
                "ask_bank_first": maybe_sent,
            },
        )
        result = execute(self.gateways.for_bank(supplier.bank_code), order, maybe_sent=maybe_sent)
        now = self.clock.now().isoformat()
        if result.status is PaymentStatus.SETTLED:
            assert result.value_date is not None  # the adapter guarantees it for SETTLED
            active = record.loan.activate(result.value_date)
            posting = disbursement_posting(payment_id, active.principal_minor)
            self.loans.complete_disbursement(record, active, result, posting, now)
            logger.info("paid out", extra={**result.log_fields(), "value_date": str(result.value_date)})
            return active.status
        failed = record.loan.fail()
        self.loans.fail_disbursement(record, failed, result, now)
        logger.warning("bank rejected the payout", extra=result.log_fields())
        return failed.status
