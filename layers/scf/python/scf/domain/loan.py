"""A loan's life (contract section 3): the status machine, its position on a business date
(outstanding principal, interest and penalty due, payoff) and the effect of a repayment."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from scf.domain.interest import DayCount, PrincipalChange, accrue, record_principal
from scf.domain.ledger import INTEREST_INCOME, LOANS_RECEIVABLE, PENALTY_INCOME, SUPPLIER_OVERPAYMENT
from scf.domain.money import format_amount
from scf.domain.policy import DEFAULT_POLICY, ExtensionRule
from scf.domain.waterfall import Allocation, allocate
from scf.errors import Conflict
from scf.events import (
    LOAN_ACTIVATED,
    LOAN_APPROVED,
    LOAN_DUE_SOON,
    LOAN_EXTENDED,
    LOAN_FAILED,
    LOAN_OVERDUE,
    LOAN_REPAID,
    REPAYMENT_APPLIED,
    REPAYMENT_FAILED,
    REPAYMENT_REQUESTED,
    OutboxEvent,
)


def loan_approved_event(loan_id: str, supplier_id: str, principal_minor: int, currency: str) -> OutboxEvent:
    """`LoanApproved-<loan_id>` to the disbursements queue: ids and the two-decimal amount."""
    return OutboxEvent(
        event_id=f"{LOAN_APPROVED}-{loan_id}",
        event_type=LOAN_APPROVED,
        payload={
            "loan_id": loan_id,
            "supplier_id": supplier_id,
            "amount": format_amount(principal_minor),
            "currency": currency,
        },
    )


class LoanStatus(StrEnum):
    APPROVED = "APPROVED"
    DISBURSING = "DISBURSING"
    ACTIVE = "ACTIVE"
    OVERDUE = "OVERDUE"
    REPAID = "REPAID"
    FAILED = "FAILED"


TRANSITIONS: dict[LoanStatus, frozenset[LoanStatus]] = {
    LoanStatus.APPROVED: frozenset({LoanStatus.DISBURSING}),
    LoanStatus.DISBURSING: frozenset({LoanStatus.ACTIVE, LoanStatus.FAILED}),
    LoanStatus.ACTIVE: frozenset({LoanStatus.OVERDUE, LoanStatus.REPAID}),
    # ACTIVE again only by an extension granted within its window (`Loan.extend`).
    LoanStatus.OVERDUE: frozenset({LoanStatus.ACTIVE, LoanStatus.REPAID}),
    LoanStatus.REPAID: frozenset(),
    LoanStatus.FAILED: frozenset(),
}
REPAYABLE = frozenset({LoanStatus.ACTIVE, LoanStatus.OVERDUE})
PAID_OUT = frozenset({LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.REPAID})


class InvalidTransition(Conflict):
    def __init__(self, current: LoanStatus, target: LoanStatus) -> None:
        super().__init__(f"a loan cannot go from {current} to {target}", code="INVALID_TRANSITION")
        self.current = current
        self.target = target


def transition(current: LoanStatus, target: LoanStatus) -> LoanStatus:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


@dataclass(frozen=True)
class Position:
    """What a loan owes at the start of a business date, in minor units."""

    as_of: date
    status: LoanStatus
    outstanding_principal: int
    interest_due: int
    penalty_due: int

    @property
    def payoff(self) -> int:
        return self.penalty_due + self.interest_due + self.outstanding_principal


class ExtensionRefused(Conflict):
    """The extension rule of contract section 3 says no; `code` says which part."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class ExtensionOutcome:
    loan: Loan
    penalty_reclassified: int  # penalty already paid that became interest (minor units)
    overdue_delta: int


@dataclass(frozen=True)
class RepaymentOutcome:
    loan: Loan
    allocation: Allocation
    overdue_delta: int  # change of the supplier's count of OVERDUE loans: -1, 0 or +1


@dataclass(frozen=True)
class Loan:
    loan_id: str
    supplier_id: str
    status: LoanStatus
    currency: str
    principal_minor: int
    outstanding_principal_minor: int
    annual_rate: Decimal
    term_days: int
    day_count: DayCount = DayCount.ACT_360
    penalty_multiplier: Decimal = DEFAULT_POLICY.penalty_multiplier
    value_date: date | None = None
    maturity_date: date | None = None
    extended: bool = False
    interest_paid_minor: int = 0
    penalty_paid_minor: int = 0
    principal_changes: tuple[PrincipalChange, ...] = ()
    # Refunds (contract section 3): received in excess (cumulative), paid back (settled), and the
    # part of the difference a refund order `refund_id` is paying back now (docs/money.md, "Refunds").
    overpayment_minor: int = 0
    refunded_minor: int = 0
    refund_pending_minor: int = 0
    refund_id: str | None = None

    @property
    def refund_owed_minor(self) -> int:
        """Owed back to the supplier and not in a refund order yet."""
        return self.overpayment_minor - self.refunded_minor - self.refund_pending_minor

    def reserve_refund(self, refund_id: str) -> Loan:
        """Everything owed goes into refund order `refund_id` (one order at a time per loan)."""
        if self.refund_id is not None or self.refund_owed_minor <= 0:
            raise Conflict(f"loan {self.loan_id} has no refund to reserve", code="NO_REFUND_OWED")
        return replace(self, refund_pending_minor=self.refund_owed_minor, refund_id=refund_id)

    def settle_refund(self, refund_id: str) -> Loan:
        """The bank paid refund `refund_id`: what it held is refunded."""
        self._require_refund(refund_id)
        return replace(
            self,
            refunded_minor=self.refunded_minor + self.refund_pending_minor,
            refund_pending_minor=0,
            refund_id=None,
        )

    def reject_refund(self, refund_id: str) -> Loan:
        """The bank refused refund `refund_id`: what it held is owed again."""
        self._require_refund(refund_id)
        return replace(self, refund_pending_minor=0, refund_id=None)

    def _require_refund(self, refund_id: str) -> None:
        if self.refund_id != refund_id:
            raise Conflict(f"loan {self.loan_id} is not in refund {refund_id}", code="NOT_IN_REFUND")

    def start_disbursement(self) -> Loan:
        return replace(self, status=transition(self.status, LoanStatus.DISBURSING))

    def activate(self, value_date: date) -> Loan:
        """The bank confirmed the payout on `value_date`: interest runs from that day."""
        return replace(
            self,
            status=transition(self.status, LoanStatus.ACTIVE),
            value_date=value_date,
            maturity_date=value_date + timedelta(days=self.term_days),
            outstanding_principal_minor=self.principal_minor,
            principal_changes=(PrincipalChange(value_date, self.principal_minor),),
        )

    def fail(self) -> Loan:
        """The bank rejected the payout: nothing is owed."""
        return replace(self, status=transition(self.status, LoanStatus.FAILED), outstanding_principal_minor=0)

    def mark_overdue(self, today: date) -> Loan:
        """The daily job at the start of `today`: an unpaid ACTIVE loan whose maturity date has come
        is stored OVERDUE (contract section 10). `InvalidTransition` from any other status; a loan
        not yet at maturity is refused too (the job's index read never offers one)."""
        if self.maturity_date is None or today < self.maturity_date:
            raise Conflict(f"loan {self.loan_id} is not at maturity on {today}", code="NOT_AT_MATURITY")
        return replace(self, status=transition(self.status, LoanStatus.OVERDUE))

    def approved_event(self) -> OutboxEvent:
        """`LoanApproved` (written with the loan by the approval; the REPUBLISH step sends it again)."""
        return loan_approved_event(self.loan_id, self.supplier_id, self.principal_minor, self.currency)

    def ledger_balances(self) -> dict[str, int]:
        """What the ledger must sum to for this loan, from its stored balances (docs/money.md,
        "Ledger"): receivable = outstanding principal once paid out; interest and penalty income =
        minus what was received; owed to the supplier = minus the overpayment not yet refunded.
        Balances are debits minus credits, as `ledger.balances`."""
        return {
            LOANS_RECEIVABLE: self.outstanding_principal_minor if self.status in PAID_OUT else 0,
            INTEREST_INCOME: -self.interest_paid_minor,
            PENALTY_INCOME: -self.penalty_paid_minor,
            SUPPLIER_OVERPAYMENT: -(self.overpayment_minor - self.refunded_minor),
        }

    def overdue_event(self) -> OutboxEvent:
        """`LoanOverdue`, once per loan and maturity date (an extended loan can be overdue again)."""
        assert self.maturity_date is not None
        return OutboxEvent(
            event_id=f"{LOAN_OVERDUE}-{self.loan_id}-{self.maturity_date.isoformat()}",
            event_type=LOAN_OVERDUE,
            payload=self._event_payload(),
        )

    def due_soon_event(self) -> OutboxEvent:
        """`LoanDueSoon`, once per loan and maturity date (the id says which: written only if absent)."""
        assert self.maturity_date is not None
        return OutboxEvent(
            event_id=f"{LOAN_DUE_SOON}-{self.loan_id}-{self.maturity_date.isoformat()}",
            event_type=LOAN_DUE_SOON,
            payload=self._event_payload(),
        )

    def _event_payload(self) -> dict[str, str]:
        """Ids, the two-decimal amount and dates; never an account number (contract section 10)."""
        assert self.maturity_date is not None
        return {
            **self._ids(),
            "outstanding_principal": format_amount(self.outstanding_principal_minor),
            "maturity_date": self.maturity_date.isoformat(),
        }

    # -- public events (docs/events.md): one per state change, its id the business key -------------

    def activated_event(self, payment_id: str) -> OutboxEvent:
        """`LoanActivated`, once per loan: the payout settled, interest runs from `value_date`."""
        assert self.value_date is not None and self.maturity_date is not None
        return OutboxEvent(
            f"{LOAN_ACTIVATED}-{self.loan_id}",
            LOAN_ACTIVATED,
            {
                **self._ids(),
                "principal": format_amount(self.principal_minor),
                "payment_id": payment_id,
                "value_date": self.value_date.isoformat(),
                "maturity_date": self.maturity_date.isoformat(),
            },
        )

    def failed_event(self, payment_id: str, reason: str | None) -> OutboxEvent:
        """`LoanFailed`, once per loan: the payout was rejected, nothing is owed."""
        return OutboxEvent(
            f"{LOAN_FAILED}-{self.loan_id}",
            LOAN_FAILED,
            {
                **self._ids(),
                "principal": format_amount(self.principal_minor),
                "payment_id": payment_id,
                "reason": reason_code(reason),
            },
        )

    def repaid_event(self, repayment_id: str, repaid_on: date) -> OutboxEvent:
        """`LoanRepaid`, once per loan: the repayment `repayment_id` paid it off on `repaid_on`."""
        return OutboxEvent(
            f"{LOAN_REPAID}-{self.loan_id}",
            LOAN_REPAID,
            {
                **self._ids(),
                "principal": format_amount(self.principal_minor),
                "interest_paid": format_amount(self.interest_paid_minor),
                "penalty_paid": format_amount(self.penalty_paid_minor),
                "repayment_id": repayment_id,
                "repaid_on": repaid_on.isoformat(),
            },
        )

    def extended_event(self, previous_maturity: date) -> OutboxEvent:
        """`LoanExtended`, once per loan (a loan is extended at most once)."""
        assert self.maturity_date is not None
        return OutboxEvent(
            f"{LOAN_EXTENDED}-{self.loan_id}",
            LOAN_EXTENDED,
            {
                **self._event_payload(),
                "previous_maturity_date": previous_maturity.isoformat(),
            },
        )

    def _ids(self) -> dict[str, str]:
        return {"loan_id": self.loan_id, "supplier_id": self.supplier_id, "currency": self.currency}

    def status_on(self, as_of: date) -> LoanStatus:
        """An ACTIVE loan is OVERDUE from its maturity date on, whether or not that was stored yet."""
        if (
            self.status is LoanStatus.ACTIVE
            and self.maturity_date is not None
            and as_of >= self.maturity_date
        ):
            return LoanStatus.OVERDUE
        return self.status

    def position(self, as_of: date) -> Position:
        status = self.status_on(as_of)
        if status not in REPAYABLE or self.maturity_date is None:
            return Position(as_of, status, self.outstanding_principal_minor, 0, 0)
        accrual = accrue(
            self.principal_changes,
            annual_rate=self.annual_rate,
            maturity_date=self.maturity_date,
            as_of=as_of,
            day_count=self.day_count,
            penalty_multiplier=self.penalty_multiplier,
        )
        return Position(
            as_of=as_of,
            status=status,
            outstanding_principal=self.outstanding_principal_minor,
            # Never below zero, even if the business date were set back after a repayment.
            interest_due=max(0, accrual.interest_minor - self.interest_paid_minor),
            penalty_due=max(0, accrual.penalty_minor - self.penalty_paid_minor),
        )

    def repay(
        self, amount_minor: int, on: date, *, order: tuple[str, ...] = DEFAULT_POLICY.waterfall_order
    ) -> RepaymentOutcome:
        """Apply money received on `on` in the waterfall `order` (the policy's): it pays interest
        for the days before `on`, principal repaid on `on` stops earning from `on`, and money for a
        loan that owes nothing is all overpayment."""
        if self.status not in REPAYABLE:
            everything = allocate(amount_minor, penalty_due=0, interest_due=0, principal_due=0, order=order)
            owed = replace(self, overpayment_minor=self.overpayment_minor + everything.overpayment)
            return RepaymentOutcome(owed, everything, 0)
        position = self.position(on)
        allocation = allocate(
            amount_minor,
            penalty_due=position.penalty_due,
            interest_due=position.interest_due,
            principal_due=position.outstanding_principal,
            order=order,
        )
        outstanding = self.outstanding_principal_minor - allocation.principal
        changes = self.principal_changes
        if allocation.principal:
            changes = record_principal(changes, on, outstanding)
        paid_off = allocation.overpayment > 0 or (
            outstanding == 0
            and allocation.interest == position.interest_due
            and allocation.penalty == position.penalty_due
        )
        status = LoanStatus.REPAID if paid_off else position.status
        if status is not self.status:
            transition(self.status, status)
        overdue_delta = 0
        if self.status is LoanStatus.OVERDUE and status is LoanStatus.REPAID:
            overdue_delta = -1
        elif self.status is LoanStatus.ACTIVE and status is LoanStatus.OVERDUE:
            overdue_delta = 1
        loan = replace(
            self,
            status=status,
            outstanding_principal_minor=outstanding,
            interest_paid_minor=self.interest_paid_minor + allocation.interest,
            penalty_paid_minor=self.penalty_paid_minor + allocation.penalty,
            principal_changes=changes,
            overpayment_minor=self.overpayment_minor + allocation.overpayment,
        )
        return RepaymentOutcome(loan, allocation, overdue_delta)

    def extend(
        self,
        on: date,
        *,
        other_loan_overdue: bool,
        borrowing_base_minor: int,
        terms: ExtensionRule = DEFAULT_POLICY.extension,
    ) -> ExtensionOutcome:
        """Move maturity `terms.extension_days` later within the window `terms` (the policy's)
        opens, or raise `ExtensionRefused` saying why not. Penalty already paid becomes interest
        paid, never lost: the days after the old maturity earn normal interest (docs/money.md)."""
        if self.status not in REPAYABLE or self.maturity_date is None:
            raise ExtensionRefused("LOAN_NOT_ACTIVE", f"a loan in status {self.status} cannot be extended")
        if self.extended:
            raise ExtensionRefused("ALREADY_EXTENDED", "a loan is extended at most once")
        opens = self.maturity_date - timedelta(days=terms.days_before_maturity)
        closes = self.maturity_date + timedelta(days=terms.days_after_maturity)
        if on < opens:
            raise ExtensionRefused("EXTENSION_TOO_EARLY", f"an extension can be requested from {opens}")
        if on > closes:
            raise ExtensionRefused("EXTENSION_TOO_LATE", f"an extension could be requested until {closes}")
        if other_loan_overdue:
            raise ExtensionRefused("HAS_OVERDUE_LOAN", "the supplier has another overdue loan")
        if borrowing_base_minor < self.outstanding_principal_minor:
            raise ExtensionRefused(
                "BORROWING_BASE_SHORT", "the borrowing base no longer covers the loan's outstanding principal"
            )
        status = LoanStatus.ACTIVE
        if self.status is not status:
            transition(self.status, status)  # OVERDUE -> ACTIVE: the extension's new maturity
        loan = replace(
            self,
            status=status,
            maturity_date=self.maturity_date + timedelta(days=terms.extension_days),
            extended=True,
            interest_paid_minor=self.interest_paid_minor + self.penalty_paid_minor,
            penalty_paid_minor=0,
        )
        overdue_delta = -1 if self.status is LoanStatus.OVERDUE else 0
        return ExtensionOutcome(loan, self.penalty_paid_minor, overdue_delta)


_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,39}")


def reason_code(reason: str | None) -> str:
    """A failure's reason as a code for a public event: the bank's leading code (`AC04`,
    `ACCOUNT_REJECTED: ...` -> `ACCOUNT_REJECTED`); free text (which may quote an account) never."""
    head = (reason or "").split(":", 1)[0].strip()
    return head if _REASON_CODE.fullmatch(head) else "REJECTED_BY_BANK"


def effective_value_date(moved_on: date, loan: Loan, applied: Iterable[date | None] = ()) -> date:
    """The day a repayment takes effect (contract section 3, "Value date (v2)"): the day the money
    moved, but never before the loan's value date nor before a repayment already applied to it
    (`applied`: their value dates), so a late answer never reorders the loan's history."""
    floor = [day for day in (loan.value_date, *applied) if day is not None]
    return max([moved_on, *floor])


class RepaymentStatus(StrEnum):
    PENDING = "PENDING"
    APPLIED = "APPLIED"
    FAILED = "FAILED"


class RepaymentSource(StrEnum):
    SUPPLIER = "SUPPLIER"  # collected from the supplier's account through its bank
    SETTLEMENT_SWEEP = "SETTLEMENT_SWEEP"  # money already received: a platform payout swept
    BANK_CREDIT = "BANK_CREDIT"  # money already received: a credit on a bank statement


@dataclass(frozen=True)
class Repayment:
    repayment_id: str
    loan_id: str
    supplier_id: str
    status: RepaymentStatus
    source: RepaymentSource
    amount_minor: int
    currency: str
    allocation: Allocation | None = None
    value_date: date | None = None
    failure_reason: str | None = None
    request_hash: str | None = None

    def requested_event(self) -> OutboxEvent:
        """The `RepaymentRequested` outbox event that carries this repayment to the repayments
        queue (written in the same transaction as the repayment)."""
        return OutboxEvent(
            event_id=f"{REPAYMENT_REQUESTED}-{self.repayment_id}",
            event_type=REPAYMENT_REQUESTED,
            payload={
                "repayment_id": self.repayment_id,
                "loan_id": self.loan_id,
                "supplier_id": self.supplier_id,
                "amount": format_amount(self.amount_minor),
                "currency": self.currency,
                "source": self.source.value,
                # The day money already received moved (a booking date, a document date).
                **({"value_date": self.value_date.isoformat()} if self.value_date else {}),
            },
        )

    def applied_event(self) -> OutboxEvent:
        """`RepaymentApplied`, once per repayment: how its amount was split, on its value date."""
        assert self.allocation is not None and self.value_date is not None
        return OutboxEvent(
            f"{REPAYMENT_APPLIED}-{self.repayment_id}",
            REPAYMENT_APPLIED,
            {
                **self._ids(),
                "value_date": self.value_date.isoformat(),
                **self.allocation.as_money(),
            },
        )

    def failed_event(self, reason: str | None) -> OutboxEvent:
        """`RepaymentFailed`, once per repayment: nothing was applied."""
        return OutboxEvent(
            f"{REPAYMENT_FAILED}-{self.repayment_id}",
            REPAYMENT_FAILED,
            {**self._ids(), "reason": reason_code(reason)},
        )

    def _ids(self) -> dict[str, str]:
        return {
            "repayment_id": self.repayment_id,
            "loan_id": self.loan_id,
            "supplier_id": self.supplier_id,
            "currency": self.currency,
            "amount": format_amount(self.amount_minor),
            "source": self.source.value,
        }
