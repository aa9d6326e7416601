"""Outbox events: written as items inside the money transaction, delivered by the table stream
through an EventBridge pipe to a queue (docs/architecture.md, "Outbox events"), and the public ones
to the domain-events bus (docs/events.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scf.errors import MalformedRequest

OUTBOX_KIND = "OUTBOX"
OUTBOX_TTL_SECONDS = 7 * 24 * 3600
TARGET_DISBURSEMENTS = "disbursements"
TARGET_REPAYMENTS = "repayments"
# Public events nobody inside consumes: the domain-events pipe picks every outbox item whose
# event_type is public (PUBLIC_EVENTS), whatever its target (docs/events.md).
TARGET_DOMAIN_EVENTS = "domain-events"
EVENT_SOURCE = "scf"  # the `source` of every event on the bus
DETAIL_VERSION = "1"  # the `version` inside every public detail: a breaking change is "2"

REPAYMENT_REQUESTED = "RepaymentRequested"  # internal: the repayments queue's trigger
LOAN_APPROVED = "LoanApproved"  # public, and the disbursements queue's trigger
LOAN_ACTIVATED = "LoanActivated"
LOAN_FAILED = "LoanFailed"
REPAYMENT_APPLIED = "RepaymentApplied"
REPAYMENT_FAILED = "RepaymentFailed"
LOAN_REPAID = "LoanRepaid"
LOAN_EXTENDED = "LoanExtended"
LOAN_DUE_SOON = "LoanDueSoon"
LOAN_OVERDUE = "LoanOverdue"
REFUND_PAID = "RefundPaid"
UNMATCHED_BANK_ITEM = "UnmatchedBankItem"
FILE_PROCESSED = "FileProcessed"

# Contract section 10, in its order (docs/events.md has one row each).
PUBLIC_EVENTS = (
    LOAN_APPROVED,
    LOAN_ACTIVATED,
    LOAN_FAILED,
    REPAYMENT_APPLIED,
    REPAYMENT_FAILED,
    LOAN_REPAID,
    LOAN_EXTENDED,
    LOAN_DUE_SOON,
    LOAN_OVERDUE,
    REFUND_PAID,
    UNMATCHED_BANK_ITEM,
    FILE_PROCESSED,
)

TARGET_OF = {
    **dict.fromkeys(PUBLIC_EVENTS, TARGET_DOMAIN_EVENTS),
    LOAN_APPROVED: TARGET_DISBURSEMENTS,
    REPAYMENT_REQUESTED: TARGET_REPAYMENTS,
}


def stored_payload(event_id: str, event_type: str, payload: dict[str, Any]) -> str:
    """The outbox item's `payload` attribute (JSON): a public event's is its bus `detail`, with
    `event_id` (consumers drop repeats by it) and `version` first; an internal one's is as given."""
    if event_type in PUBLIC_EVENTS:
        payload = {"event_id": event_id, "version": DETAIL_VERSION, **payload}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]
    correlation_id: str | None = None  # of the work that wrote it (scf.correlation); not published

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
            correlation_id=image.get("correlation_id", {}).get("S"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"not an outbox stream record: {exc}") from exc
