"""Repayments: a supplier asks to repay (API); the repayments queue collects and applies them.

Invariant: a repayment is applied once, in one write with the loan's new position, the exposure and
its posting, and money is collected for it at most once (docs/money.md, "Payouts and collections").
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ledger import repayment_posting
from scf.domain.loan import (
    REPAYABLE,
    LoanStatus,
    Repayment,
    RepaymentSource,
    RepaymentStatus,
    effective_value_date,
)
from scf.domain.money import parse_amount, parse_currency
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, MalformedRequest, ScfError
from scf.service.banks import BankDirectory
from scf.service.disbursement import route_for
from scf.service.loan_store import (
    ATTEMPTS,
    Effect,
    LoanNotFound,
    LoanRecord,
    LoanStore,
    PaymentRecord,
    RepaymentNotFound,
    StaleWrite,
    SupplierAccountMissing,
    api_report,
)
from scf.service.metrics import COLLECTIONS, NO_METRICS, Metrics
from scf.service.payments import (
    Account,
    Direction,
    Gateways,
    PaymentOrder,
    PaymentReport,
    PaymentStatus,
    execute,
    mask_account,
    mask_accounts_in,
)

logger = Logger(child=True)

REPAYMENT_ID_PREFIX = "RP"
LOAN_NOT_REPAYABLE = "LOAN_NOT_REPAYABLE"


class LoanNotRepayable(Conflict):
    """Only an ACTIVE or OVERDUE loan takes repayments."""

    default_code = "LOAN_NOT_REPAYABLE"

    def __init__(self, status: LoanStatus) -> None:
        super().__init__(f"a loan in status {status} takes no repayments")
        self.status = status


def repayment_id_for(supplier_id: str, idempotency_key: str | None) -> str:
    """Deterministic from the supplier and its key (a retry finds the first request); random without
    a key. 28 characters: it travels as the collection's end-to-end id (<= 35)."""
    seed = (
        hashlib.sha256(f"{supplier_id}\x00{idempotency_key}".encode()).digest()
        if idempotency_key
        else uuid.uuid4().bytes
    )
    return REPAYMENT_ID_PREFIX + base64.b32encode(seed).decode()[:26]


def requested_repayment(payload: dict[str, Any]) -> Repayment:
    """The PENDING repayment a `RepaymentRequested` event carries (`MalformedRequest` if it cannot)."""
    try:
        return Repayment(
            repayment_id=str(payload["repayment_id"]),
            loan_id=str(payload["loan_id"]),
            supplier_id=str(payload["supplier_id"]),
            status=RepaymentStatus.PENDING,
            source=RepaymentSource(payload["source"]),
            amount_minor=parse_amount(payload["amount"]),
            currency=parse_currency(payload["currency"]),
            value_date=date.fromisoformat(payload["value_date"]) if payload.get("value_date") else None,
        )
    except ScfError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRequest(f"not a RepaymentRequested payload: {exc!r}", code="MALFORMED_EVENT") from exc


def request_hash(loan_id: str, amount_minor: int) -> str:
    canonical = json.dumps({"loan_id": loan_id, "amount_minor": amount_minor}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RepaymentService:
    loans: LoanStore
    gateways: Gateways
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY
    lender: Account | None = field(default=None, kw_only=True)
    banks: BankDirectory | None = field(default=None, kw_only=True)
    metrics: Metrics = field(default=NO_METRICS, kw_only=True)

    # -- the API side ------------------------------------------------------------------------------

    def request(
        self, supplier_id: str, loan_id: str, amount_minor: int, idempotency_key: str | None
    ) -> Repayment:
        """A supplier asks to repay `amount_minor` of its loan; returns the PENDING repayment (the
        first one when the same Idempotency-Key and body come again)."""
        if amount_minor <= 0:
            raise InvalidInput("must be more than 0.00", code="INVALID_AMOUNT", field="amount")
        repayment_id = repayment_id_for(supplier_id, idempotency_key)
        fingerprint = request_hash(loan_id, amount_minor)
        first = self._first_answer(repayment_id, supplier_id, fingerprint) if idempotency_key else None
        if first is not None:
            return first
        record = self.loans.get_loan(loan_id)
        if record is None or record.loan.supplier_id != supplier_id:
            raise LoanNotFound(loan_id)
        if record.loan.status not in REPAYABLE:
            raise LoanNotRepayable(record.loan.status)
        repayment = Repayment(
            repayment_id=repayment_id,
            loan_id=loan_id,
            supplier_id=supplier_id,
            status=RepaymentStatus.PENDING,
            source=RepaymentSource.SUPPLIER,
            amount_minor=amount_minor,
            currency=record.loan.currency,
            request_hash=fingerprint,
        )
        event = repayment.requested_event()
        try:
            self.loans.request_repayment(repayment, event, self.clock.now())
        except StaleWrite:
            # The same key raced us, or the loan stopped taking repayments in between.
            first = self._first_answer(repayment_id, supplier_id, fingerprint)
            if first is not None:
                return first
            current = self.loans.get_loan(loan_id)
            raise LoanNotRepayable(current.loan.status if current else LoanStatus.FAILED) from None
        return repayment

    def _first_answer(self, repayment_id: str, supplier_id: str, fingerprint: str) -> Repayment | None:
        existing = self.loans.get_repayment(repayment_id)
        if existing is None:
            return None
        if existing.supplier_id != supplier_id or existing.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        return existing

    # -- the queue side ----------------------------------------------------------------------------

    def apply(self, payload: dict[str, Any], *, redelivered: bool) -> RepaymentStatus:
        """Apply a `RepaymentRequested` event (at least once); returns the repayment's status
        (PENDING while the bank holds its collection)."""
        requested = requested_repayment(payload)
        if requested.amount_minor <= 0:
            raise InvalidInput(
                f"repayment {requested.repayment_id} is not a positive amount",
                code="INVALID_AMOUNT",
                field="amount",
            )
        for attempt in range(ATTEMPTS):
            stored = self.loans.get_repayment(requested.repayment_id)
            if stored is not None and stored.status is not RepaymentStatus.PENDING:
                return stored.status  # applied or failed before: a redelivery
            repayment = stored or requested
            record = self.loans.get_loan(repayment.loan_id)
            if record is None or record.loan.supplier_id != repayment.supplier_id:
                raise LoanNotFound(repayment.loan_id)
            if record.loan.currency != repayment.currency:
                raise InvalidInput(
                    f"repayment {repayment.repayment_id} is in {repayment.currency}, the loan is not",
                    code="CURRENCY_MISMATCH",
                    field="currency",
                )
            try:
                if repayment.source is RepaymentSource.SUPPLIER:
                    if stored is None:
                        raise RepaymentNotFound(repayment.repayment_id)  # a supplier's is requested first
                    return self._collect(record, stored, maybe_sent=redelivered or attempt > 0)
                # Money already received (a sweep, a bank credit): it moved on its own value date.
                apply_to_loan(
                    self.loans,
                    record,
                    repayment,
                    moved_on=repayment.value_date or self.clock.today(),
                    stored=stored is not None,
                    policy=self.policy,
                    now=self.clock.now().isoformat(),
                )
                return RepaymentStatus.APPLIED
            except StaleWrite:
                logger.info(
                    "loan moved while applying; reloading", extra={"repayment_id": repayment.repayment_id}
                )
        raise StaleWrite([f"repayment {requested.repayment_id}: the loan kept changing"])

    def collect_again(self, payment: PaymentRecord) -> RepaymentStatus:
        """A collection its bank never received (the daily inquiry): asked about once more, then
        sent again with the same payment id while the loan owes money, else the repayment FAILED."""
        stored = self.loans.get_repayment(payment.payment_id)
        if stored is None:
            raise RepaymentNotFound(payment.payment_id)
        return self.apply(stored.requested_event().payload, redelivered=True)

    def _collect(self, record: LoanRecord, repayment: Repayment, *, maybe_sent: bool) -> RepaymentStatus:
        """Collect from the supplier's account and close the repayment as far as the bank's answer
        allows. An order that may have been sent is asked about before the loan is looked at: money
        the bank took is applied whatever the loan's state (overpayment if it was paid off since)."""
        payment = self.loans.get_payment(repayment.repayment_id)
        debtor = payment.account if payment and payment.account else None
        debtor = debtor or self.loans.get_supplier_account(repayment.supplier_id)
        if debtor is None:
            raise SupplierAccountMissing(repayment.supplier_id)
        route = route_for(debtor, self.banks, self.lender)
        now = self.clock.now().isoformat()
        if payment is None:
            if not maybe_sent and record.loan.status not in REPAYABLE:
                # Nothing to collect for: never take money for a loan that owes nothing.
                self.loans.fail_repayment(repayment, LOAN_NOT_REPAYABLE, now)
                return RepaymentStatus.FAILED
            self.loans.start_collection(repayment, bank_code=route.bank_code, account=debtor, now=now)
            bank_code = route.bank_code
        else:
            bank_code, maybe_sent = payment.bank_code, True
        gateway = self.gateways.for_bank(bank_code)
        logger.info(
            "collecting",
            extra={
                "repayment_id": repayment.repayment_id,
                "amount_minor": repayment.amount_minor,
                "bank_code": bank_code,
                "debtor": f"{debtor.bank_code}/{mask_account(debtor.account_number)}",
                "ask_bank_first": maybe_sent,
            },
        )
        known = gateway.status(repayment.repayment_id) if maybe_sent else None
        if known is not None and known.known:
            result = known
        elif record.loan.status not in REPAYABLE:
            # The bank never received it and the loan owes nothing now: never send it.
            refused = PaymentReport(
                repayment.repayment_id, bank_code, PaymentStatus.REJECTED, "scf", reason=LOAN_NOT_REPAYABLE
            )
            self.loans.fail_repayment(repayment, LOAN_NOT_REPAYABLE, now, report=refused)
            return RepaymentStatus.FAILED
        else:
            order = PaymentOrder(
                payment_id=repayment.repayment_id,
                direction=Direction.COLLECTION,
                amount_minor=repayment.amount_minor,
                currency=repayment.currency,
                debtor=debtor,
                creditor=route.lender,
                remittance=repayment.loan_id,
            )
            result = execute(gateway, order, maybe_sent=False)
        return close_collection(
            self.loans,
            record,
            repayment,
            api_report(result, bank_code),
            self.clock,
            self.policy,
            metrics=self.metrics,
        )


def close_collection(
    loans: LoanStore,
    record: LoanRecord,
    repayment: Repayment,
    report: PaymentReport,
    clock: Clock,
    policy: CreditPolicy,
    *,
    metrics: Metrics = NO_METRICS,
) -> RepaymentStatus:
    """What a bank answer about a PENDING repayment's collection does: SETTLED applies it on the
    settlement date, REJECTED fails it (the loan unchanged), anything else is kept as a report."""
    now = clock.now().isoformat()
    outcome = report.status.value if report.status.final else PaymentStatus.PENDING.value
    metrics.put(COLLECTIONS, 1, bank=report.bank_code, outcome=outcome)
    if report.status is PaymentStatus.SETTLED:
        apply_to_loan(
            loans,
            record,
            repayment,
            moved_on=report.value_date or clock.today(),
            stored=True,
            policy=policy,
            now=now,
            report=report,
        )
        return RepaymentStatus.APPLIED
    if report.status is PaymentStatus.REJECTED:
        loans.fail_repayment(repayment, report.reason or "REJECTED_BY_BANK", now, report=report)
        logger.warning(
            "bank refused the collection",
            extra={"repayment_id": repayment.repayment_id, "reason": mask_accounts_in(report.reason)},
        )
        return RepaymentStatus.FAILED
    loans.record_report(report.payment_id, report, Effect.RECORDED, now)
    logger.info(
        "the bank holds the collection; a report will close it", extra={"repayment_id": report.payment_id}
    )
    return RepaymentStatus.PENDING


def apply_to_loan(
    loans: LoanStore,
    record: LoanRecord,
    repayment: Repayment,
    *,
    moved_on: date,
    stored: bool,
    policy: CreditPolicy,
    now: str,
    report: PaymentReport | None = None,
) -> Repayment:
    """Apply money that moved on `moved_on` in one write: the waterfall as of its effective value
    date (contract section 3), the loan's new position, the exposure, the repayment APPLIED, its
    posting and, with `report`, its collection SETTLED."""
    applied_on = [
        r.value_date for r in loans.repayments_of(repayment.loan_id) if r.status is RepaymentStatus.APPLIED
    ]
    value_date = effective_value_date(moved_on, record.loan, applied_on)
    outcome = record.loan.repay(repayment.amount_minor, value_date, order=policy.waterfall_order)
    applied = replace(
        repayment, status=RepaymentStatus.APPLIED, allocation=outcome.allocation, value_date=value_date
    )
    loans.apply_repayment(
        record,
        outcome.loan,
        applied,
        stored=stored,
        posting=repayment_posting(repayment.repayment_id, outcome.allocation),
        principal_repaid=outcome.allocation.principal,
        overdue_delta=outcome.overdue_delta,
        now=now,
        report=report,
    )
    logger.info(
        "repayment applied",
        extra={
            "repayment_id": repayment.repayment_id,
            "loan_id": repayment.loan_id,
            "value_date": value_date.isoformat(),
            "allocation": outcome.allocation.as_minor(),
            "loan_status": outcome.loan.status.value,
        },
    )
    return applied
