"""The simulated bank: an HTTP server that settles payment orders (docs/architecture.md, "The
simulated bank").

Idempotent by payment id: the same `Idempotency-Key` with the same body answers the first result
(200), with another body 409. Faults for tests: latency, 5xx before applying, a timeout after
applying (the order is booked, the answer never comes), rejected accounts; randomness is seeded.
Balances and payments live in memory; each booked payment is also appended to a journal file when
one is given. `value_date` is the business date read from the clock file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from scf.clock import Clock, SystemClock, clock_from_spec

AMOUNT = re.compile(r"^\d{1,15}\.\d{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PAYMENT_ID = re.compile(r"^[A-Za-z0-9\-_.:/]{1,35}$")
DIRECTIONS = ("PAYOUT", "COLLECTION")
PARTY_FIELDS = ("bank_code", "account_number", "name")


@dataclass
class Faults:
    latency_ms: int = 50
    error_rate: float = 0.0
    timeout_after_apply_rate: float = 0.0
    timeout_ms: int = 10_000  # how long a "timeout after applying" holds the answer back
    reject_accounts: list[str] = field(default_factory=list)
    seed: int | None = None


class BadRequest(ValueError):
    pass


class Bank:
    """The bank's books: payments by id and account balances (thread-safe)."""

    def __init__(self, clock: Clock, journal: Path | None = None, faults: Faults | None = None) -> None:
        self._clock = clock
        self._journal = journal
        self._lock = threading.Lock()
        self.payments: dict[str, dict[str, Any]] = {}
        self._requests: dict[str, dict[str, Any]] = {}
        self.balances: dict[str, Decimal] = {}
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        known = set(Faults.__dataclass_fields__)
        unknown = set(changes) - known
        if unknown:
            raise BadRequest(f"unknown fault settings {sorted(unknown)}")
        with self._lock:
            self.faults = Faults(**{**asdict(self.faults), **changes})
            self._random = random.Random(self.faults.seed)
            return self.faults

    def roll(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._random.random() < rate

    def pay(self, key: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        """Book a payment order; (HTTP status, answer)."""
        order = _validated(key, body)
        with self._lock:
            if order["payment_id"] in self.payments:
                if self._requests[order["payment_id"]] != order:
                    return HTTPStatus.CONFLICT, {
                        "payment_id": order["payment_id"],
                        "error": "IDEMPOTENCY_CONFLICT",
                        "message": "this payment id was used with another order",
                    }
                return HTTPStatus.OK, dict(self.payments[order["payment_id"]])
            result = self._settle(order)
            self.payments[order["payment_id"]] = result
            self._requests[order["payment_id"]] = order
            self._write_journal(order, result)
            return HTTPStatus.CREATED, dict(result)

    def _settle(self, order: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "payment_id": order["payment_id"],
            "direction": order["direction"],
            "amount": order["amount"],
            "currency": order["currency"],
            "value_date": self._clock.today().isoformat(),
            "bank_reference": "SIM" + uuid.uuid4().hex[:16].upper(),
        }
        rejected = [
            party["account_number"]
            for party in (order["debtor"], order["creditor"])
            if party["account_number"] in self.faults.reject_accounts
        ]
        if rejected:
            result.update(status="REJECTED", reason=f"ACCOUNT_REJECTED: {rejected[0]}")
            return result
        amount = Decimal(order["amount"])
        debtor = _account_key(order["debtor"], order["currency"])
        creditor = _account_key(order["creditor"], order["currency"])
        self.balances[debtor] = self.balances.get(debtor, Decimal("0.00")) - amount
        self.balances[creditor] = self.balances.get(creditor, Decimal("0.00")) + amount
        result["status"] = "SETTLED"
        return result

    def _write_journal(self, order: dict[str, Any], result: dict[str, Any]) -> None:
        if self._journal is not None:
            with self._journal.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"order": order, "result": result}, sort_keys=True) + "\n")

    def get(self, payment_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.payments.get(payment_id)
            return dict(found) if found else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "payments": [dict(item) for item in self.payments.values()],
                "balances": {key: f"{value:.2f}" for key, value in sorted(self.balances.items())},
            }


def _account_key(party: dict[str, str], currency: str) -> str:
    return f"{party['bank_code']}:{party['account_number']}:{currency}"


def _validated(key: str | None, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body is a JSON object")
    payment_id = body.get("payment_id")
    if not isinstance(payment_id, str) or not PAYMENT_ID.match(payment_id):
        raise BadRequest("payment_id is 1 to 35 characters")
    if key != payment_id:
        raise BadRequest("the Idempotency-Key header must be the payment id")
    if body.get("direction") not in DIRECTIONS:
        raise BadRequest(f"direction is one of {DIRECTIONS}")
    if (
        not isinstance(body.get("amount"), str)
        or not AMOUNT.match(body["amount"])
        or Decimal(body["amount"]) <= 0
    ):
        raise BadRequest("amount is a positive string with two decimals")
    if not isinstance(body.get("currency"), str) or not CURRENCY.match(body["currency"]):
        raise BadRequest("currency is an ISO 4217 code")
    for role in ("debtor", "creditor"):
        party = body.get(role)
        if not isinstance(party, dict) or not all(isinstance(party.get(name), str) for name in PARTY_FIELDS):
            raise BadRequest(f"{role} needs {', '.join(PARTY_FIELDS)}")
    return {
        "payment_id": payment_id,
        "direction": body["direction"],
        "amount": body["amount"],
        "currency": body["currency"],
        "debtor": {name: body["debtor"][name] for name in PARTY_FIELDS},
        "creditor": {name: body["creditor"][name] for name in PARTY_FIELDS},
        "remittance": body.get("remittance"),
    }


class _Handler(BaseHTTPRequestHandler):
    server: BankServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from exc

    def do_GET(self) -> None:
        bank = self.server.bank
        if self.path == "/_admin/payments":
            self._send(HTTPStatus.OK, bank.snapshot())
        elif self.path == "/_admin/faults":
            self._send(HTTPStatus.OK, asdict(bank.faults))
        elif self.path == "/_admin/health":
            self._send(HTTPStatus.OK, {"status": "ok"})
        elif self.path.startswith("/payments/"):
            found = bank.get(self.path.removeprefix("/payments/"))
            if found is None:
                self._send(HTTPStatus.NOT_FOUND, {"status": "UNKNOWN"})
            else:
                self._send(HTTPStatus.OK, found)
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "NOT_FOUND"})

    def do_POST(self) -> None:
        bank = self.server.bank
        try:
            body = self._body()
            if self.path == "/_admin/faults":
                self._send(HTTPStatus.OK, asdict(bank.set_faults(body or {})))
            elif self.path == "/payments":
                self._payment(bank, body)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "NOT_FOUND"})
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "BAD_REQUEST", "message": str(exc)})

    def _payment(self, bank: Bank, body: Any) -> None:
        faults = bank.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if bank.roll(faults.error_rate):
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "UNAVAILABLE"})
            return
        status, answer = bank.pay(self.headers.get("Idempotency-Key"), body)
        if status == HTTPStatus.CREATED and bank.roll(faults.timeout_after_apply_rate):
            time.sleep(faults.timeout_ms / 1000)  # booked, but the answer is lost
            self.close_connection = True
            return
        self._send(status, answer)


class BankServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bank: Bank, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.bank = bank

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="simulated-bank", daemon=True)
        thread.start()
        return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the simulated bank on its own")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--clock", default="system", help="system or file:<path>")
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args(argv)
    clock = clock_from_spec(args.clock) if args.clock != "system" else SystemClock()
    server = BankServer(Bank(clock, faults=Faults(latency_ms=args.latency_ms)), port=args.port)
    print(f"simulated bank on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
