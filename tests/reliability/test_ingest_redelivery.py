"""Bank statements and sweeps under at-least-once delivery: the same SQS message twice, and a crash
between two transactions of a file (with or without the commit's answer lost) followed by
redelivery, end in exactly the state of one clean run (DESIGN.md section 5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.client
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.integration.statement_world import (
    BANK,
    BUCKET,
    CTX,
    IngestWorld,
    camt054,
    camt_entry,
    ingest_world,
)
from tests.reliability.money_harness import TABLE

pytestmark = pytest.mark.reliability

HEADER = b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch)


def table(world: IngestWorld) -> dict[tuple[str, str], dict[str, Any]]:
    items = {}
    for page in world.money.client.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = item
    return items


def statement(loan: str) -> bytes:
    return camt054(
        [
            camt_entry("300.00", "CRDT", reference="C-1", remittance=f"loan {loan}"),
            camt_entry("1.00", "CRDT", reference="C-2", remittance="not ours"),
            camt_entry("200.00", "CRDT", reference="C-3", remittance=f"again {loan}"),
        ]
    )


def test_the_same_message_delivered_twice_changes_nothing(world: IngestWorld) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(41, "S1", 1_000_000)
    key = f"{BANK}/twice.xml"
    world.drop(key, statement(loan))
    before = table(world)
    report = world.report(key)
    assert world.deliver(key) == {"batchItemFailures": []}
    assert table(world) == before
    assert world.report(key) == report
    assert sorted(e["amount"] for e in world.repayment_events()) == ["200.00", "300.00"]


def crash_on(operation: str, number: int, *, lost_answer: bool) -> Any:
    real = botocore.client.BaseClient._make_api_call
    seen = {"n": 0}

    def fake(self: Any, name: str, params: dict[str, Any]) -> Any:
        if name == operation:
            seen["n"] += 1
            if seen["n"] == number:
                if lost_answer:
                    real(self, name, params)  # committed; the answer never arrives
                raise ConnectionError("injected: worker died")
        return real(self, name, params)

    return mock.patch.object(botocore.client.BaseClient, "_make_api_call", fake)


@pytest.mark.parametrize("lost_answer", [False, True], ids=["crash-before-commit", "commit-answer-lost"])
def test_a_crash_between_entries_then_redelivery_applies_each_entry_once(
    world: IngestWorld, lost_answer: bool
) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(42, "S1", 1_000_000)
    key = f"{BANK}/crashy.xml"
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=statement(loan))
    with crash_on("TransactWriteItems", 2, lost_answer=lost_answer), pytest.raises(BatchProcessingError):
        world.ingest.handler(world.event(key), CTX)
    world.deliver(key)  # the redelivery
    report = world.report(key)
    assert report["status"] == "PROCESSED"
    assert [
        m["matched"] if m["matched"] == "UNMATCHED" else m["matched"]["type"] for m in report["matches"]
    ] == [
        "REPAYMENT",
        "UNMATCHED",
        "REPAYMENT",
    ]
    assert sorted(e["amount"] for e in world.repayment_events()) == ["200.00", "300.00"]
    entries = [k for k in table(world) if k[0].startswith("BANKENTRY#")]
    assert len(entries) == 3


@pytest.mark.parametrize("lost_answer", [False, True], ids=["crash-before-commit", "commit-answer-lost"])
def test_a_crash_around_the_payments_transaction_sweeps_exactly_once(
    world: IngestWorld, lost_answer: bool
) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(43, "S1", 1_000_000)
    world.set_today(date(2026, 1, 11))
    key = "platform/crash-sweep.csv"
    world.s3.put_object(
        Bucket=BUCKET, Key=key, Body=HEADER + b"S1,PAY-C,PAYMENT,2026-01-10,,700.00,CNY,CONFIRMED,\n"
    )
    # One transaction writes the document, its pool, the sweep, the repayment and its event.
    with crash_on("TransactWriteItems", 1, lost_answer=lost_answer), pytest.raises(BatchProcessingError):
        world.ingest.handler(world.event(key), CTX)
    world.deliver(key)
    (sweep,) = world.report(key)["sweeps"]
    assert [(s["loan_id"], s["amount"]) for s in sweep["swept"]] == [(loan, "700.00")]
    assert [(e["loan_id"], e["amount"]) for e in world.repayment_events()] == [(loan, "700.00")]
    before = table(world)
    world.deliver(key)  # and once more after it finished: nothing moves
    assert table(world) == before
