"""The REPUBLISH step's store (scf.service.republish) on the business table: candidates from gsi2
(`LOANS#APPROVED`, `REPAYMENTS#PENDING`), and the event published again by touching its outbox
item, so the table stream emits a MODIFY that the target's pipe forwards (docs/operations.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from scf.adapters.dynamodb.loan_repository import _loan, _repayment
from scf.adapters.dynamodb.models import LoanItem, OutboxItem, RepaymentItem
from scf.adapters.dynamodb.transactions import CONDITION_FAILED, cancellation_codes, connection
from scf.domain.loan import LoanStatus, Repayment, RepaymentStatus
from scf.events import LOAN_APPROVED, OUTBOX_KIND, OUTBOX_TTL_SECONDS, OutboxEvent
from scf.service.loan_store import LoanRecord
from scf.service.republish import RepublishStore


class DynamoRepublishStore(RepublishStore):
    def approved_loans(self) -> list[LoanRecord]:
        """gsi2 LOANS#APPROVED (loans not paid out yet sort first there, by loan id)."""
        query = LoanItem.by_status.query(LoanItem.status_index_pk(LoanStatus.APPROVED.value))
        return [_loan(item) for item in query if isinstance(item, LoanItem)]

    def pending_repayments_before(self, moment: datetime) -> list[Repayment]:
        """gsi2 REPAYMENTS#PENDING with gsi2sk < "<moment UTC>" (ordered by request time)."""
        query = RepaymentItem.by_state.query(
            RepaymentItem.PENDING_INDEX, RepaymentItem.gsi2sk < RepaymentItem.pending_index_sk(moment, "")
        )
        return [_repayment(item) for item in query if isinstance(item, RepaymentItem)]

    def republish(self, event: OutboxEvent, *, business_date: date, now: datetime) -> bool:
        """One TransactWriteItems: ConditionCheck that the effect has not happened, and an
        UpdateItem of the outbox item setting `republished_on` (condition: not already this date).
        Every attribute is set (the first payload and created_at kept), so an item its TTL removed
        comes back whole: an INSERT then, a MODIFY otherwise; both pass the pipe's filter."""
        day = business_date.isoformat()
        outbox = OutboxItem(*OutboxItem.key(event.event_id))
        actions: list[Action] = [
            OutboxItem.kind.set(OUTBOX_KIND),
            OutboxItem.target.set(event.target),
            OutboxItem.event_type.set(event.event_type),
            OutboxItem.payload.set(
                OutboxItem.payload | json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
            ),
            OutboxItem.created_at.set(OutboxItem.created_at | now.isoformat()),
            OutboxItem.expires_at.set(now.astimezone(UTC) + timedelta(seconds=OUTBOX_TTL_SECONDS)),
            OutboxItem.republished_on.set(day),
        ]
        try:
            with TransactWrite(connection=connection()) as transaction:
                if event.event_type == LOAN_APPROVED:
                    transaction.condition_check(
                        LoanItem,
                        *LoanItem.key(str(event.payload["loan_id"])),
                        condition=LoanItem.status == LoanStatus.APPROVED.value,
                    )
                else:
                    transaction.condition_check(
                        RepaymentItem,
                        *RepaymentItem.key(str(event.payload["repayment_id"])),
                        condition=RepaymentItem.status == RepaymentStatus.PENDING.value,
                    )
                transaction.update(
                    outbox,
                    actions=actions,
                    condition=OutboxItem.republished_on.does_not_exist() | (OutboxItem.republished_on != day),
                )
        except TransactWriteError as exc:
            if CONDITION_FAILED in cancellation_codes(exc):
                return False
            raise
        return True
