"""Repayments: a supplier asks to repay (API); the repayments queue collects and applies them.

Invariant: a repayment is applied once, in one write with the loan's new position, the exposure and
its posting, and money is collected for it at most once (docs/money.md, "Payouts and collections").
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ledger import repayment_posting
from scf.domain.loan import REPAYABLE, LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import parse_amount, parse_currency
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, MalformedRequest, ScfError
from scf.service.loan_store import (
    ATTEMPTS,
    LoanNotFound,
    LoanRecord,
    LoanStore,
    RepaymentNotFound,
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
)

logger = Logger(child=True)

REPAYMENT_ID_PREFIX = "RP"


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
    lender: Account
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY

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
        """Apply a `RepaymentRequested` event (at least once); returns the repayment's final status."""
        requested = requested_repayment(payload)
        if requested.amount_minor <= 0:
            raise InvalidInput(
                f"repayment {requested.repayment_id} is not a positive amount",
                code="INVALID_AMOUNT",
                field="amount",
            )
        collected = False
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
            if repayment.source is RepaymentSource.SUPPLIER and not collected:
                if stored is None:
                    raise RepaymentNotFound(repayment.repayment_id)  # a supplier's is requested first
                if record.loan.status not in REPAYABLE:
                    # Nothing to collect for: never take money for a loan that owes nothing.
                    self.loans.fail_repayment(repayment, "LOAN_NOT_REPAYABLE", self.clock.now().isoformat())
                    return RepaymentStatus.FAILED
                if not self._collect(repayment, maybe_sent=redelivered or attempt > 0):
                    return RepaymentStatus.FAILED
                collected = True
            try:
                self._apply(record, repayment, stored=stored is not None)
                return RepaymentStatus.APPLIED
            except StaleWrite:
                logger.info(
                    "loan moved while applying; reloading", extra={"repayment_id": repayment.repayment_id}
                )
        raise StaleWrite([f"repayment {requested.repayment_id}: the loan kept changing"])

    def _collect(self, repayment: Repayment, *, maybe_sent: bool) -> bool:
        """Collect from the supplier's account; False (and the repayment FAILED) if the bank refuses."""
        supplier = self.loans.get_supplier_account(repayment.supplier_id)
        if supplier is None:
            raise SupplierAccountMissing(repayment.supplier_id)
        order = PaymentOrder(
            payment_id=repayment.repayment_id,
            direction=Direction.COLLECTION,
            amount_minor=repayment.amount_minor,
            currency=repayment.currency,
            debtor=supplier,
            creditor=self.lender,
            remittance=repayment.loan_id,
        )
        logger.info(
            "collecting",
            extra={
                "repayment_id": repayment.repayment_id,
                "amount_minor": repayment.amount_minor,
                "debtor": f"{supplier.bank_code}/{mask_account(supplier.account_number)}",
                "ask_bank_first": maybe_sent,
            },
        )
        result = execute(self.gateways.for_bank(supplier.bank_code), order, maybe_sent=maybe_sent)
        if result.status is PaymentStatus.SETTLED:
            return True
        self.loans.fail_repayment(
            repayment, result.reason or "REJECTED_BY_BANK", self.clock.now().isoformat()
        )
        logger.warning("bank refused the collection", extra=result.log_fields())
        return False

    def _apply(self, record: LoanRecord, repayment: Repayment, *, stored: bool) -> None:
        as_of = self.clock.today()
        outcome = record.loan.repay(repayment.amount_minor, as_of, order=self.policy.waterfall_order)
        applied = replace(
            repayment, status=RepaymentStatus.APPLIED, allocation=outcome.allocation, value_date=as_of
        )
        self.loans.apply_repayment(
            record,
            outcome.loan,
            applied,
            stored=stored,
            posting=repayment_posting(repayment.repayment_id, outcome.allocation),
            principal_repaid=outcome.allocation.principal,
            overdue_delta=outcome.overdue_delta,
            now=self.clock.now().isoformat(),
        )
        logger.info(
            "repayment applied",
            extra={
                "repayment_id": repayment.repayment_id,
                "loan_id": repayment.loan_id,
                "allocation": outcome.allocation.as_minor(),
                "loan_status": outcome.loan.status.value,
            },
        )
