"""The daily REPUBLISH and LEDGER_CHECK on moto: the pending-repayment index follows the
repayment's status, an event published again is one MODIFY of its outbox item on the table stream
(once per business date, only while its effect has not happened, whole again after its TTL), and
the loans touched on a day are read from their markers with one Query per shard, never a scan."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from scf.adapters.dynamodb.ledger_reader import DynamoLedgerReader
from scf.adapters.dynamodb.ledger_repository import TOUCHED_SHARDS
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore, _outbox_item
from scf.adapters.dynamodb.models import OutboxItem, RepaymentItem
from scf.adapters.dynamodb.republish_repository import DynamoRepublishStore
from scf.adapters.dynamodb.transactions import connection
from scf.clock import FixedClock
from scf.domain.loan import RepaymentStatus
from scf.events import OUTBOX_TTL_SECONDS
from scf.service.disbursement import PayoutService
from scf.service.repayment import RepaymentService
from tests.fakes import FakeBankGateway, FakeGateways
from tests.integration.test_loan_status_index import LENDER, SUPPLIER, approve
from tests.support import OutboxStream as Stream
from tests.support import seed_supplier

pytestmark = pytest.mark.integration

TODAY = date(2026, 1, 1)
NOW = datetime(2026, 1, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def store(tables: Any) -> DynamoLoanStore:
    seed_supplier("S1", account_number=SUPPLIER.account_number)
    return DynamoLoanStore(FixedClock(TODAY, NOW))


def paid_out(store: DynamoLoanStore, loan_id: str) -> None:
    approve(loan_id)
    payouts = PayoutService(
        loans=store,
        gateways=FakeGateways(bank=FakeBankGateway(value_date=TODAY)),
        lender=LENDER,
        clock=FixedClock(TODAY, NOW),
    )
    payouts.disburse(loan_id)


def repayments(store: DynamoLoanStore, bank: FakeBankGateway | None = None) -> RepaymentService:
    return RepaymentService(
        loans=store,
        gateways=FakeGateways(bank=bank or FakeBankGateway(value_date=TODAY)),
        lender=LENDER,
        clock=FixedClock(TODAY, NOW),
    )


def pending_index(repayment_id: str) -> tuple[str | None, str | None]:
    item = RepaymentItem.get(*RepaymentItem.key(repayment_id), consistent_read=True)
    return item.gsi2pk, item.gsi2sk


def test_a_pending_repayment_is_in_the_pending_index_until_it_is_applied_or_failed(
    store: DynamoLoanStore,
) -> None:
    paid_out(store, "L1")
    bank = FakeBankGateway(value_date=TODAY)
    service = repayments(store, bank)
    applied = service.request("S1", "L1", 100_000, "k1")
    failed = service.request("S1", "L1", 200_000, "k2")
    assert pending_index(applied.repayment_id) == (
        "REPAYMENTS#PENDING",
        f"2026-01-01T01:00:00.000000Z#{applied.repayment_id}",
    )
    read = DynamoRepublishStore().pending_repayments_before(LATER)
    assert {r.repayment_id for r in read} == {applied.repayment_id, failed.repayment_id}

    bank.reject(failed.repayment_id)
    service.apply(applied.requested_event().payload, redelivered=False)
    service.apply(failed.requested_event().payload, redelivered=False)

    assert pending_index(applied.repayment_id) == pending_index(failed.repayment_id) == (None, None)
    assert DynamoRepublishStore().pending_repayments_before(LATER) == []


def test_only_repayments_requested_before_the_cutoff_are_read(store: DynamoLoanStore) -> None:
    paid_out(store, "L1")
    repayments(store).request("S1", "L1", 100_000, "k1")

    assert DynamoRepublishStore().pending_repayments_before(NOW) == []
    assert len(DynamoRepublishStore().pending_repayments_before(NOW + timedelta(microseconds=1))) == 1


def test_publishing_again_is_one_modify_of_the_outbox_item_per_business_date(
    store: DynamoLoanStore, tables: Any
) -> None:
    approve("L1")
    approved = store.get_loan("L1")
    assert approved is not None
    _outbox_item(approved.loan.approved_event(), NOW).save()  # as the approval writes it
    stream = Stream("scf-test")
    assert stream.read("disbursements") == [("INSERT", "OUTBOX#LoanApproved-L1")]
    (record,) = DynamoRepublishStore().approved_loans()
    event = record.loan.approved_event()
    first = OutboxItem.get(*OutboxItem.key(event.event_id), consistent_read=True)

    assert DynamoRepublishStore().republish(event, business_date=TODAY, now=LATER) is True
    assert DynamoRepublishStore().republish(event, business_date=TODAY, now=LATER) is False

    assert stream.read("disbursements") == [("MODIFY", "OUTBOX#LoanApproved-L1")]
    touched = OutboxItem.get(*OutboxItem.key(event.event_id), consistent_read=True)
    assert (touched.payload, touched.created_at) == (first.payload, first.created_at)
    assert touched.republished_on == TODAY.isoformat()
    tomorrow = TODAY + timedelta(days=1)
    assert DynamoRepublishStore().republish(event, business_date=tomorrow, now=LATER) is True
    assert stream.read("disbursements") == [("MODIFY", "OUTBOX#LoanApproved-L1")]


def test_an_event_whose_effect_happened_is_not_published_again(store: DynamoLoanStore, tables: Any) -> None:
    paid_out(store, "L1")
    stream = Stream("scf-test")
    stream.read("disbursements")
    event = store.get_loan("L1").loan.approved_event()  # type: ignore[union-attr]

    assert DynamoRepublishStore().republish(event, business_date=TODAY, now=LATER) is False
    assert stream.read("disbursements") == []


def test_an_outbox_item_its_ttl_removed_comes_back_whole(store: DynamoLoanStore, tables: Any) -> None:
    paid_out(store, "L1")
    service = repayments(store)
    pending = service.request("S1", "L1", 100_000, "k1")
    event = pending.requested_event()
    OutboxItem(*OutboxItem.key(event.event_id)).delete()
    stream = Stream("scf-test")
    stream.read("repayments")

    assert DynamoRepublishStore().republish(event, business_date=TODAY, now=LATER) is True

    assert stream.read("repayments") == [("INSERT", f"OUTBOX#{event.event_id}")]
    item = OutboxItem.get(*OutboxItem.key(event.event_id), consistent_read=True)
    assert (item.kind, item.target, item.event_type) == ("OUTBOX", "repayments", "RepaymentRequested")
    assert item.expires_at == LATER + timedelta(seconds=OUTBOX_TTL_SECONDS)
    assert service.apply(json.loads(item.payload), redelivered=True) is RepaymentStatus.APPLIED


def test_the_loans_touched_on_a_day_are_read_from_their_markers_one_query_per_shard(
    store: DynamoLoanStore, tables: Any
) -> None:
    for loan_id in ("L1", "L2", "L3"):
        paid_out(store, loan_id)
    repayments(store).apply(
        repayments(store).request("S1", "L2", 100_000, "k1").requested_event().payload, redelivered=False
    )
    calls: list[str] = []
    connection().client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )

    touched = DynamoLedgerReader().touched_loans(TODAY)

    assert touched == ["L1", "L2", "L3"]
    assert calls == ["Query"] * TOUCHED_SHARDS
    assert DynamoLedgerReader().touched_loans(TODAY + timedelta(days=1)) == []
