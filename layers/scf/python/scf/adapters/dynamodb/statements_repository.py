"""DynamoDB side of bank statements and settlement sweeps (docs/ingestion.md): bank entries written
once per entry id with what they caused, sweeps written once per PAYMENT document with their
repayments and outbox events, each in one TransactWriteItems."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from scf.adapters.dynamodb.files_repository import UNMATCHED_INDEX_PK
from scf.adapters.dynamodb.loan_repository import LoanRepository, _outbox_item
from scf.adapters.dynamodb.models import (
    BankEntryItem,
    OutboxItem,
    PaymentItem,
    RepaymentItem,
    SweepItem,
)
from scf.adapters.dynamodb.transactions import CONDITION_FAILED, cancellation_codes, connection
from scf.domain.loan import REPAYABLE, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.events import REPAYMENT_REQUESTED, OutboxEvent
from scf.service.statements import BankEntry, LoanRef, PaymentRef
from scf.service.sweeps import OpenLoan, Sweep, SweptLoan


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class StatementsRepository:
    def __init__(self, loans: LoanRepository | None = None) -> None:
        self.loans = loans or LoanRepository()

    # ---- lookups ----------------------------------------------------------------------------------

    def get_loan_ref(self, loan_id: str) -> LoanRef | None:
        record = self.loans.get_loan(loan_id)
        if record is None:
            return None
        loan = record.loan
        return LoanRef(loan.loan_id, loan.supplier_id, loan.currency, loan.status.value)

    def get_payment_ref(self, payment_id: str) -> PaymentRef | None:
        try:
            item = PaymentItem.get(*PaymentItem.key(payment_id), consistent_read=True)
        except PaymentItem.DoesNotExist:
            return None
        return PaymentRef(
            item.payment_id, item.loan_id, item.direction, int(item.amount_minor), item.currency, item.status
        )

    # ---- bank entries -----------------------------------------------------------------------------

    def record_entry(
        self,
        entry: BankEntry,
        now: datetime,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
        payment_update: tuple[str, str, dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        stamp = _iso(now)
        item = BankEntryItem(
            *BankEntryItem.key(entry.entry_id),
            entry_id=entry.entry_id,
            bank=entry.bank,
            account=entry.account,
            amount=entry.amount,
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            direction=entry.direction,
            status=entry.status,
            reversal=entry.reversal,
            booking_date=entry.booking_date,
            references=entry.references,
            matched=entry.matched,
            code=entry.code,
            file_key=entry.file_key,
            line=entry.line,
            created_at=stamp,
        )
        if entry.code:
            item.gsi1pk = UNMATCHED_INDEX_PK
            item.gsi1sk = f"{entry.booking_date or stamp[:10]}#{entry.entry_id}"
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(item, condition=BankEntryItem.pk.does_not_exist())
                if repayment is not None:
                    tx.save(
                        LoanRepository._repayment_item(repayment, now.isoformat()),
                        condition=RepaymentItem.pk.does_not_exist(),
                    )
                if event is not None:
                    tx.save(_outbox_item(event, now), condition=OutboxItem.pk.does_not_exist())
                if payment_update is not None:
                    payment_id, attribute, value = payment_update
                    tx.update(
                        PaymentItem(*PaymentItem.key(payment_id)),
                        actions=[
                            getattr(PaymentItem, attribute).set(value),
                            PaymentItem.updated_at.set(now.isoformat()),
                        ],
                        condition=PaymentItem.pk.exists(),
                    )
        except TransactWriteError as exc:
            if CONDITION_FAILED not in cancellation_codes(exc):
                raise
            first = BankEntryItem.get(*BankEntryItem.key(entry.entry_id), consistent_read=True)
            matched: dict[str, Any] = first.matched
            return matched
        return None

    # ---- sweeps -----------------------------------------------------------------------------------

    def find_sweep(self, supplier_id: str, document_id: str) -> Sweep | None:
        try:
            item = SweepItem.get(*SweepItem.key(supplier_id, document_id), consistent_read=True)
        except SweepItem.DoesNotExist:
            return None
        return Sweep(
            document_id=item.document_id,
            supplier_id=item.supplier_id,
            currency=item.currency,
            amount_minor=int(item.amount_minor),
            swept=tuple(
                SweptLoan(s["loan_id"], int(s["amount_minor"]), s["repayment_id"]) for s in item.swept or []
            ),
            released_minor=int(item.released_minor),
        )

    def open_loans(self, supplier_id: str, currency: str, as_of: date) -> list[OpenLoan]:
        """The supplier's paid-out loans in `currency` not yet repaid, with what they still owe today
        less what is already on its way (repayments requested, not applied yet)."""
        found = []
        for record in self.loans.all_loans_of(supplier_id):
            loan = record.loan
            if loan.status not in REPAYABLE or loan.currency != currency or loan.maturity_date is None:
                continue
            pending = sum(
                r.amount_minor
                for r in self.loans.repayments_of(loan.loan_id)
                if r.status is RepaymentStatus.PENDING
            )
            found.append(OpenLoan(loan.loan_id, loan.maturity_date, loan.position(as_of).payoff - pending))
        return found

    def commit_sweep(self, sweep: Sweep, source: str, now: datetime) -> bool:
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(
                    SweepItem(
                        *SweepItem.key(sweep.supplier_id, sweep.document_id),
                        supplier_id=sweep.supplier_id,
                        document_id=sweep.document_id,
                        currency=sweep.currency,
                        amount_minor=sweep.amount_minor,
                        released_minor=sweep.released_minor,
                        swept=[
                            {
                                "loan_id": s.loan_id,
                                "amount_minor": s.amount_minor,
                                "repayment_id": s.repayment_id,
                            }
                            for s in sweep.swept
                        ],
                        source=source,
                        created_at=_iso(now),
                    ),
                    condition=SweepItem.pk.does_not_exist(),
                )
                for swept in sweep.swept:
                    repayment = Repayment(
                        repayment_id=swept.repayment_id,
                        loan_id=swept.loan_id,
                        supplier_id=sweep.supplier_id,
                        status=RepaymentStatus.PENDING,
                        source=RepaymentSource.SETTLEMENT_SWEEP,
                        amount_minor=swept.amount_minor,
                        currency=sweep.currency,
                    )
                    tx.save(
                        LoanRepository._repayment_item(repayment, now.isoformat()),
                        condition=RepaymentItem.pk.does_not_exist(),
                    )
                    event = OutboxEvent(
                        event_id=f"{REPAYMENT_REQUESTED}-{swept.repayment_id}",
                        event_type=REPAYMENT_REQUESTED,
                        payload={
                            "repayment_id": swept.repayment_id,
                            "loan_id": swept.loan_id,
                            "supplier_id": sweep.supplier_id,
                            "amount": format_amount(swept.amount_minor),
                            "currency": sweep.currency,
                            "source": RepaymentSource.SETTLEMENT_SWEEP.value,
                        },
                    )
                    tx.save(_outbox_item(event, now), condition=OutboxItem.pk.does_not_exist())
        except TransactWriteError as exc:
            if CONDITION_FAILED not in cancellation_codes(exc):
                raise
            return False
        return True
