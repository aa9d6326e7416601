"""Resolving an unmatched bank item (UnmatchedService) on an in-memory store: once per item,
audited, ASSIGN and RETURN only for a CREDIT, ASSIGN as a BANK_CREDIT on the booking date."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from scf.clock import FixedClock
from scf.domain.ids import REFUND_PAYMENT_ID
from scf.domain.loan import Repayment, RepaymentSource
from scf.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from scf.events import OutboxEvent
from scf.service.loan_store import RefundOrder, StaleWrite
from scf.service.payments import Account
from scf.service.statements import LoanRef
from scf.service.unmatched import OPEN, RESOLVED, UnmatchedItem, UnmatchedService, UnmatchedStore

pytestmark = pytest.mark.unit

CREDIT = UnmatchedItem("I1", OPEN, "CREDIT", 12_000, "CNY", "2026-01-11")
DEBIT = UnmatchedItem("I2", OPEN, "DEBIT", 900, "CNY", "2026-01-11")


@dataclass
class FakeUnmatchedStore(UnmatchedStore):
    items: dict[str, UnmatchedItem] = field(default_factory=lambda: {"I1": CREDIT, "I2": DEBIT})
    loans: dict[str, LoanRef] = field(
        default_factory=lambda: {
            "L1": LoanRef("L1", "S1", "CNY", "ACTIVE"),
            "L2": LoanRef("L2", "S1", "USD", "ACTIVE"),
            "L3": LoanRef("L3", "S1", "CNY", "APPROVED"),
        }
    )
    written: list[tuple[Repayment | None, OutboxEvent | None]] = field(default_factory=list)
    refunds: list[tuple[RefundOrder, Account]] = field(default_factory=list)

    def get_item(self, item_id: str) -> UnmatchedItem | None:
        return self.items.get(item_id)

    def get_loan_ref(self, loan_id: str) -> LoanRef | None:
        return self.loans.get(loan_id)

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
        if self.items[item.item_id].status != OPEN:
            raise StaleWrite(["resolved"])
        self.items[item.item_id] = replace(item, status=RESOLVED, resolution=resolution)
        self.written.append((repayment, event))
        if refund is not None and refund_account is not None:
            self.refunds.append((refund, refund_account))


@pytest.fixture
def store() -> FakeUnmatchedStore:
    return FakeUnmatchedStore()


def service(store: FakeUnmatchedStore) -> UnmatchedService:
    return UnmatchedService(
        store=store, clock=FixedClock(date(2026, 1, 15), datetime(2026, 1, 15, 2, tzinfo=UTC))
    )


def test_assign_repays_the_loan_as_a_bank_credit_on_the_booking_date(store: FakeUnmatchedStore) -> None:
    answer = service(store).resolve(
        "I1", {"action": "ASSIGN", "loan_id": "L1", "note": "n"}, by="ops-1", idempotency_key="k"
    )

    ((repayment, event),) = store.written
    assert repayment is not None and event is not None
    assert (repayment.source, repayment.amount_minor, repayment.value_date) == (
        RepaymentSource.BANK_CREDIT,
        12_000,
        date(2026, 1, 11),
    )
    assert event.payload["value_date"] == "2026-01-11" and event.payload["loan_id"] == "L1"
    assert answer == {
        "action": "ASSIGN", "note": "n", "by": "ops-1", "at": "2026-01-15T02:00:00+00:00",
        "loan_id": "L1", "repayment_id": repayment.repayment_id,
    }  # fmt: skip


def test_an_item_is_resolved_once_and_a_retry_gets_the_first_answer(store: FakeUnmatchedStore) -> None:
    body = {"action": "DISMISS", "note": "noise"}
    first = service(store).resolve("I2", body, by="ops-1", idempotency_key="k")

    assert service(store).resolve("I2", body, by="ops-1", idempotency_key="k") == first
    with pytest.raises(Conflict) as again:
        service(store).resolve("I2", body, by="ops-1", idempotency_key="other")
    assert again.value.code == "ALREADY_RESOLVED"
    with pytest.raises(IdempotencyKeyReused):
        service(store).resolve("I2", {**body, "note": "else"}, by="ops-1", idempotency_key="k")
    assert len(store.written) == 1 and store.written[0] == (None, None)


@pytest.mark.parametrize(
    ("item_id", "body", "error", "code"),
    [
        ("I2", {"action": "ASSIGN", "loan_id": "L1"}, Conflict, "NOT_A_CREDIT"),
        ("I2", {"action": "RETURN"}, Conflict, "NOT_A_CREDIT"),
        ("I1", {"action": "RETURN"}, Conflict, "SENDER_ACCOUNT_UNKNOWN"),
        ("I1", {"action": "ASSIGN"}, InvalidInput, "LOAN_ID_REQUIRED"),
        ("I1", {"action": "DISMISS", "loan_id": "L1"}, InvalidInput, "LOAN_ID_NOT_ALLOWED"),
        ("I1", {"action": "ASSIGN", "loan_id": "L2"}, InvalidInput, "CURRENCY_MISMATCH"),
        ("I1", {"action": "ASSIGN", "loan_id": "L3"}, Conflict, "LOAN_NOT_PAID_OUT"),
        ("I1", {"action": "ASSIGN", "loan_id": "L9"}, NotFound, "LOAN_NOT_FOUND"),
        ("I9", {"action": "DISMISS"}, NotFound, "ITEM_NOT_FOUND"),
        ("I1", {"action": "dismiss"}, InvalidInput, "INVALID_ACTION"),
        ("I1", {"action": "DISMISS", "note": "x" * 2001}, InvalidInput, "INVALID_VALUE"),
    ],
)
def test_resolutions_the_rules_refuse_write_nothing(
    store: FakeUnmatchedStore, item_id: str, body: dict[str, Any], error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as refused:
        service(store).resolve(item_id, body, by="ops-1", idempotency_key="k")
    assert getattr(refused.value, "code", None) == code
    assert store.written == []


def test_return_reserves_a_refund_of_the_credit_to_its_sender_through_the_bank_that_booked_it(
    store: FakeUnmatchedStore,
) -> None:
    store.items["I3"] = replace(
        CREDIT, item_id="I3", bank="SIMBANK", sender={"account": "CN001122", "bic": "BKCHCNBJ"}
    )

    answer = service(store).resolve(
        "I3", {"action": "RETURN", "note": "not ours"}, by="ops-1", idempotency_key="k"
    )

    ((refund, account),) = store.refunds
    assert REFUND_PAYMENT_ID.fullmatch(refund.refund_id) and answer["refund_id"] == refund.refund_id
    assert (refund.amount_minor, refund.currency, refund.item_id, refund.parts) == (12_000, "CNY", "I3", ())
    assert (account.bank_code, account.account_number) == ("SIMBANK", "CN001122")
    assert store.items["I3"].status == RESOLVED
