"""Ops resolve an unmatched bank item (contract section 8, `POST /v1/unmatched/{item_id}/resolution`):
ASSIGN (the money repays a loan as a BANK_CREDIT on the booking date), RETURN (paid back to its
sender as a refund), DISMISS (recorded only).

Invariant: an item is resolved once, audited (`by`, `at`, `note`), in one write with what the
resolution causes (the repayment and its outbox event); a retry with the same Idempotency-Key and
body gets the first answer (docs/ops-views.md, "Resolving unmatched bank items").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from scf.clock import Clock
from scf.domain.bank_files import CREDIT
from scf.domain.ids import refund_payment_id
from scf.domain.loan import PAID_OUT, Repayment, RepaymentSource, RepaymentStatus
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from scf.events import OutboxEvent
from scf.service.loan_store import RefundOrder, StaleWrite
from scf.service.payments import Account
from scf.service.statements import BANK_CREDIT_PREFIX, LoanRef, _digest_id

OPEN = "OPEN"
RESOLVED = "RESOLVED"
NOTE_MAX_LENGTH = 2000


class Action(StrEnum):
    ASSIGN = "ASSIGN"
    RETURN = "RETURN"
    DISMISS = "DISMISS"


class ItemNotFound(NotFound):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"no unmatched bank item {item_id}", code="ITEM_NOT_FOUND")


class AlreadyResolved(Conflict):
    default_code = "ALREADY_RESOLVED"


@dataclass(frozen=True)
class UnmatchedItem:
    """What the resolution needs of a bank item on the ops list."""

    item_id: str
    status: str  # OPEN | RESOLVED
    direction: str | None
    amount_minor: int | None
    currency: str | None
    booking_date: str | None
    resolution: dict[str, Any] | None = None
    bank: str | None = None  # the bank whose statement booked it (a RETURN is paid through it)
    sender: dict[str, str] | None = None  # a credit's debtor {account, bic?}, when the bank named it


class UnmatchedStore(Protocol):
    def get_item(self, item_id: str) -> UnmatchedItem | None:
        """The item if it is (or was) on the ops list, else None (strongly consistent)."""
        ...

    def get_loan_ref(self, loan_id: str) -> LoanRef | None: ...

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
        """The resolution while the item is OPEN, with its repayment and event, or the refund
        order that returns the money, all or nothing; `StaleWrite` if it was resolved meanwhile."""
        ...


def request_hash(item_id: str, by: str, idempotency_key: str, body: dict[str, Any]) -> tuple[str, str]:
    """(hash of the key, hash of key and body): the first finds a retry, the second tells a retry
    from the same key sent with another body."""
    key = hashlib.sha256(json.dumps([item_id, by, idempotency_key]).encode()).hexdigest()
    whole = hashlib.sha256(json.dumps([key, body], sort_keys=True).encode()).hexdigest()
    return key, whole


@dataclass(frozen=True)
class ResolutionRequest:
    action: Action
    loan_id: str | None
    note: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ResolutionRequest:
        try:
            action = Action(str(body.get("action")))
        except ValueError:
            raise InvalidInput(
                "must be ASSIGN, RETURN or DISMISS", code="INVALID_ACTION", field="action"
            ) from None
        loan_id = body.get("loan_id")
        if action is Action.ASSIGN:
            if not isinstance(loan_id, str) or not 0 < len(loan_id) <= 64:
                raise InvalidInput("ASSIGN names the loan to repay", code="LOAN_ID_REQUIRED", field="loan_id")
        elif "loan_id" in body:  # even null: the document says RETURN and DISMISS name no loan
            raise InvalidInput(f"{action} takes no loan_id", code="LOAN_ID_NOT_ALLOWED", field="loan_id")
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > NOTE_MAX_LENGTH:
            raise InvalidInput(
                f"must be a text of at most {NOTE_MAX_LENGTH} characters", code="INVALID_VALUE", field="note"
            )
        return cls(action, loan_id, note)


@dataclass(frozen=True)
class UnmatchedService:
    store: UnmatchedStore
    clock: Clock

    def resolve(self, item_id: str, body: dict[str, Any], *, by: str, idempotency_key: str) -> dict[str, Any]:
        """Resolve the item once; returns the resolution (the first one to a retry of the request)."""
        request = ResolutionRequest.from_json(body)
        key_hash, body_hash = request_hash(item_id, by, idempotency_key, body)
        item = self.store.get_item(item_id)
        if item is None:
            raise ItemNotFound(item_id)
        first = self._first_answer(item, key_hash, body_hash)
        if first is not None:
            return first
        if request.action in (Action.ASSIGN, Action.RETURN) and item.direction != CREDIT:
            raise Conflict(f"only a CREDIT can be {request.action.lower()}ed", code="NOT_A_CREDIT")
        now = self.clock.now().isoformat()
        resolution: dict[str, Any] = {
            "action": request.action.value,
            "note": request.note,
            "by": by,
            "at": now,
            "request": key_hash,
            "request_body": body_hash,
        }
        repayment = refund = account = None
        if request.action is Action.ASSIGN:
            assert request.loan_id is not None
            repayment = self._repayment(item, request.loan_id)
            resolution |= {"loan_id": request.loan_id, "repayment_id": repayment.repayment_id}
        elif request.action is Action.RETURN:
            refund, account = self._return(item)
            resolution |= {"refund_id": refund.refund_id}
        try:
            self.store.resolve(
                item,
                resolution,
                now,
                repayment=repayment,
                event=repayment.requested_event() if repayment else None,
                refund=refund,
                refund_account=account,
            )
        except StaleWrite:
            current = self.store.get_item(item_id)
            first = self._first_answer(current, key_hash, body_hash) if current else None
            if first is not None:
                return first
            raise AlreadyResolved(f"bank item {item_id} was resolved meanwhile") from None
        return shown(resolution)

    def _return(self, item: UnmatchedItem) -> tuple[RefundOrder, Account]:
        """The refund order paying the credit back to its sender's account, through the bank that
        booked it; reserved SENT with the resolution, sent by the next daily INQUIRE (the bank has
        never seen it, so it is sent with its id) and closed like any refund (`RefundPaid`)."""
        sender = item.sender or {}
        if not sender.get("account") or item.bank is None:
            # MT940 and camt files without RltdPties/DbtrAcct name no sender: nowhere to pay it back.
            raise Conflict("the sender's account of this item is not known", code="SENDER_ACCOUNT_UNKNOWN")
        if not item.amount_minor or item.amount_minor <= 0 or not item.currency:
            raise Conflict("the item has no exact amount to return", code="NOT_APPLICABLE")
        refund = RefundOrder(
            refund_id=refund_payment_id("RETURN", item.item_id),
            supplier_id=None,
            currency=item.currency,
            business_date=self.clock.today(),
            item_id=item.item_id,
            returned_minor=item.amount_minor,
        )
        return refund, Account(item.bank, sender["account"], "sender of bank item " + item.item_id)

    @staticmethod
    def _first_answer(item: UnmatchedItem, key_hash: str, body_hash: str) -> dict[str, Any] | None:
        if item.status != RESOLVED or item.resolution is None:
            return None
        if item.resolution.get("request") != key_hash:
            raise AlreadyResolved(
                f"bank item {item.item_id} is resolved already ({item.resolution['action']})"
            )
        if item.resolution.get("request_body") != body_hash:
            raise IdempotencyKeyReused()
        return shown(item.resolution)

    def _repayment(self, item: UnmatchedItem, loan_id: str) -> Repayment:
        loan = self.store.get_loan_ref(loan_id)
        if loan is None:
            raise NotFound(f"loan {loan_id} was not found", code="LOAN_NOT_FOUND", field="loan_id")
        if loan.status not in {status.value for status in PAID_OUT}:
            raise Conflict(f"loan {loan_id} is {loan.status}: not paid out", code="LOAN_NOT_PAID_OUT")
        if item.currency != loan.currency:
            raise InvalidInput(
                f"the item is in {item.currency}, loan {loan_id} in {loan.currency}",
                code="CURRENCY_MISMATCH",
                field="loan_id",
            )
        if not item.amount_minor or item.amount_minor <= 0 or item.booking_date is None:
            raise Conflict("the item has no exact amount or booking date to apply", code="NOT_APPLICABLE")
        return Repayment(
            repayment_id=assigned_repayment_id(item.item_id),
            loan_id=loan_id,
            supplier_id=loan.supplier_id,
            status=RepaymentStatus.PENDING,
            source=RepaymentSource.BANK_CREDIT,
            amount_minor=item.amount_minor,
            currency=loan.currency,
            value_date=date.fromisoformat(item.booking_date),
        )


def assigned_repayment_id(item_id: str) -> str:
    """The BANK_CREDIT repayment of an item ops assigned (one per item)."""
    return BANK_CREDIT_PREFIX + _digest_id("ASSIGNED", item_id)


def shown(resolution: dict[str, Any]) -> dict[str, Any]:
    """The resolution as ops see it (never the request hashes kept for retries)."""
    return {k: v for k, v in resolution.items() if k not in ("request", "request_body")}
