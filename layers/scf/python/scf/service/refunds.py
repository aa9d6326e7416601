"""The daily REFUND step (contract sections 3 and 10): what is owed back to a supplier on its loans
goes, once a business day per currency, to its verified account as ONE refund payment (`RF...`).

Invariant: a refund is reserved (its payment order SENT, each loan's part held) in one write
before the bank is called, under an id from its business key (supplier, currency, business date),
so a second run or a crash never pays twice; an order that may have been sent is asked about
first. The bank's answer settles it (refunded, postings, `RefundPaid`) or rejects it (owed again,
paid the next business day). docs/money.md, "Refunds".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from aws_lambda_powertools import Logger

from scf.clock import Clock
from scf.domain.ids import refund_payment_id
from scf.domain.ledger import refund_posting
from scf.service.banks import BankDirectory
from scf.service.disbursement import route_for
from scf.service.lending_day import Step, StepResult, begun
from scf.service.loan_store import (
    ATTEMPTS,
    Effect,
    LoanRecord,
    LoanStore,
    PaymentRecord,
    RefundOrder,
    StaleWrite,
    api_report,
)
from scf.service.payments import (
    Account,
    Direction,
    Gateways,
    PaymentOrder,
    PaymentReport,
    PaymentStatus,
    execute,
    mask_account,
)

logger = Logger(child=True)

# A refund's settlement writes 3 items per loan (loan, posting, index entry) plus the payment and
# the event in one transaction (DynamoDB: at most 100); more loans wait for the next day.
MAX_LOANS_PER_REFUND = 30


@dataclass(frozen=True)
class RefundService:
    loans: LoanStore
    gateways: Gateways
    clock: Clock
    lender: Account | None = field(default=None, kw_only=True)
    banks: BankDirectory | None = field(default=None, kw_only=True)

    def run(self, business_date: date) -> StepResult:
        """Refund every supplier owed money, per currency, for `business_date`."""
        begun(business_date, self.clock)
        records = self.loans.loans_owed_refunds()
        groups: dict[tuple[str, str], list[LoanRecord]] = defaultdict(list)
        for record in records:
            groups[(record.loan.supplier_id, record.loan.currency)].append(record)
        written = 0
        for (supplier_id, currency), group in sorted(groups.items()):
            written += self._resume_unsent(group)
            written += self._refund(supplier_id, currency, business_date, group)
        return StepResult(Step.REFUND, business_date, len(records), written)

    def _resume_unsent(self, group: list[LoanRecord]) -> int:
        """A refund reserved earlier whose bank answer was never recorded (a crash between the
        reservation and the call): ask the bank, send it if it never got it."""
        resumed = 0
        for refund_id in sorted({r.loan.refund_id for r in group if r.loan.refund_id}):
            payment = self.loans.get_payment(refund_id)
            if payment is not None and payment.final is None and not payment.reports:
                self.send_again(payment)
                resumed += 1
        return resumed

    def send_again(self, payment: PaymentRecord) -> Effect:
        """A reserved refund that may have gone (a crash, or the daily inquiry found the bank
        never got it): ask the bank first, send it with the same id if it never arrived."""
        return self._send(payment, maybe_sent=True)

    def _refund(self, supplier_id: str, currency: str, business_date: date, group: list[LoanRecord]) -> int:
        refund_id = refund_payment_id(supplier_id, currency, business_date.isoformat())
        if self.loans.get_payment(refund_id) is not None:
            return 0  # today's refund was reserved by an earlier run (resumed above if unsent)
        account = self.loans.refund_account(supplier_id)
        if account is None:
            logger.warning("no verified account to refund to; stays owed", extra={"supplier_id": supplier_id})
            return 0
        for attempt in range(ATTEMPTS):
            fresh = group if attempt == 0 else [self.loans.get_loan(r.loan.loan_id) for r in group]
            owing = sorted(
                (
                    r
                    for r in fresh
                    if r is not None and r.loan.refund_id is None and r.loan.refund_owed_minor > 0
                ),
                key=lambda r: r.loan.loan_id,
            )[:MAX_LOANS_PER_REFUND]
            if not owing:
                return 0
            refund = RefundOrder(
                refund_id=refund_id,
                supplier_id=supplier_id,
                currency=currency,
                business_date=business_date,
                parts=tuple((r.loan.loan_id, r.loan.refund_owed_minor) for r in owing),
            )
            reserved = [r.loan.reserve_refund(refund_id) for r in owing]
            route = route_for(account, self.banks, self.lender)
            try:
                self.loans.reserve_refund(
                    refund,
                    owing,
                    reserved,
                    bank_code=route.bank_code,
                    account=account,
                    now=self.clock.now().isoformat(),
                )
            except StaleWrite:
                if self.loans.get_payment(refund_id) is not None:
                    return 0  # another run reserved it first; it sends it
                logger.info(
                    "a loan moved while reserving its refund; reloading", extra={"refund_id": refund_id}
                )
                continue
            payment = self.loans.get_payment(refund_id)
            assert payment is not None
            self._send(payment, maybe_sent=False)
            return 1
        raise StaleWrite([f"refund {refund_id}: its loans kept changing"])

    def _send(self, payment: PaymentRecord, *, maybe_sent: bool) -> Effect:
        """Send the reserved refund (asking first when it may have gone) and apply the answer."""
        assert payment.refund is not None and payment.account is not None
        refund = payment.refund
        route = route_for(payment.account, self.banks, self.lender)
        order = PaymentOrder(
            payment_id=payment.payment_id,
            direction=Direction.PAYOUT,  # a credit transfer from the lender's account
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            debtor=route.lender,
            creditor=payment.account,
            remittance=refund_remittance(refund),
        )
        logger.info(
            "refunding",
            extra={
                "refund_id": payment.payment_id,
                "amount_minor": payment.amount_minor,
                "bank_code": payment.bank_code,
                "creditor": f"{payment.account.bank_code}/{mask_account(payment.account.account_number)}",
                "ask_bank_first": maybe_sent,
            },
        )
        result = execute(self.gateways.for_bank(payment.bank_code), order, maybe_sent=maybe_sent)
        return close_refund(self.loans, payment, api_report(result, payment.bank_code), self.clock)


def refund_remittance(refund: RefundOrder) -> str:
    """What the supplier's statement shows: the refund id and the loans it pays back (<= 140)."""
    about = " ".join(loan_id for loan_id, _ in refund.parts) or (refund.item_id or "")
    return f"REFUND {refund.refund_id} {about}"[:140].strip()


def close_refund(loans: LoanStore, payment: PaymentRecord, report: PaymentReport, clock: Clock) -> Effect:
    """What a bank answer about an open refund does: SETTLED -> each loan's part refunded with its
    posting and `RefundPaid`; REJECTED -> owed again; anything else is kept as a report."""
    assert payment.refund is not None
    refund = payment.refund
    now = clock.now().isoformat()
    if not report.status.final:
        loans.record_report(payment.payment_id, report, Effect.RECORDED, now)
        return Effect.RECORDED
    for _ in range(ATTEMPTS):
        records = [loans.get_loan(loan_id) for loan_id, _ in refund.parts]
        if any(r is None or r.loan.refund_id != refund.refund_id for r in records):
            raise StaleWrite([f"refund {refund.refund_id}: a loan is not in it"])
        held = [r for r in records if r is not None]
        settled = report.status is PaymentStatus.SETTLED
        moved = [
            r.loan.settle_refund(refund.refund_id) if settled else r.loan.reject_refund(refund.refund_id)
            for r in held
        ]
        postings = {
            loan_id: refund_posting(refund.refund_id, loan_id, amount)
            for loan_id, amount in refund.parts
            if settled
        }
        event = (
            refund.paid_event(payment.amount_minor, report.value_date or clock.today()) if settled else None
        )
        try:
            loans.close_refund(refund, held, moved, report, postings=postings, event=event, now=now)
        except StaleWrite:
            current = loans.get_payment(payment.payment_id)
            if current is not None and current.final is not None:
                loans.record_report(payment.payment_id, report, Effect.RECORDED, now)
                return Effect.RECORDED  # another answer closed it first
            continue  # a repayment moved a loan meanwhile: read them again
        logger.info(
            "refund closed",
            extra={"refund_id": refund.refund_id, "status": report.status.value, "loans": len(held)},
        )
        return Effect.SETTLED if settled else Effect.REJECTED
    raise StaleWrite([f"refund {refund.refund_id}: its loans kept changing"])
