"""The loan store port: what the loan services read and the all-or-nothing writes they ask for.
Invariant of every implementation: a write's conditions all hold or nothing is written (a status
moves once, a posting or payment order is written once, exposure never goes below zero); otherwise
`StaleWrite`, and the caller reloads and decides again (docs/money.md, "Ports of the loan side").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from scf.domain.ledger import Posting
from scf.domain.loan import Loan, Repayment
from scf.errors import Contention, NotFound
from scf.events import OutboxEvent
from scf.service.payments import Account, PaymentResult

ATTEMPTS = 3  # reload-and-decide rounds after a StaleWrite, when another worker moved the loan first


class StaleWrite(Contention):
    """A condition of the write failed: someone else moved first. Reload and decide again."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


class LoanNotFound(NotFound):
    """No such loan for this caller (another supplier's loan is as absent as an unknown one)."""

    def __init__(self, loan_id: str) -> None:
        super().__init__(f"loan {loan_id} was not found")
        self.loan_id = loan_id


class RepaymentNotFound(NotFound):
    """No such repayment for this caller."""

    def __init__(self, repayment_id: str) -> None:
        super().__init__(f"repayment {repayment_id} was not found")
        self.repayment_id = repayment_id


class SupplierAccountMissing(NotFound):
    """The supplier has no bank account on file to pay out to or collect from."""

    default_code = "SUPPLIER_ACCOUNT_MISSING"

    def __init__(self, supplier_id: str) -> None:
        super().__init__(f"supplier {supplier_id} has no bank account on file")
        self.supplier_id = supplier_id


@dataclass(frozen=True)
class LoanRecord:
    """A loan as stored: the domain object and what optimistic locking needs."""

    loan: Loan
    version: int | None
    created_at: str
    extension_request: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[LoanRecord]
    next_token: str | None


class LoanStore(Protocol):
    # -- reads (strongly consistent: every decision made on them is about money) -------------------

    def get_loan(self, loan_id: str) -> LoanRecord | None: ...

    def get_supplier_account(self, supplier_id: str) -> Account | None: ...

    def get_repayment(self, repayment_id: str) -> Repayment | None: ...

    def repayments_of(self, loan_id: str) -> list[Repayment]:
        """A loan's repayments, oldest first."""
        ...

    def loans_of(self, supplier_id: str, *, limit: int, next_token: str | None) -> Page:
        """A supplier's loans, newest first, one page (a token of another list is `BadPageToken`)."""
        ...

    def all_loans_of(self, supplier_id: str) -> list[LoanRecord]: ...

    def pool_state(self, supplier_id: str, currency: str) -> dict[str, Any] | None:
        """The supplier's receivables pool (`scf.domain.pool` state), None before any document."""
        ...

    # -- disbursement ---------------------------------------------------------------------------------

    def start_disbursement(
        self, record: LoanRecord, loan: Loan, payment_id: str, bank_code: str, now: str
    ) -> None:
        """APPROVED -> DISBURSING with its payment order (written once)."""
        ...

    def complete_disbursement(
        self, record: LoanRecord, loan: Loan, result: PaymentResult, posting: Posting, now: str
    ) -> None:
        """DISBURSING -> ACTIVE, the payment SETTLED, the posting and the open-loan entry."""
        ...

    def fail_disbursement(self, record: LoanRecord, loan: Loan, result: PaymentResult, now: str) -> None:
        """DISBURSING -> FAILED, the payment REJECTED and the reserved principal released."""
        ...

    # -- extension ------------------------------------------------------------------------------------

    def extend(
        self,
        record: LoanRecord,
        loan: Loan,
        *,
        reclassification: Posting | None,
        overdue_delta: int,
        request_hash: str,
        now: str,
    ) -> None:
        """The new maturity (once per loan), the reclassification posting and the overdue count."""
        ...

    # -- repayment ------------------------------------------------------------------------------------

    def request_repayment(self, repayment: Repayment, event: OutboxEvent, now: datetime) -> None:
        """The repayment PENDING (written once) and its outbox event, while the loan is repayable."""
        ...

    def apply_repayment(
        self,
        record: LoanRecord,
        loan: Loan,
        repayment: Repayment,
        *,
        stored: bool,
        posting: Posting,
        principal_repaid: int,
        overdue_delta: int,
        now: str,
    ) -> None:
        """The loan's new position, the exposure, the repayment APPLIED and its posting. `stored`:
        the repayment exists (PENDING) rather than being created here."""
        ...

    def fail_repayment(self, repayment: Repayment, reason: str, now: str) -> None:
        """PENDING -> FAILED with the reason."""
        ...
