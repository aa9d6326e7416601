"""Pay out an approved loan (use case behind the `LoanApproved` event).

APPROVED -> DISBURSING (with its payment order) is committed before the bank is called, so a
redelivery finds DISBURSING and asks the bank by payment id before sending again; the bank applies
one order per payment id. The outcome moves the loan once: ACTIVE with its posting, or FAILED with
the reservation released. Whatever is redelivered or crashes, the loan is paid out at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from aws_lambda_powertools import Logger

from scf.adapters.banks.base import (
    Account,
    BankGateway,
    Direction,
    PaymentOrder,
    PaymentStatus,
    execute,
    mask_account,
    payout_payment_id,
)
from scf.adapters.dynamodb.loan_repository import LoanRecord, LoanRepository, StaleWrite
from scf.clock import Clock
from scf.domain.ledger import disbursement_posting
from scf.domain.loan import LoanStatus

logger = Logger(child=True)

ATTEMPTS = 3  # reload-and-decide rounds when another worker moved the loan first


class Gateways(Protocol):
    def for_bank(self, bank_code: str) -> BankGateway: ...


class LoanNotFound(LookupError):
    pass


class SupplierAccountMissing(LookupError):
    pass


@dataclass(frozen=True)
class Disbursement:
    loans: LoanRepository
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
            raise SupplierAccountMissing(f"supplier {loan.supplier_id} has no bank account on file")
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
