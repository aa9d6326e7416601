"""Public domain events on moto (docs/events.md): each state change writes its event's outbox item in
the same transaction, once; a redelivered message writes nothing more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.models import OutboxItem
from tests.integration.statement_world import BANK, camt054, camt_entry, ingest_world
from tests.integration.test_apply_repayment import repay
from tests.reliability.money_harness import MoneyWorld, money_world

pytestmark = pytest.mark.integration

ACCOUNT = "6217000099998888"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def detail(event_id: str) -> dict[str, Any]:
    item = OutboxItem.get(*OutboxItem.key(event_id), consistent_read=True)
    assert (item.kind, item.target, event_id.startswith(item.event_type)) == ("OUTBOX", "domain-events", True)
    payload: dict[str, Any] = json.loads(item.payload)
    return payload


def events_of_type(event_type: str) -> list[str]:
    return [item.pk for item in OutboxItem.scan(OutboxItem.event_type == event_type)]


def test_a_settled_payout_writes_loan_activated_once(world: MoneyWorld) -> None:
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    message, _ = world.deliver("disbursements")

    assert detail("LoanActivated-L1") == {
        "event_id": "LoanActivated-L1",
        "version": "1",
        "loan_id": "L1",
        "supplier_id": "S1",
        "currency": "CNY",
        "principal": "100000.00",
        "payment_id": "PAYL1",
        "value_date": "2026-01-01",
        "maturity_date": "2026-01-31",
    }
    world.invoke_sqs("disbursements", message)  # redelivered
    assert events_of_type("LoanActivated") == ["OUTBOX#LoanActivated-L1"]


def test_a_rejected_payout_writes_loan_failed_with_a_reason_code(world: MoneyWorld) -> None:
    world.bank.faults.reject_accounts.add(ACCOUNT)
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")

    failed = detail("LoanFailed-L1")
    assert (failed["principal"], failed["payment_id"], failed["reason"]) == (
        "100000.00",
        "PAYL1",
        "ACCOUNT_BLOCKED",
    )
    assert ACCOUNT not in json.dumps(failed)
    assert events_of_type("LoanActivated") == []


def test_a_payoff_writes_repayment_applied_and_loan_repaid_in_its_transaction(world: MoneyWorld) -> None:
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    world.set_today(date(2026, 1, 21))
    repayment_id = repay(world, "100555.56", "k-payoff")
    world.deliver("repayments")

    applied = detail(f"RepaymentApplied-{repayment_id}")
    assert {k: applied[k] for k in ("amount", "interest", "principal", "penalty", "overpayment")} == {
        "amount": "100555.56",
        "interest": "555.56",
        "principal": "100000.00",
        "penalty": "0.00",
        "overpayment": "0.00",
    }
    assert (applied["value_date"], applied["source"]) == ("2026-01-21", "SUPPLIER")
    repaid = detail("LoanRepaid-L1")
    assert (repaid["repayment_id"], repaid["repaid_on"], repaid["interest_paid"]) == (
        repayment_id,
        "2026-01-21",
        "555.56",
    )


def test_a_partial_repayment_is_applied_but_does_not_repay_the_loan(world: MoneyWorld) -> None:
    world.set_today(date(2026, 1, 1))
    world.add_supplier("S1", ACCOUNT)
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    repayment_id = repay(world, "100.00", "k-part")
    world.deliver("repayments")

    assert detail(f"RepaymentApplied-{repayment_id}")["amount"] == "100.00"
    assert events_of_type("LoanRepaid") == []


def test_a_bank_file_writes_unmatched_bank_item_per_entry_and_file_processed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for ingest in ingest_world(tmp_path, monkeypatch):
        key = f"{BANK}/unknown.xml"
        data = camt054(
            [camt_entry("12.34", "CRDT", reference=f"U-{i}", remittance=f"from {i}") for i in range(2)]
        )
        ingest.drop(key, data)
        report = ingest.report(key)

        unmatched = [detail(pk.removeprefix("OUTBOX#")) for pk in events_of_type("UnmatchedBankItem")]
        assert len(unmatched) == 2
        for item in unmatched:
            assert (item["bank_code"], item["code"], item["amount"], item["currency"]) == (
                BANK, "NO_REFERENCE", "12.34", "CNY"
            )  # fmt: skip
            assert item["file_key"] == key and "references" not in item and "account" not in item
        (processed,) = [detail(pk.removeprefix("OUTBOX#")) for pk in events_of_type("FileProcessed")]
        assert processed["event_id"] == f"FileProcessed-{report['file_id']}"
        assert (processed["outcome"], processed["key"], processed["rows_total"]) == ("PROCESSED", key, 2)

        ingest.deliver(key)  # the notification again: the file is DONE, nothing is written
        assert len(events_of_type("FileProcessed")) == 1
