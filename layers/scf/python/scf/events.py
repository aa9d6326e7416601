"""Outbox events: written as items inside the money transaction, delivered by the table stream
through an EventBridge pipe to a queue (docs/architecture.md, "Outbox events")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scf.errors import MalformedRequest

OUTBOX_KIND = "OUTBOX"
OUTBOX_TTL_SECONDS = 7 * 24 * 3600
TARGET_DISBURSEMENTS = "disbursements"
TARGET_REPAYMENTS = "repayments"
# Domain events (contract section 10) for the cloud team's bus. No pipe carries this target yet
# (issue 10 point 5): the items stay in the table until their TTL, written once by their ids.
TARGET_DOMAIN_EVENTS = "domain-events"

LOAN_APPROVED = "LoanApproved"
REPAYMENT_REQUESTED = "RepaymentRequested"
LOAN_OVERDUE = "LoanOverdue"
LOAN_DUE_SOON = "LoanDueSoon"
REFUND_PAID = "RefundPaid"

TARGET_OF = {
    LOAN_APPROVED: TARGET_DISBURSEMENTS,
    REPAYMENT_REQUESTED: TARGET_REPAYMENTS,
    LOAN_OVERDUE: TARGET_DOMAIN_EVENTS,
    LOAN_DUE_SOON: TARGET_DOMAIN_EVENTS,
    REFUND_PAID: TARGET_DOMAIN_EVENTS,
}


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]

    @property
    def target(self) -> str:
        return TARGET_OF[self.event_type]


class MalformedEvent(MalformedRequest):
    """A queue message that is not an outbox stream record (the record fails; DLQ after retries)."""

    default_code = "MALFORMED_EVENT"


def event_from_stream_record(body: str | dict[str, Any]) -> OutboxEvent:
    """Read an outbox event from an SQS body that holds a DynamoDB stream record (as Pipes sends it)."""
    try:
        record = json.loads(body) if isinstance(body, str) else body
        image = record["dynamodb"]["NewImage"]
        return OutboxEvent(
            event_id=image["pk"]["S"].removeprefix("OUTBOX#"),
            event_type=image["event_type"]["S"],
            payload=json.loads(image["payload"]["S"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"not an outbox stream record: {exc}") from exc
