"""The loan store port: what the loan services read and the all-or-nothing writes they ask for.
Invariant of every implementation: a write's conditions all hold or nothing is written (a status
moves once, a posting or payment order is written once, exposure never goes below zero); otherwise
`StaleWrite`, and the caller reloads and decides again (docs/money.md, "Ports of the loan side").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from scf.domain.ledger import Posting
from scf.domain.loan import Loan, LoanStatus, Repayment
from scf.domain.money import format_amount
from scf.domain.portfolio import Counters
from scf.errors import Contention, NotFound
from scf.events import REFUND_PAID, OutboxEvent
from scf.service.payments import (
    Account,
    Direction,
    PaymentKind,
    PaymentReport,
    PaymentResult,
    PaymentStatus,
    mask_accounts_in,
)

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
    """A loan as stored: the domain object, what optimistic locking needs and the account its payout
    goes to (the supplier's verified account at approval; None on loans approved before that)."""

    loan: Loan
    version: int | None
    created_at: str
    extension_request: str | None = None
    payout_account: Account | None = None
    # In the portfolio's counters already (False only on loans stored before they existed and not
    # backfilled yet: their next write adds the whole loan, not a difference).
    counted: bool = True

    @property
    def counted_loan(self) -> Loan | None:
        """The loan as the portfolio's counters hold it (None: not in them yet)."""
        return self.loan if self.counted else None


@dataclass(frozen=True)
class StoredReport:
    """One bank answer as kept on its payment, with the effect it had (`scf.service.outcomes`)."""

    report: PaymentReport
    effect: str
    at: str

    def as_json(self) -> dict[str, Any]:
        r = self.report
        entry = {
            "status": r.status.value,
            "bank_code": r.bank_code,
            "source": r.source,
            "value_date": r.value_date.isoformat() if r.value_date else None,
            "reason": mask_accounts_in(r.reason),
            "reference": r.reference,
            "effect": self.effect,
            "at": self.at,
        }
        # Only on an answer ops recorded (a bank's own reports keep their shape).
        return entry | {
            k: v
            for k, v in (("by", r.by), ("request", r.request), ("request_body", r.request_body))
            if v is not None
        }

    @classmethod
    def from_json(cls, payment_id: str, data: dict[str, Any]) -> StoredReport:
        report = PaymentReport(
            payment_id=payment_id,
            bank_code=data["bank_code"],
            status=PaymentStatus(data["status"]),
            source=data["source"],
            value_date=date.fromisoformat(data["value_date"]) if data.get("value_date") else None,
            reason=data.get("reason"),
            reference=data.get("reference"),
            by=data.get("by"),
            request=data.get("request"),
            request_body=data.get("request_body"),
        )
        return cls(report=report, effect=data["effect"], at=data["at"])


class Effect(StrEnum):
    """What a bank answer did (kept with the report; the outcome use case returns it)."""

    SETTLED = "SETTLED"  # payout: loan ACTIVE; collection: repayment APPLIED
    REJECTED = "REJECTED"  # payout before settlement: loan FAILED; collection: repayment FAILED
    PAYOUT_RETURNED = "PAYOUT_RETURNED"  # a settled payout rejected or returned: for ops
    RECORDED = "RECORDED"  # not final, or the outcome already recorded: kept, nothing changes
    OUTCOME_CONFLICT = "OUTCOME_CONFLICT"  # final, contradicting the recorded outcome: for ops
    NOT_SENDERS_PAYMENT = "NOT_SENDERS_PAYMENT"  # from a bank the payment did not go through
    UNKNOWN_PAYMENT = "UNKNOWN_PAYMENT"  # no payment with this id


SENT = "SENT"  # a payment's status until its final outcome (SETTLED or REJECTED) is recorded


@dataclass(frozen=True)
class RefundOrder:
    """What a refund payment pays back: a supplier's overpayments on its loans on a business date
    (`parts`: loan id and amount), or a bank item returned to its sender (`item_id`, no loans)."""

    refund_id: str
    supplier_id: str | None
    currency: str
    business_date: date
    parts: tuple[tuple[str, int], ...] = ()
    item_id: str | None = None
    returned_minor: int = 0  # a returned bank item's amount (no loan part)

    @property
    def amount_minor(self) -> int:
        return sum(amount for _, amount in self.parts) + self.returned_minor

    def as_json(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "supplier_id": self.supplier_id,
            "currency": self.currency,
            "business_date": self.business_date.isoformat(),
            "parts": [[loan_id, amount] for loan_id, amount in self.parts],
            "item_id": self.item_id,
            "returned_minor": self.returned_minor,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RefundOrder:
        return cls(
            refund_id=str(data["refund_id"]),
            supplier_id=data.get("supplier_id"),
            currency=str(data["currency"]),
            business_date=date.fromisoformat(data["business_date"]),
            parts=tuple((str(loan_id), int(amount)) for loan_id, amount in data.get("parts") or []),
            item_id=data.get("item_id"),
            returned_minor=int(data.get("returned_minor") or 0),
        )

    def paid_event(self, amount_minor: int, value_date: date) -> OutboxEvent:
        """`RefundPaid` once per refund: ids, two-decimal amounts and dates, never an account."""
        return OutboxEvent(
            event_id=f"{REFUND_PAID}-{self.refund_id}",
            event_type=REFUND_PAID,
            payload={
                "refund_id": self.refund_id,
                "kind": "RETURN" if self.item_id else "OVERPAYMENT",
                "supplier_id": self.supplier_id,
                "item_id": self.item_id,
                "currency": self.currency,
                "amount": format_amount(amount_minor),
                "business_date": self.business_date.isoformat(),
                "value_date": value_date.isoformat(),
                "loans": [{"loan_id": loan_id, "amount": format_amount(a)} for loan_id, a in self.parts],
            },
        )


@dataclass(frozen=True)
class PaymentRecord:
    """A payment order as recorded before it went to the bank: the bank it was sent through, the
    supplier's account it pays to or collects from, its status (SENT, then SETTLED or REJECTED
    once) and every bank answer about it, oldest first."""

    payment_id: str
    direction: Direction
    loan_id: str
    amount_minor: int
    currency: str
    bank_code: str
    status: str
    account: Account | None = None  # None on payments recorded before accounts were kept
    reports: tuple[StoredReport, ...] = ()
    refund: RefundOrder | None = None  # set on a refund (RF...): what it pays back
    sent_at: datetime | None = None  # when the order was recorded, before it went to the bank

    @property
    def final(self) -> PaymentStatus | None:
        """The recorded final outcome, None while the payment is open."""
        final = (PaymentStatus.SETTLED.value, PaymentStatus.REJECTED.value)
        return PaymentStatus(self.status) if self.status in final else None


def api_report(result: PaymentResult, bank_code: str) -> PaymentReport:
    """The gateway's answer (`pay`, `status`) as a report about the payment."""
    return PaymentReport(
        payment_id=result.payment_id,
        bank_code=bank_code,
        status=result.status,
        source="api",
        value_date=result.value_date,
        reason=result.reason,
        reference=result.bank_reference,
    )


@dataclass(frozen=True)
class LoanFilter:
    """The ops list's filters (`GET /v1/ops/loans`); at least a status or a supplier."""

    status: LoanStatus | None = None
    supplier_id: str | None = None
    currency: str | None = None

    def matches(self, loan: Loan) -> bool:
        return (
            (self.status is None or loan.status is self.status)
            and (self.supplier_id is None or loan.supplier_id == self.supplier_id)
            and (self.currency is None or loan.currency == self.currency)
        )


@dataclass(frozen=True)
class Page:
    items: list[LoanRecord]
    next_token: str | None


class LoanStore(Protocol):
    # -- reads (strongly consistent: every decision made on them is about money) -------------------

    def get_loan(self, loan_id: str) -> LoanRecord | None: ...

    def get_supplier_account(self, supplier_id: str) -> Account | None: ...

    def get_repayment(self, repayment_id: str) -> Repayment | None: ...

    def get_payment(self, payment_id: str) -> PaymentRecord | None: ...

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

    # -- ops reads (docs/ops-views.md) ----------------------------------------------------------------

    def ops_loans(self, wanted: LoanFilter, *, limit: int, next_token: str | None) -> Page:
        """One page of loans for ops: a supplier's (newest first), else one stored status' (latest
        maturity first), the other filters applied to the page read (it may hold fewer than `limit`
        loans and still have a `next_token`)."""
        ...

    def portfolio_counters(self, currency: str) -> Counters:
        """The currency's portfolio counters summed over their shards (`scf.domain.portfolio`)."""
        ...

    def loans_past_maturity(self, currency: str, as_of: date) -> list[LoanRecord]:
        """The currency's stored OVERDUE loans and ACTIVE loans maturing on or before `as_of`."""
        ...

    # -- the daily job's reads (the loans with work, by status and maturity: never the table) ------

    def active_loans_maturing_by(self, day: date) -> list[LoanRecord]:
        """ACTIVE loans whose maturity date is `day` or earlier (gsi2 LOANS#ACTIVE, sk <= day)."""
        ...

    def active_loans_maturing_on(self, day: date) -> list[LoanRecord]:
        """ACTIVE loans whose maturity date is `day` (gsi2 LOANS#ACTIVE, sk begins with day)."""
        ...

    def open_payments(self, kind: PaymentKind, sent_before: datetime) -> list[PaymentRecord]:
        """Payments of `kind` still without a final outcome, sent before `sent_before`, oldest
        first (gsi2 PAYMENTS#OPEN#<kind>, sk < the moment: never the table)."""
        ...

    # -- disbursement ---------------------------------------------------------------------------------

    def start_disbursement(
        self, record: LoanRecord, loan: Loan, payment_id: str, bank_code: str, now: str, *, account: Account
    ) -> None:
        """APPROVED -> DISBURSING with its payment order to `account` through `bank_code` (written once)."""
        ...

    def complete_disbursement(
        self, record: LoanRecord, loan: Loan, report: PaymentReport, posting: Posting, now: str
    ) -> None:
        """DISBURSING -> ACTIVE, the payment SETTLED (once) with the report, the posting and the
        open-loan entry."""
        ...

    def fail_disbursement(self, record: LoanRecord, loan: Loan, report: PaymentReport, now: str) -> None:
        """DISBURSING -> FAILED, the payment REJECTED (once) with the report and the reserved
        principal released."""
        ...

    # -- bank answers ---------------------------------------------------------------------------------

    def record_report(self, payment_id: str, report: PaymentReport, effect: str, now: str) -> None:
        """Append a report that changes nothing else (a non-final answer, a repeat, a return)."""
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

    # -- the daily job --------------------------------------------------------------------------------

    def mark_overdue(
        self, record: LoanRecord, loan: Loan, event: OutboxEvent, *, business_date: date, now: datetime
    ) -> None:
        """ACTIVE -> OVERDUE while the stored loan is ACTIVE with its maturity on or before the
        job's date, the supplier's overdue count +1 and the `LoanOverdue` event, all or nothing."""
        ...

    def announce(self, record: LoanRecord, event: OutboxEvent, now: datetime) -> bool:
        """The event written only if absent, while the loan is still ACTIVE with the maturity it was
        read with; False if it was already written (or the loan moved): nothing written then."""
        ...

    # -- repayment ------------------------------------------------------------------------------------

    def request_repayment(self, repayment: Repayment, event: OutboxEvent, now: datetime) -> None:
        """The repayment PENDING (written once) and its outbox event, while the loan is repayable."""
        ...

    def start_collection(self, repayment: Repayment, *, bank_code: str, account: Account, now: str) -> None:
        """The collection's payment order (written once, before it goes to the bank), while the
        repayment is PENDING; `StaleWrite` if it exists."""
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
        report: PaymentReport | None = None,
    ) -> None:
        """The loan's new position, the exposure, the repayment APPLIED and its posting. `stored`:
        the repayment exists (PENDING) rather than being created here. `report`: the bank's answer
        settling its collection (the payment SETTLED once, the report appended)."""
        ...

    def fail_repayment(
        self, repayment: Repayment, reason: str, now: str, *, report: PaymentReport | None = None
    ) -> None:
        """PENDING -> FAILED with the reason; with `report`, its payment REJECTED once with it."""
        ...

    # -- refunds (scf.service.refunds) ---------------------------------------------------------------

    def loans_owed_refunds(self) -> list[LoanRecord]:
        """Loans with money owed back or in a refund order (gsi2 REFUNDS#OWED), by supplier and
        currency; strongly consistent loan reads."""
        ...

    def refund_account(self, supplier_id: str) -> Account | None:
        """The supplier's account when it is verified, else None (no refund goes to it)."""
        ...

    def reserve_refund(
        self,
        refund: RefundOrder,
        records: list[LoanRecord],
        loans: list[Loan],
        *,
        bank_code: str,
        account: Account,
        now: str,
    ) -> None:
        """The refund's payment order SENT (written once) and each loan's part reserved in it
        (each loan as read), all or nothing."""
        ...

    def close_refund(
        self,
        refund: RefundOrder,
        records: list[LoanRecord],
        loans: list[Loan],
        report: PaymentReport,
        *,
        postings: dict[str, Posting],
        event: OutboxEvent | None,
        now: str,
    ) -> None:
        """The refund's final outcome (once) with its loans' new refund state (each as read), the
        postings per loan (settled) and the event, all or nothing."""
        ...
