"""The simulated bank: idempotent by payment id, value date from the clock, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.bank import Bank, BankServer, Faults
from infra.local.state import write_clock
from scf.clock import FileClock

LENDER = {"bank_code": "SIMBANK", "account_number": "LENDER-1", "name": "Lender"}
SUPPLIER = {"bank_code": "SIMBANK", "account_number": "SUP-ACC-1", "name": "Supplier"}


def order(payment_id: str = "PAY-1", amount: str = "1000.00", **changes: Any) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "direction": "PAYOUT",
        "amount": amount,
        "currency": "CNY",
        "debtor": LENDER,
        "creditor": SUPPLIER,
        "remittance": "loan L-1",
        **changes,
    }


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock"
    write_clock(path, date(2026, 3, 2))
    return path


@pytest.fixture
def bank(clock_file: Path, tmp_path: Path) -> Iterator[BankServer]:
    server = BankServer(Bank(FileClock(str(clock_file)), tmp_path / "journal.jsonl", Faults(latency_ms=0)))
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def pay(
    bank: BankServer, body: dict[str, Any], key: str | None = None, timeout: float = 5
) -> requests.Response:
    return requests.post(
        f"{bank.url}/payments",
        json=body,
        headers={"Idempotency-Key": key or body["payment_id"]},
        timeout=timeout,
    )


def test_a_payment_settles_with_the_business_date_and_moves_balances(
    bank: BankServer, tmp_path: Path
) -> None:
    response = pay(bank, order())
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "SETTLED" and answer["payment_id"] == "PAY-1"
    assert answer["value_date"] == "2026-03-02" and answer["bank_reference"]
    assert requests.get(f"{bank.url}/payments/PAY-1", timeout=5).json() == answer
    books = requests.get(f"{bank.url}/_admin/payments", timeout=5).json()
    assert books["balances"] == {"SIMBANK:LENDER-1:CNY": "-1000.00", "SIMBANK:SUP-ACC-1:CNY": "1000.00"}
    journal = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert [entry["result"]["payment_id"] for entry in journal] == ["PAY-1"]


def test_the_value_date_follows_the_clock_file(bank: BankServer, clock_file: Path) -> None:
    write_clock(clock_file, date(2026, 4, 1))
    assert pay(bank, order("PAY-2")).json()["value_date"] == "2026-04-01"


def test_a_repeat_answers_the_first_result_and_books_once(bank: BankServer) -> None:
    first = pay(bank, order())
    again = pay(bank, order())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    books = requests.get(f"{bank.url}/_admin/payments", timeout=5).json()
    assert len(books["payments"]) == 1 and books["balances"]["SIMBANK:SUP-ACC-1:CNY"] == "1000.00"


def test_the_same_key_with_another_order_is_a_conflict(bank: BankServer) -> None:
    pay(bank, order())
    assert pay(bank, order(amount="2000.00")).status_code == 409


def test_unknown_payments_are_404_unknown(bank: BankServer) -> None:
    response = requests.get(f"{bank.url}/payments/NOPE", timeout=5)
    assert (response.status_code, response.json()) == (404, {"status": "UNKNOWN"})


@pytest.mark.parametrize(
    "body, key",
    [
        (order(amount="10.5"), None),
        (order(amount="-1.00"), None),
        (order(amount=100), None),
        (order(direction="SIDEWAYS"), None),
        (order(debtor={"bank_code": "X"}), None),
        (order(), "another-key"),
        (order(payment_id="X" * 36), None),
    ],
)
def test_malformed_orders_are_400(bank: BankServer, body: dict[str, Any], key: str | None) -> None:
    assert pay(bank, body, key).status_code == 400


def test_rejected_accounts_are_answered_rejected_and_move_nothing(bank: BankServer) -> None:
    requests.post(f"{bank.url}/_admin/faults", json={"reject_accounts": ["SUP-ACC-1"]}, timeout=5)
    answer = pay(bank, order()).json()
    assert answer["status"] == "REJECTED" and "SUP-ACC-1" in answer["reason"]
    assert requests.get(f"{bank.url}/_admin/payments", timeout=5).json()["balances"] == {}


def test_errors_happen_before_applying(bank: BankServer) -> None:
    requests.post(f"{bank.url}/_admin/faults", json={"error_rate": 1.0, "seed": 7}, timeout=5)
    assert pay(bank, order()).status_code == 503
    assert requests.get(f"{bank.url}/payments/PAY-1", timeout=5).status_code == 404


def test_a_timeout_after_applying_books_the_payment_but_loses_the_answer(bank: BankServer) -> None:
    faults = {"timeout_after_apply_rate": 1.0, "timeout_ms": 1500, "seed": 1}
    requests.post(f"{bank.url}/_admin/faults", json=faults, timeout=5)
    with pytest.raises(requests.exceptions.RequestException):
        pay(bank, order(), timeout=0.5)
    known = requests.get(f"{bank.url}/payments/PAY-1", timeout=5)
    assert known.status_code == 200 and known.json()["status"] == "SETTLED"
    requests.post(f"{bank.url}/_admin/faults", json={"timeout_after_apply_rate": 0.0}, timeout=5)
    assert pay(bank, order()).status_code == 200  # the retry finds it booked


def test_a_dropped_order_is_never_booked_nor_answered(bank: BankServer) -> None:
    requests.post(f"{bank.url}/_admin/faults", json={"drop_order_rate": 1.0, "seed": 1}, timeout=5)
    with pytest.raises(requests.exceptions.RequestException):
        pay(bank, order(), timeout=2)
    assert requests.get(f"{bank.url}/payments/PAY-1", timeout=5).status_code == 404
    requests.post(f"{bank.url}/_admin/faults", json={"drop_order_rate": 0.0}, timeout=5)
    assert pay(bank, order()).status_code == 201  # sent again with the same id: booked now


def test_latency_is_applied(bank: BankServer) -> None:
    requests.post(f"{bank.url}/_admin/faults", json={"latency_ms": 200}, timeout=5)
    response = pay(bank, order())
    assert response.elapsed.total_seconds() >= 0.2


def test_seeded_faults_repeat(clock_file: Path) -> None:
    outcomes = []
    for _ in range(2):
        bank = Bank(FileClock(str(clock_file)), faults=Faults(error_rate=0.5, seed=42))
        outcomes.append([bank.roll(bank.faults.error_rate) for _ in range(20)])
    assert outcomes[0] == outcomes[1] and any(outcomes[0]) and not all(outcomes[0])


def test_unknown_fault_settings_are_refused(bank: BankServer) -> None:
    assert requests.post(f"{bank.url}/_admin/faults", json={"chaos": 1}, timeout=5).status_code == 400
