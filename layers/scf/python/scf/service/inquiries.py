"""The daily status inquiry, step INQUIRE (contract sections 7 and 10): every payment of the kinds
a function owns that is still without an outcome and was sent before the cutoff is asked about at
its bank. A final answer goes through the outcome use case, as any bank answer does; one the bank
never received is sent again by its owner with the same payment id; PENDING is left for the bank.

Invariant: an inquiry changes a payment only as the bank's own answer would, so racing a late
bank file it still gives one outcome (docs/bank-gateways.md, "The daily status inquiry").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.errors import ScfError, Unavailable
from scf.service.lending_day import Step, StepResult, begun
from scf.service.loan_store import LoanStore, PaymentRecord, api_report
from scf.service.metrics import NO_METRICS, OPEN_PAYMENTS_INQUIRED, Metrics
from scf.service.payments import Gateways, PaymentKind, PaymentStatus, payment_kind
from scf.service.statements import PaymentOutcomes

logger = Logger(child=True)

INQUIRY_SOURCE = "inquiry"  # the `source` of a report the inquiry got (as "pain.002", "api")
# A payment sent less than this before the step was due may still be in its sender's hands (the
# adapter's retries, a redelivery after the function's timeout): it waits for the next day's step.
IN_FLIGHT = timedelta(minutes=15)

Resend = Callable[[PaymentRecord], object]
"""The owner's use case that asks the bank once more and sends the order again with its payment id."""


class Inquiry(StrEnum):
    """What the inquiry did about one open payment."""

    RESOLVED = "RESOLVED"  # the bank's final answer applied (outcome use case)
    RESENT = "RESENT"  # the bank never received it: sent again by its owner, same payment id
    PENDING = "PENDING"  # the bank holds it without a final answer: left for the bank
    CLOSED = "CLOSED"  # closed since the index was read (a bank file came first): nothing to do


class InquiryIncomplete(Unavailable):
    """Some payments could not be asked about (their bank was unavailable): the step's message is
    retried; the payments resolved meanwhile are no longer open, so they are not asked again."""

    default_code = "INQUIRY_INCOMPLETE"


@dataclass(frozen=True)
class InquiryService:
    loans: LoanStore
    gateways: Gateways
    outcomes: PaymentOutcomes
    clock: Clock
    resend: Mapping[PaymentKind, Resend]  # the kinds this function owns, and how each is sent again
    policy: CreditPolicy = DEFAULT_POLICY
    metrics: Metrics = NO_METRICS

    def cutoff(self, business_date: date, at: datetime | None = None) -> datetime:
        """`IN_FLIGHT` before the step was due: its schedule's moment `at`, else the start of the
        business date. Fixed for the day's message, however late or often it is delivered."""
        due = at or datetime.combine(business_date, time(0), ZoneInfo(self.policy.timezone))
        return due - IN_FLIGHT

    def run(self, business_date: date, at: datetime | None = None) -> StepResult:
        """Ask about every open payment of the owned kinds sent before `cutoff`."""
        sent_before = self.cutoff(begun(business_date, self.clock), at)
        read = written = 0
        failed: list[str] = []
        for kind in self.resend:
            open_of_kind = 0
            for payment in self.loans.open_payments(kind, sent_before):
                read += 1
                open_of_kind += 1
                try:
                    done = self.inquire(payment)
                except ScfError as exc:
                    logger.warning(
                        "inquiry failed; the step will be retried",
                        extra={"payment_id": payment.payment_id, "error": exc.code},
                    )
                    failed.append(payment.payment_id)
                    continue
                written += done in (Inquiry.RESOLVED, Inquiry.RESENT)
            # Still without an outcome 15 minutes after sending (the payout alarm reads PAYOUT).
            self.metrics.put(OPEN_PAYMENTS_INQUIRED, open_of_kind, kind=kind.value)
        result = StepResult(Step.INQUIRE, business_date, read, written)
        if failed:
            logger.warning("inquiry incomplete", extra={**result.as_json(), "failed": len(failed)})
            raise InquiryIncomplete(f"{len(failed)} open payments could not be asked about: {failed[:10]}")
        return result

    def inquire(self, payment: PaymentRecord) -> Inquiry:
        """Ask the payment's bank and act on the answer."""
        current = self.loans.get_payment(payment.payment_id)  # the index may lag a bank file's write
        if current is None or current.final is not None:
            return self._logged(payment, Inquiry.CLOSED, None)
        answer = self.gateways.for_bank(current.bank_code).status(current.payment_id)
        if answer.status.final:
            report = replace(api_report(answer, current.bank_code), source=INQUIRY_SOURCE)
            self.outcomes.apply(report)
            return self._logged(current, Inquiry.RESOLVED, answer.status)
        if answer.status is PaymentStatus.PENDING:
            return self._logged(current, Inquiry.PENDING, answer.status)
        self.resend[payment_kind(current.payment_id)](current)
        return self._logged(current, Inquiry.RESENT, answer.status)

    @staticmethod
    def _logged(payment: PaymentRecord, done: Inquiry, status: PaymentStatus | None) -> Inquiry:
        logger.info(
            "payment inquired",
            extra={
                "payment_id": payment.payment_id,
                "bank_code": payment.bank_code,
                "bank_status": status.value if status else None,
                "inquiry": done.value,
            },
        )
        return done
