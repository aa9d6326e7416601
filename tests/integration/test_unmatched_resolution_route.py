"""Ops resolve unmatched bank items through ingest_settlement (`POST /v1/unmatched/{id}/resolution`):
ASSIGN repays the loan as a BANK_CREDIT on the booking date (applied by apply_repayment), once per
item, audited; DISMISS is recorded only; the list shows each item's status and resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.models import PaymentItem, RepaymentItem
from scf.service.unmatched import assigned_repayment_id
from tests.integration.statement_world import BANK, IngestWorld, camt054, camt_entry, ingest_world
from tests.reliability.money_harness import api_event
from tests.support import LambdaContext

pytestmark = pytest.mark.integration

OPS = {"sub": "ops-7", "cognito:groups": "ops", "token_use": "id"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch)


def as_ops(event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["claims"] = OPS
    return event


def listed(world: IngestWorld, status: str | None = None) -> list[dict[str, Any]]:
    query = {"status": status} if status else None
    answer = world.ingest.handler(
        as_ops(api_event("GET", "/v1/unmatched", supplier_id=None, query=query)), LambdaContext()
    )
    assert answer["statusCode"] == 200, answer
    items: list[dict[str, Any]] = json.loads(answer["body"])["items"]
    return items


def resolve(
    world: IngestWorld, item_id: str, body: dict[str, Any], key: str, *, ops: bool = True
) -> dict[str, Any]:
    event = api_event(
        "POST",
        f"/v1/unmatched/{item_id}/resolution",
        supplier_id=None if ops else "S1",
        body=body,
        headers={"Idempotency-Key": key},
    )
    answer: dict[str, Any] = world.ingest.handler(as_ops(event) if ops else event, LambdaContext())
    return {"status": answer["statusCode"], "body": json.loads(answer["body"])}


@pytest.fixture
def unmatched(world: IngestWorld) -> dict[str, Any]:
    """A credit of 120.00 booked 2026-01-11 naming no loan, and a debit naming nothing."""
    world.drop(
        f"{BANK}/unknown.xml",
        camt054(
            [
                camt_entry("120.00", "CRDT", reference="U-1", remittance="from a supplier"),
                camt_entry("9.00", "DBIT", reference="U-2", remittance="bank fee"),
            ]
        ),
    )
    items = {item["direction"]: item for item in listed(world)}
    return items


def test_open_items_show_their_id_status_and_two_decimal_amounts(unmatched: dict[str, Any]) -> None:
    credit = unmatched["CREDIT"]
    assert (credit["status"], credit["amount"], credit["booking_status"]) == ("OPEN", "120.00", "BOOKED")
    assert (credit["item_id"] == credit["entry_id"] and "resolution" not in credit) or credit[
        "resolution"
    ] is None


def test_an_assigned_credit_repays_the_loan_on_its_booking_date_once(
    world: IngestWorld, unmatched: dict[str, Any]
) -> None:
    world.set_today(date(2026, 1, 1))
    loan_id = world.active_loan(1, "S1", 1_000_000)
    world.set_today(date(2026, 1, 15))
    item_id = unmatched["CREDIT"]["item_id"]
    body = {"action": "ASSIGN", "loan_id": loan_id, "note": "supplier called: it is for this loan"}

    first = resolve(world, item_id, body, "k-1")
    retry = resolve(world, item_id, body, "k-1")
    again = resolve(world, item_id, {"action": "DISMISS", "note": "oops"}, "k-2")
    reused = resolve(world, item_id, {**body, "note": "another"}, "k-1")

    assert first["status"] == 200 and retry == first
    resolution = first["body"]["resolution"]
    assert (resolution["action"], resolution["by"], resolution["loan_id"]) == ("ASSIGN", "ops-7", loan_id)
    assert (again["status"], again["body"]["code"]) == (409, "ALREADY_RESOLVED")
    assert reused["status"] == 422
    world.money.deliver("repayments")
    repayment = RepaymentItem.get(*RepaymentItem.key(assigned_repayment_id(item_id)), consistent_read=True)
    assert (repayment.status, repayment.source, repayment.amount_minor) == ("APPLIED", "BANK_CREDIT", 12_000)
    assert repayment.value_date == "2026-01-11"  # the booking date, not the day ops assigned it
    assert world.money.loan(loan_id).outstanding_principal_minor < 1_000_000
    assert [i["item_id"] for i in listed(world)] == [unmatched["DEBIT"]["item_id"]]
    (done,) = listed(world, "RESOLVED")
    assert (done["status"], done["resolution"]["note"]) == ("RESOLVED", body["note"])
    assert "request" not in done["resolution"]


def test_only_a_credit_can_be_assigned_or_returned_and_a_debit_can_be_dismissed(
    world: IngestWorld, unmatched: dict[str, Any]
) -> None:
    debit = unmatched["DEBIT"]["item_id"]
    assigned = resolve(world, debit, {"action": "ASSIGN", "loan_id": "LN1", "note": ""}, "k-3")
    assert (assigned["status"], assigned["body"]["code"]) == (409, "NOT_A_CREDIT")
    dismissed = resolve(world, debit, {"action": "DISMISS", "note": "bank fee, booked by hand"}, "k-4")
    assert dismissed["status"] == 200 and dismissed["body"]["resolution"]["action"] == "DISMISS"


def test_resolution_requests_are_checked_and_ops_only(world: IngestWorld, unmatched: dict[str, Any]) -> None:
    credit = unmatched["CREDIT"]["item_id"]
    assert resolve(world, credit, {"action": "KEEP"}, "k-5")["status"] == 422
    assert resolve(world, credit, {"action": "ASSIGN", "note": "no loan"}, "k-6")["status"] == 422
    assert resolve(world, credit, {"action": "ASSIGN", "loan_id": "LNNONE"}, "k-7")["status"] == 404
    assert resolve(world, "NOSUCHITEM", {"action": "DISMISS"}, "k-8")["status"] == 404
    assert resolve(world, credit, {"action": "DISMISS"}, "k-9", ops=False)["status"] == 403
    returned = resolve(world, credit, {"action": "RETURN", "note": "not ours"}, "k-10")
    # The bank named no sender (no RltdPties/DbtrAcct): nowhere to pay it back to.
    assert (returned["status"], returned["body"]["code"]) == (409, "SENDER_ACCOUNT_UNKNOWN")
    assert listed(world)[0]["status"] == "OPEN"  # nothing was recorded


def test_return_pays_a_credit_back_to_the_account_its_bank_named_as_the_sender(world: IngestWorld) -> None:
    sender = "CN0011223344556677"
    world.drop(
        f"{BANK}/from-a-stranger.xml",
        camt054([camt_entry("75.00", "CRDT", reference="U-9", remittance="?", debtor_account=sender)]),
    )
    (item,) = [i for i in listed(world) if i["amount"] == "75.00"]

    returned = resolve(world, item["item_id"], {"action": "RETURN", "note": "not ours"}, "k-11")

    assert returned["status"] == 200, returned
    refund_id = returned["body"]["resolution"]["refund_id"]
    payment = PaymentItem.get(*PaymentItem.key(refund_id), consistent_read=True)
    assert (payment.status, payment.amount_minor, payment.direction) == ("SENT", 7_500, "PAYOUT")
    assert payment.account["account_number"] == sender
    # On the open-payment index: the next INQUIRE finds the bank never got it and sends it.
    assert payment.gsi2pk == PaymentItem.open_index_pk("REFUND")
    assert payment.refund["item_id"] == item["item_id"]
