"""The simulated bank adapter over real HTTP against a stand-in server: idempotency by payment id,
unknown outcomes (5xx, lost answers, timeouts) resolved by asking the bank before any retry."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from scf.adapters.banks.base import PaymentConflict
from scf.adapters.banks.simulated import SimulatedBankGateway
from scf.clock import FixedClock
from scf.service.payments import (
    Account,
    BankUnavailable,
    Direction,
    PaymentOrder,
    PaymentStatus,
    execute,
    mask_account,
    payout_payment_id,
)
from tests.reliability.money_harness import StandInBank

pytestmark = pytest.mark.integration

TODAY = date(2026, 1, 5)
LENDER = Account("LENDERBANK", "6222000011112222", "SCF Lender")
SUPPLIER = Account("SIMBANK", "6217000099998888", "Supplier Ltd")


@pytest.fixture
def bank() -> Iterator[StandInBank]:
    server = StandInBank(today=lambda: TODAY)
    yield server
    server.close()


def gateway(bank: StandInBank, read_timeout: float = 5.0) -> SimulatedBankGateway:
    return SimulatedBankGateway(
        bank.url, timeout=(1.0, read_timeout), backoff_seconds=0.0, sleep=lambda _: None
    )


def order(payment_id: str = "PAYL1", amount_minor: int = 123_456) -> PaymentOrder:
    return PaymentOrder(payment_id, Direction.PAYOUT, amount_minor, "CNY", LENDER, SUPPLIER, "L1")


def test_a_payout_settles_with_the_banks_value_date(bank: StandInBank) -> None:
    result = gateway(bank).pay(order())
    assert (result.status, result.value_date) == (PaymentStatus.SETTLED, TODAY)
    assert result.bank_reference
    assert bank.payments["PAYL1"]["amount"] == "1234.56"


def test_a_rejected_payout_carries_the_reason(bank: StandInBank) -> None:
    bank.faults.reject_accounts.add(SUPPLIER.account_number)
    result = gateway(bank).pay(order())
    assert (result.status, result.reason) == (PaymentStatus.REJECTED, "ACCOUNT_BLOCKED")


def test_the_same_order_twice_moves_money_once(bank: StandInBank) -> None:
    first = gateway(bank).pay(order())
    second = gateway(bank).pay(order())
    assert first == second
    assert bank.applied("PAYL1") == 1 and bank.posts.count("PAYL1") == 2


def test_the_same_payment_id_with_another_order_is_a_conflict(bank: StandInBank) -> None:
    gateway(bank).pay(order(amount_minor=100))
    with pytest.raises(PaymentConflict):
        gateway(bank).pay(order(amount_minor=200))


def test_a_5xx_is_unknown_so_the_adapter_asks_before_sending_again(bank: StandInBank) -> None:
    bank.faults.unavailable_next = 1
    result = gateway(bank).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.posts == ["PAYL1", "PAYL1"] and bank.gets == ["PAYL1"]  # POST, GET (unknown), POST
    assert bank.applied("PAYL1") == 1


def test_a_lost_answer_is_resolved_by_asking_without_sending_again(bank: StandInBank) -> None:
    bank.faults.lose_answer_next = 1
    result = gateway(bank).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.posts == ["PAYL1"] and bank.gets == ["PAYL1"]


def test_a_timeout_after_the_bank_applied_is_resolved_by_asking(bank: StandInBank) -> None:
    bank.faults.hang_after_apply_seconds = 1.0
    result = gateway(bank, read_timeout=0.3).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.posts == ["PAYL1"] and bank.gets == ["PAYL1"]


def test_no_answer_at_all_is_bank_unavailable_never_a_guess(bank: StandInBank) -> None:
    bank.faults.lose_answer_next = 1
    bank.faults.status_unavailable = True
    with pytest.raises(BankUnavailable):
        gateway(bank).pay(order())
    assert bank.posts == ["PAYL1"]  # never sent again while the first outcome was unknown


def test_an_unreachable_bank_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = SimulatedBankGateway(f"http://127.0.0.1:{port}", backoff_seconds=0.0, sleep=lambda _: None)
    with pytest.raises(BankUnavailable):
        unreachable.pay(order())


def test_status_of_an_unknown_payment(bank: StandInBank) -> None:
    assert gateway(bank).status("PAYNOPE").status is PaymentStatus.UNKNOWN


def test_execute_asks_first_when_the_order_may_have_been_sent(bank: StandInBank) -> None:
    gateway(bank).pay(order())
    bank.posts.clear()
    assert execute(gateway(bank), order(), maybe_sent=True).status is PaymentStatus.SETTLED
    assert bank.posts == []
    assert execute(gateway(bank), order("PAYL2"), maybe_sent=True).status is PaymentStatus.SETTLED
    assert bank.posts == ["PAYL2"]  # unknown to the bank: sent


def test_payment_ids_fit_an_end_to_end_id() -> None:
    assert payout_payment_id("L" * 32) == "PAY" + "L" * 32
    with pytest.raises(ValueError):
        payout_payment_id("L" * 33)


def test_account_numbers_are_masked_in_logs() -> None:
    assert mask_account("6217000099998888") == "************8888"
    assert "6217000099998888" not in repr(SUPPLIER) and "8888" in repr(SUPPLIER)


# -- the same adapter against the local stack's simulated bank (infra/local/bank.py) ---------------


@pytest.fixture
def local_bank() -> Iterator[Any]:
    from infra.local.bank import Bank, BankServer, Faults

    server = BankServer(Bank(FixedClock(TODAY), faults=Faults(latency_ms=0)))
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def test_contract_with_the_local_simulated_bank(local_bank: Any) -> None:
    adapter = SimulatedBankGateway(
        local_bank.url, timeout=(1.0, 0.3), backoff_seconds=0.0, sleep=lambda _: None
    )
    settled = adapter.pay(order("PAYC1"))
    assert (settled.status, settled.value_date) == (PaymentStatus.SETTLED, TODAY)
    assert adapter.pay(order("PAYC1")) == settled
    assert adapter.status("PAYC1") == settled
    assert adapter.status("PAYC2").status is PaymentStatus.UNKNOWN

    local_bank.bank.set_faults({"reject_accounts": [SUPPLIER.account_number]})
    rejected = adapter.pay(order("PAYC3"))
    assert rejected.status is PaymentStatus.REJECTED and rejected.reason
    assert SUPPLIER.account_number not in str(rejected.log_fields())  # the reason quotes it; logs must not

    # Booked, answer held back past the read timeout: the adapter asks and does not send again.
    local_bank.bank.set_faults({"reject_accounts": [], "timeout_after_apply_rate": 1.0, "timeout_ms": 800})
    assert adapter.pay(order("PAYC4")).status is PaymentStatus.SETTLED
    assert [p for p in local_bank.bank.payments if p == "PAYC4"] == ["PAYC4"]

    # 503 before applying, every time: unknown, never guessed.
    local_bank.bank.set_faults({"timeout_after_apply_rate": 0.0, "error_rate": 1.0})
    with pytest.raises(BankUnavailable):
        adapter.pay(order("PAYC5"))
    assert "PAYC5" not in local_bank.bank.payments
