"""The statement matcher's `StatementStore` on DynamoDB (docs/ingestion.md): bank entries written once
per entry id with what they caused, each in one TransactWriteItems. A payment's own record is never
written here: its reports go through the outcome service (scf.service.outcomes). (Settlement sweeps
are written with their PAYMENT documents: scf.adapters.dynamodb.documents_repository.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from scf.adapters.dynamodb.files_repository import RESOLVED_INDEX_PK, UNMATCHED_INDEX_PK
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore, _outbox_item, refund_payment_item
from scf.adapters.dynamodb.models import (
    BankEntryItem,
    OutboxItem,
    PaymentItem,
    RepaymentItem,
)
from scf.adapters.dynamodb.transactions import CONDITION_FAILED, cancellation_codes, connection
from scf.clock import iso_utc
from scf.domain.loan import Repayment
from scf.events import OutboxEvent
from scf.service.loan_store import RefundOrder, StaleWrite
from scf.service.payments import Account, Direction
from scf.service.statements import BankEntry, LoanRef, PaymentRef
from scf.service.unmatched import OPEN, RESOLVED, UnmatchedItem, UnmatchedStore


class DynamoStatementStore:
    def __init__(self, loans: DynamoLoanStore | None = None) -> None:
        self.loans = loans or DynamoLoanStore()

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
            repayment = self.loans.get_repayment(payment_id)  # a collection's payment id is its id
            if repayment is None:
                return None
            return PaymentRef(
                payment_id,
                repayment.loan_id,
                Direction.COLLECTION.value,
                repayment.amount_minor,
                repayment.currency,
                repayment.status.value,
            )
        return PaymentRef(
            item.payment_id, item.loan_id, item.direction, int(item.amount_minor), item.currency, item.status
        )

    def recorded_match(self, entry_id: str) -> dict[str, Any] | None:
        try:
            item = BankEntryItem.get(*BankEntryItem.key(entry_id), consistent_read=True)
        except BankEntryItem.DoesNotExist:
            return None
        matched: dict[str, Any] = item.matched
        return matched

    # ---- bank entries -----------------------------------------------------------------------------

    def record_entry(
        self,
        entry: BankEntry,
        now: datetime,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
    ) -> dict[str, Any] | None:
        stamp = iso_utc(now)
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
            sender=entry.sender,
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
                        DynamoLoanStore._repayment_item(repayment, now.isoformat()),
                        condition=RepaymentItem.pk.does_not_exist(),
                    )
                if event is not None:
                    tx.save(_outbox_item(event, now), condition=OutboxItem.pk.does_not_exist())
        except TransactWriteError as exc:
            if CONDITION_FAILED not in cancellation_codes(exc):
                raise
            first = BankEntryItem.get(*BankEntryItem.key(entry.entry_id), consistent_read=True)
            matched: dict[str, Any] = first.matched
            return matched
        return None


class DynamoUnmatchedStore(UnmatchedStore):
    """Ops resolutions of unmatched bank items (scf.service.unmatched), on their BankEntryItem."""

    def __init__(self, statements: DynamoStatementStore | None = None) -> None:
        self.statements = statements or DynamoStatementStore()

    def get_item(self, item_id: str) -> UnmatchedItem | None:
        try:
            item = BankEntryItem.get(*BankEntryItem.key(item_id), consistent_read=True)
        except BankEntryItem.DoesNotExist:
            return None
        if item.gsi1pk not in (UNMATCHED_INDEX_PK, RESOLVED_INDEX_PK):
            return None  # matched: never on the ops list
        return UnmatchedItem(
            item_id=item.entry_id,
            status=RESOLVED if item.gsi1pk == RESOLVED_INDEX_PK else OPEN,
            direction=item.direction,
            amount_minor=int(item.amount_minor) if item.amount_minor is not None else None,
            currency=item.currency,
            booking_date=item.booking_date,
            resolution=item.resolution,
            bank=item.bank,
            sender=item.sender,
        )

    def get_loan_ref(self, loan_id: str) -> LoanRef | None:
        return self.statements.get_loan_ref(loan_id)

    def resolve(
        self,
        item: UnmatchedItem,
        resolution: dict[str, Any],
        now: str,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
        refund: RefundOrder | None = None,
        refund_account: Account | None = None,
    ) -> None:
        """The resolution and the move to UNMATCHED#RESOLVED while OPEN, with its repayment and
        event, or the refund order SENT that returns the money (sent by the next INQUIRE step)."""
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.update(
                    BankEntryItem(*BankEntryItem.key(item.item_id)),
                    actions=[
                        BankEntryItem.resolution.set(resolution),
                        BankEntryItem.gsi1pk.set(RESOLVED_INDEX_PK),
                    ],
                    condition=(BankEntryItem.gsi1pk == UNMATCHED_INDEX_PK)
                    & BankEntryItem.resolution.does_not_exist(),
                )
                if repayment is not None:
                    tx.save(
                        DynamoLoanStore._repayment_item(repayment, now),
                        condition=RepaymentItem.pk.does_not_exist(),
                    )
                if event is not None:
                    moment = datetime.fromisoformat(now)
                    tx.save(_outbox_item(event, moment), condition=OutboxItem.pk.does_not_exist())
                if refund is not None and refund_account is not None:
                    tx.save(
                        refund_payment_item(refund, refund_account.bank_code, refund_account, now),
                        condition=PaymentItem.pk.does_not_exist(),
                    )
        except TransactWriteError as exc:
            if CONDITION_FAILED in cancellation_codes(exc):
                raise StaleWrite(cancellation_codes(exc)) from exc
            raise
