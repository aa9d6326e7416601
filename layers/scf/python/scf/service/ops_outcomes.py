"""A bank's answer that ops obtained out of band (`POST /v1/ops/payments/{id}/outcome`): a payment
the bank's files never answered (a lost pain.002) is closed through the outcome use case, exactly as
the bank's own report would close it (docs/operations.md, runbook "PayoutNotActive").

Invariant: only an open payment sent at least `IN_FLIGHT` ago; once per payment, a retry of the
same request gets the first answer (docs/ops-views.md, "Recording a bank's answer").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from scf.clock import Clock
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from scf.service.inquiries import IN_FLIGHT
from scf.service.loan_store import LoanStore, PaymentRecord, StoredReport
from scf.service.payments import PaymentReport, PaymentStatus
from scf.service.statements import PaymentOutcomes
from scf.service.unmatched import request_hash

OPS_SOURCE = "ops"  # the `source` of a report ops recorded
REASON_MAX_LENGTH = 140
REFERENCE_MAX_LENGTH = 35  # an ISO 20022 Max35Text, as the bank's own references


class PaymentAlreadyFinal(Conflict):
    default_code = "PAYMENT_ALREADY_FINAL"


class PaymentTooRecent(Conflict):
    """The bank may still answer: its own answer is awaited (the daily INQUIRE waits as long)."""

    default_code = "PAYMENT_TOO_RECENT"


@dataclass(frozen=True)
class OutcomeRequest:
    status: PaymentStatus
    reason: str
    value_date: date | None
    bank_reference: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> OutcomeRequest:
        """The request's shape (what the OpenAPI document says); the value date's day is checked
        once the payment is found (`check_value_date`), so an unknown payment is a 404 whatever
        the day."""
        status = body.get("status")
        if status not in (PaymentStatus.SETTLED.value, PaymentStatus.REJECTED.value):
            raise InvalidInput("must be SETTLED or REJECTED", code="INVALID_STATUS", field="status")
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX_LENGTH:
            raise InvalidInput(
                f"must be a text of 1 to {REASON_MAX_LENGTH} characters", code="INVALID_VALUE", field="reason"
            )
        reference = body.get("bank_reference")
        if "bank_reference" in body and (
            not isinstance(reference, str) or not 0 < len(reference) <= REFERENCE_MAX_LENGTH
        ):
            raise InvalidInput(
                f"must be a text of 1 to {REFERENCE_MAX_LENGTH} characters",
                code="INVALID_VALUE",
                field="bank_reference",
            )
        return cls(PaymentStatus(status), reason.strip(), _value_date(body, status), reference)

    def check_value_date(self, today: date) -> None:
        if self.value_date is not None and self.value_date > today:
            raise InvalidInput(
                f"must not be after today ({today})", code="VALUE_DATE_IN_FUTURE", field="value_date"
            )


def _value_date(body: dict[str, Any], status: str) -> date | None:
    """Required for SETTLED; not allowed for REJECTED (nothing was booked)."""
    raw = body.get("value_date")
    if status == PaymentStatus.REJECTED.value:
        if "value_date" in body:
            raise InvalidInput(
                "a rejection has no value date", code="VALUE_DATE_NOT_ALLOWED", field="value_date"
            )
        return None
    if raw is None:
        raise InvalidInput(
            "SETTLED needs the bank's value date", code="VALUE_DATE_REQUIRED", field="value_date"
        )
    try:
        value_date = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        value_date = None
    if value_date is None:
        raise InvalidInput("must be a date YYYY-MM-DD", code="INVALID_DATE", field="value_date")
    return value_date


@dataclass(frozen=True)
class OpsOutcomeService:
    loans: LoanStore
    outcomes: PaymentOutcomes
    clock: Clock

    def record(
        self, payment_id: str, body: dict[str, Any], *, by: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Apply the answer ops obtained from the bank, once; the answer (a retry: the first one's)."""
        request = OutcomeRequest.from_json(body)
        key_hash, body_hash = request_hash(payment_id, by, idempotency_key, body)
        payment = self._payment(payment_id)
        first = self._first_answer(payment, key_hash, body_hash)
        if first is not None:
            return first
        request.check_value_date(self.clock.today())
        if payment.final is not None:
            raise PaymentAlreadyFinal(f"payment {payment_id} is {payment.final} already")
        if payment.sent_at is not None and self.clock.now() - payment.sent_at < IN_FLIGHT:
            raise PaymentTooRecent(
                f"payment {payment_id} was sent less than {IN_FLIGHT} ago: the bank may still answer"
            )
        self.outcomes.apply(
            PaymentReport(
                payment_id=payment_id,
                bank_code=payment.bank_code,  # the outcome use case hears only the payment's bank
                status=request.status,
                source=OPS_SOURCE,
                value_date=request.value_date,
                reason=request.reason,
                reference=request.bank_reference,
                by=by,
                request=key_hash,
                request_body=body_hash,
            )
        )
        # Read back: a bank file racing this call may have closed it first (effect RECORDED or
        # OUTCOME_CONFLICT: the ops report kept, nothing changed).
        answer = self._first_answer(self._payment(payment_id), key_hash, body_hash)
        assert answer is not None, "the outcome use case keeps every report from the payment's bank"
        return answer

    def _payment(self, payment_id: str) -> PaymentRecord:
        payment = self.loans.get_payment(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} was not found", code="PAYMENT_NOT_FOUND")
        return payment

    def _first_answer(self, payment: PaymentRecord, key_hash: str, body_hash: str) -> dict[str, Any] | None:
        mine = next((r for r in payment.reports if r.report.request == key_hash), None)
        if mine is None:
            return None
        if mine.report.request_body != body_hash:
            raise IdempotencyKeyReused()
        return self._answer(payment, mine)

    def _answer(self, payment: PaymentRecord, mine: StoredReport) -> dict[str, Any]:
        """The loan's status as it is now (a refund pays back no one loan: none)."""
        record = self.loans.get_loan(payment.loan_id) if payment.refund is None else None
        return {
            "payment_id": payment.payment_id,
            "status": mine.report.status.value,
            "effect": mine.effect,
            "payment_status": payment.status,
            "loan_id": record.loan.loan_id if record else None,
            "loan_status": record.loan.status.value if record else None,
            "recorded_at": mine.at,
            "by": mine.report.by,
        }
