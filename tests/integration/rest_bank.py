"""A signed REST bank on 127.0.0.1 for the `rest-signed` adapter's tests: the simulated bank's
bodies and answers (docs/architecture.md), every request checked with `signing.verify`, and faults
told per test. Every wait in it is bounded and released when the server closes."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from scf.adapters.banks.signing import SignatureRejected, verify

MAX_HANG_SECONDS = 2.0


@dataclass
class RestBankFaults:
    fail_next_posts: int = 0  # answer 500 before applying
    fail_next_gets: int = 0  # answer 503 to a status inquiry
    hang_next_posts: int = 0  # apply, then hold the answer back past the client's read timeout
    hang_seconds: float = 0.75  # past the tests' short read timeout (0.25 s)
    reject_accounts: set[str] = field(default_factory=set)


class RestBank:
    def __init__(
        self,
        secrets: Mapping[str, bytes],
        *,
        today: date = date(2026, 12, 3),
        clock_offset: timedelta = timedelta(0),
        prefix: str = "",
    ) -> None:
        self.secrets = dict(secrets)
        self.today = today
        self.clock_offset = clock_offset
        self.faults = RestBankFaults()
        self.payments: dict[str, dict[str, Any]] = {}
        self.applied: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []  # (method, payment id) in arrival order, signed or not
        self.refused: list[str] = []  # rejection reasons given
        self._bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        bank = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *_: Any) -> None:
                return

            def date_time_string(self, timestamp: float | None = None) -> str:
                return format_datetime(bank.now(), usegmt=True)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _verified(self, body: bytes) -> bool:
                try:
                    verify(self.headers, self.command, self.path, body, bank.secrets, bank.now())
                except SignatureRejected as refused:
                    bank.refused.append(refused.reason.value)
                    self._answer(401, {"error": "UNAUTHORIZED", "reason": refused.reason.value})
                    return False
                return True

            def do_GET(self) -> None:
                payment_id = unquote(self.path.removeprefix(f"{bank.prefix}/payments/"))
                bank.requests.append(("GET", payment_id))
                if not self._verified(b""):
                    return
                with bank._lock:
                    if bank.faults.fail_next_gets:
                        bank.faults.fail_next_gets -= 1
                        failing = True
                    else:
                        failing = False
                    found = bank.payments.get(payment_id)
                if failing:
                    self._answer(503, {"error": "UNAVAILABLE"})
                elif found is None:
                    self._answer(404, {"status": "UNKNOWN"})
                else:
                    self._answer(200, found)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                bank.requests.append(("POST", key))
                if not self._verified(raw):
                    return
                if self.path != f"{bank.prefix}/payments":
                    self._answer(404, {"error": "NOT_FOUND"})
                    return
                status, answer, hang = bank.pay(key, raw)
                if hang:
                    bank._closing.wait(min(hang, MAX_HANG_SECONDS))  # the answer is lost
                    self.close_connection = True
                    return
                self._answer(status, answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def pay(self, key: str, raw: bytes) -> tuple[int, dict[str, Any], float]:
        """(HTTP status, answer, seconds to hold the answer back)."""
        body = json.loads(raw)
        if key != body.get("payment_id"):
            return 400, {"error": "BAD_REQUEST", "message": "Idempotency-Key must be the payment id"}, 0
        if len(body.get("currency", "")) != 3:
            return 400, {"error": "BAD_REQUEST", "message": f"no currency for {body['creditor']}"}, 0
        with self._lock:
            if self.faults.fail_next_posts:
                self.faults.fail_next_posts -= 1
                return 500, {"error": "INTERNAL"}, 0
            if key in self.payments:
                if self._bodies[key] != raw:
                    return 409, {"error": "IDEMPOTENCY_CONFLICT"}, 0
                return 200, dict(self.payments[key]), 0
            self.payments[key] = self._settle(body)
            self._bodies[key] = raw
            self.applied[key] = self.applied.get(key, 0) + 1
            hang = 0.0
            if self.faults.hang_next_posts:
                self.faults.hang_next_posts -= 1
                hang = self.faults.hang_seconds
            return 201, dict(self.payments[key]), hang

    def _settle(self, body: dict[str, Any]) -> dict[str, Any]:
        rejected = [
            party["account_number"]
            for party in (body["debtor"], body["creditor"])
            if party["account_number"] in self.faults.reject_accounts
        ]
        answer = {
            "payment_id": body["payment_id"],
            "direction": body["direction"],
            "amount": body["amount"],
            "currency": body["currency"],
            "value_date": self.today.isoformat(),
            "bank_reference": "REST" + uuid.uuid4().hex[:12].upper(),
            "status": "REJECTED" if rejected else "SETTLED",
        }
        if rejected:
            answer["reason"] = f"ACCOUNT_REJECTED: {rejected[0]}"
        return answer

    def requests_for(self, payment_id: str) -> list[str]:
        return [method for method, key in self.requests if key == payment_id]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def every_resend_asked_first(methods: list[str]) -> bool:
    """Every POST after the first comes right after a GET (the status inquiry before any retry)."""
    posts = [index for index, method in enumerate(methods) if method == "POST"]
    return all(methods[index - 1] == "GET" for index in posts[1:])
