"""The simulated bank: an HTTP server that settles payment orders (docs/architecture.md, "The
simulated bank"; docs/local-stack.md, "The simulated bank plays three banks").

It plays every bank of the bank directory it is given (`--banks`, the `BANKS` document), with one
journal and one set of balances for all: `/payments` is the `simulated` bank (SIMBANK),
`/<CODE>/payments` a `rest-signed` bank whose every request must carry the contract's signature
(401 otherwise), and `infra.local.bank_exchange.FileExchange` answers the `iso20022-file` banks'
orders from the outbound bucket and drops every bank's end-of-day statements.

Idempotent by (bank, payment id): the same `Idempotency-Key` with the same body answers the first
result (200), with another body 409. Faults for tests, applied to every bank: latency, 5xx before
applying, a timeout after applying (the order is booked, the answer never comes), rejected
accounts, orders dropped unbooked and unanswered; randomness is seeded. Balances and payments live
in memory; each booked payment is also appended to a journal file when one is given. `value_date`
is the business date read from the clock file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from scf.adapters.banks import signing
from scf.clock import Clock, SystemClock, clock_from_spec
from scf.service.banks import BankConfig, BankDirectory

if TYPE_CHECKING:
    from infra.local.bank_exchange import FileExchange

AMOUNT = re.compile(r"^\d{1,15}\.\d{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PAYMENT_ID = re.compile(r"^[A-Za-z0-9\-_.:/]{1,35}$")
DIRECTIONS = ("PAYOUT", "COLLECTION")
PARTY_FIELDS = ("bank_code", "account_number", "name")
DEFAULT_BANK = "SIMBANK"


@dataclass
class Faults:
    latency_ms: int = 50
    error_rate: float = 0.0
    timeout_after_apply_rate: float = 0.0
    timeout_ms: int = 10_000  # how long a "timeout after applying" holds the answer back
    # An order lost before the bank had it: nothing booked, no answer ever (HTTP: the connection
    # closed unanswered; a file: removed from the outbound bucket). Only the status inquiry finds it.
    drop_order_rate: float = 0.0  # float-ok: a probability
    reject_accounts: list[str] = field(default_factory=list)
    seed: int | None = None


class BadRequest(ValueError):
    pass


class Bank:
    """The books of every bank the simulated bank plays (thread-safe): payments per bank by payment
    id, one set of balances keyed `bank_code:account_number:currency` of each party, one journal.

    `banks` is the bank directory document (`scf.service.banks.BankDirectory.from_json`) or the
    directory itself; without it the bank plays `SIMBANK` alone, as before issue 9. `rest_secrets`
    maps a `rest-signed` bank's key ids to their secrets."""

    def __init__(
        self,
        clock: Clock,
        journal: Path | None = None,
        faults: Faults | None = None,
        *,
        banks: BankDirectory | Mapping[str, Any] | None = None,
        rest_secrets: Mapping[str, bytes | str] | None = None,
        now: Callable[[], datetime] | None = None,
        default_currency: str = "CNY",
    ) -> None:
        self._clock = clock
        self._journal = journal
        self._lock = threading.Lock()
        self.books: dict[str, dict[str, dict[str, Any]]] = {}
        self._requests: dict[tuple[str, str], dict[str, Any]] = {}
        self._channels: dict[tuple[str, str], str] = {}
        self.balances: dict[str, Decimal] = {}
        self.configure(banks, rest_secrets)
        self.now = now or (lambda: datetime.now(UTC))
        self.default_currency = default_currency
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)

    def configure(
        self,
        banks: BankDirectory | Mapping[str, Any] | None,
        rest_secrets: Mapping[str, bytes | str] | None = None,
    ) -> None:
        """Which banks the bank plays and the REST banks' secrets; also after it started (the
        local stack knows the `BANKS` document and the secrets only once the bank has an address).
        Payments already booked stay."""
        directory = _directory(banks)
        adapters = {code: bank.adapter for code, bank in directory.banks.items()}
        simulated = next((code for code, kind in adapters.items() if kind == "simulated"), DEFAULT_BANK)
        adapters.setdefault(simulated, "simulated")
        with self._lock:
            self.directory, self.adapters, self.simulated_code = directory, adapters, simulated
            for code in adapters:
                self.books.setdefault(code, {})
            self.rest_secrets: dict[str, bytes | str] = dict(rest_secrets or {})

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        """The simulated (HTTP, unsigned) bank's payments by payment id."""
        return self.books[self.simulated_code]

    def codes(self, adapter: str) -> list[str]:
        return [code for code, kind in self.adapters.items() if kind == adapter]

    def lender_accounts(self, bank_code: str) -> list[str]:
        bank = self.directory.banks.get(bank_code)
        return [account.account_number for account in bank.accounts] if bank else []

    def secrets_for(self, bank_code: str) -> dict[str, bytes | str]:
        """The key ids a REST bank accepts: its configured `key_id` only, else every given one."""
        bank = self.directory.banks.get(bank_code)
        key_id = bank.settings.get("key_id") if bank else None
        if isinstance(key_id, str):
            return {key_id: self.rest_secrets[key_id]} if key_id in self.rest_secrets else {}
        return dict(self.rest_secrets)

    def rest_bank_for(self, key_id: str | None) -> str | None:
        """The rest-signed bank a signed request at the root is for: the one whose `key_id` it
        names, else the first REST bank (whose check then refuses the key); None without any."""
        codes = self.codes("rest-signed")
        for code in codes:
            if key_id is not None and key_id in self.secrets_for(code):
                return code
        return codes[0] if codes else None

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

    def pay(
        self, key: str | None, body: Any, bank_code: str | None = None, channel: str = "http"
    ) -> tuple[int, dict[str, Any]]:
        """Book a payment order at `bank_code` (default: the simulated bank); (HTTP status, answer)."""
        return self.book(_validated(key, body), bank_code or self.simulated_code, channel)

    def book(self, order: dict[str, Any], bank_code: str, channel: str) -> tuple[int, dict[str, Any]]:
        """Book a validated order once per (bank, payment id): 201 booked now, 200 the first
        result again, 409 another order under the same id."""
        with self._lock:
            books = self.books.setdefault(bank_code, {})
            key = (bank_code, order["payment_id"])
            if order["payment_id"] in books:
                if self._requests[key] != order:
                    return HTTPStatus.CONFLICT, {
                        "payment_id": order["payment_id"],
                        "error": "IDEMPOTENCY_CONFLICT",
                        "message": "this payment id was used with another order",
                    }
                return HTTPStatus.OK, dict(books[order["payment_id"]])
            result = self._settle(order)
            books[order["payment_id"]] = result
            self._requests[key] = order
            self._channels[key] = channel
            self._write_journal(bank_code, channel, order, result)
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

    def _write_journal(
        self, bank_code: str, channel: str, order: dict[str, Any], result: dict[str, Any]
    ) -> None:
        if self._journal is not None:
            line = {"bank_code": bank_code, "channel": channel, "order": order, "result": result}
            with self._journal.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")

    def get(self, payment_id: str, bank_code: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            found = self.books.get(bank_code or self.simulated_code, {}).get(payment_id)
            return dict(found) if found else None

    def order_of(self, bank_code: str, payment_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._requests.get((bank_code, payment_id))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "payments": [
                    {**item, "bank_code": code, "channel": self._channels[(code, item["payment_id"])]}
                    for code, books in self.books.items()
                    for item in books.values()
                ],
                "balances": {key: f"{value:.2f}" for key, value in sorted(self.balances.items())},
            }

    def value_dates(self) -> set[date]:
        with self._lock:
            return {
                date.fromisoformat(result["value_date"])
                for books in self.books.values()
                for result in books.values()
            }

    def bookings(self, bank_code: str, account: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every settled (order, result) that moved money on `bank_code:account`, in booking order."""
        with self._lock:
            found = []
            for (code, payment_id), order in self._requests.items():
                result = self.books[code][payment_id]
                if result["status"] != "SETTLED":
                    continue
                if any(
                    party["bank_code"] == bank_code and party["account_number"] == account
                    for party in (order["debtor"], order["creditor"])
                ):
                    found.append((order, result))
            return found


def _directory(banks: BankDirectory | Mapping[str, Any] | None) -> BankDirectory:
    if isinstance(banks, BankDirectory):
        return banks
    if banks is None:
        return BankDirectory(DEFAULT_BANK, {DEFAULT_BANK: BankConfig(DEFAULT_BANK, "simulated", ())})
    return BankDirectory.from_json(banks)


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
    """`/payments` is the simulated bank; `/<CODE>/payments` the bank CODE: unsigned when CODE is a
    `simulated` bank, signed (CONTRACT.md section 7) when it is a `rest-signed` one."""

    server: BankServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: no Nagle wait on a small answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        """Status line, headers and body in one write (one segment for a small answer)."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from exc

    def _route(self) -> tuple[str | None, str]:
        """(bank code, the path under it): `/payments...` is the simulated bank, or a REST bank when
        the request carries signature headers (routed by `X-Key-Id`); `/<CODE>/...` a configured
        bank (None when CODE is none of them or a file bank)."""
        bank = self.server.bank
        path = self.path.split("?", 1)[0]
        if path == "/payments" or path.startswith("/payments/"):
            if any(self.headers.get(name) is not None for name in signing.SIGNED_HEADERS):
                # a signed request at the root is a REST bank's (a base URL without /<CODE>)
                return bank.rest_bank_for(self.headers.get(signing.KEY_ID)) or bank.simulated_code, path
            return bank.simulated_code, path
        code, _, rest = path.lstrip("/").partition("/")
        if bank.adapters.get(code) in ("simulated", "rest-signed"):
            return code, "/" + rest
        return None, path

    def _signed(self, code: str, raw: bytes) -> bool:
        """True when `code` needs no signature or the request's is right and fresh; else 401 sent."""
        bank = self.server.bank
        if bank.adapters.get(code) != "rest-signed":
            return True
        try:
            signing.verify(self.headers, self.command, self.path, raw, bank.secrets_for(code), bank.now())
        except signing.SignatureRejected as exc:
            self._send(
                HTTPStatus.UNAUTHORIZED,
                {"error": "UNAUTHORIZED", "reason": exc.reason.value, "message": str(exc)},
            )
            return False
        return True

    def do_GET(self) -> None:
        bank = self.server.bank
        raw = self._raw_body()
        if self.path == "/_admin/payments":
            self._send(HTTPStatus.OK, bank.snapshot())
            return
        if self.path == "/_admin/faults":
            self._send(HTTPStatus.OK, asdict(bank.faults))
            return
        if self.path == "/_admin/health":
            self._send(HTTPStatus.OK, {"status": "ok"})
            return
        code, path = self._route()
        if code is None or not path.startswith("/payments/"):
            self._send(HTTPStatus.NOT_FOUND, {"error": "NOT_FOUND"})
            return
        if not self._signed(code, raw):
            return
        found = bank.get(unquote(path.removeprefix("/payments/")), code)
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, {"status": "UNKNOWN"})
        else:
            self._send(HTTPStatus.OK, found)

    def do_POST(self) -> None:
        bank = self.server.bank
        try:
            raw = self._raw_body()
            if self.path == "/_admin/faults":
                self._send(HTTPStatus.OK, asdict(bank.set_faults(self._json(raw) or {})))
                return
            code, path = self._route()
            if code is None or path != "/payments":
                self._send(HTTPStatus.NOT_FOUND, {"error": "NOT_FOUND"})
                return
            if self._signed(code, raw):
                self._payment(bank, code, self._json(raw))
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "BAD_REQUEST", "message": str(exc)})

    def _payment(self, bank: Bank, code: str, body: Any) -> None:
        faults = bank.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if bank.roll(faults.error_rate):
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "UNAVAILABLE"})
            return
        if bank.roll(faults.drop_order_rate):
            self.close_connection = True  # never booked, never answered
            return
        channel = "rest" if bank.adapters.get(code) == "rest-signed" else "http"
        status, answer = bank.pay(self.headers.get("Idempotency-Key"), body, code, channel)
        if status == HTTPStatus.CREATED and bank.roll(faults.timeout_after_apply_rate):
            time.sleep(faults.timeout_ms / 1000)  # booked, but the answer is lost
            self.close_connection = True
            return
        self._send(status, answer)


class BankServer(ThreadingHTTPServer):
    """The bank's HTTP API; with a `FileExchange`, `start` and `shutdown` run its thread too."""

    daemon_threads = True

    def __init__(
        self,
        bank: Bank,
        port: int = 0,
        host: str = "127.0.0.1",
        exchange: FileExchange | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.bank = bank
        self.exchange = exchange

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def url_of(self, bank_code: str) -> str:
        """The base URL of a bank the server plays (`{base}/payments`): the root for the simulated
        bank, `/<CODE>` for a REST bank."""
        return self.url if bank_code == self.bank.simulated_code else f"{self.url}/{bank_code}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="simulated-bank", daemon=True)
        thread.start()
        self._started = True
        if self.exchange is not None:
            self.exchange.start()
        return thread

    def attach(self, exchange: FileExchange) -> None:
        """Add the file side after the server was made (started at once if the server runs)."""
        if self.exchange is not None:
            self.exchange.stop()
        self.exchange = exchange
        if getattr(self, "_started", False):
            exchange.start()

    def shutdown(self) -> None:
        if self.exchange is not None:
            self.exchange.stop()
        super().shutdown()


def _json_or_file(value: str) -> Any:
    """A JSON document given inline or as the path of a file holding it."""
    text = value if value.lstrip().startswith(("{", "[")) else Path(value).read_text(encoding="utf-8")
    return json.loads(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the simulated bank on its own (docs/local-stack.md)")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--clock", default="system", help="system or file:<path>")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None, help="the faults' random seed")
    parser.add_argument("--journal", type=Path, default=None, help="append every booking to this file")
    parser.add_argument("--banks", default=None, help="the bank directory (BANKS): JSON or a file")
    parser.add_argument("--rest-secrets", default=None, help='{"<key_id>": "<secret>"}: JSON or a file')
    parser.add_argument("--outbound-bucket", default=None, help="where file banks' orders are read")
    parser.add_argument("--inbox-bucket", default=None, help="where answers and statements are put")
    parser.add_argument("--aws-endpoint-url", default=None, help="the S3 endpoint (the local emulator)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--bank-credentials",
        default=None,
        help='{"<BANK>": {"aws_access_key_id": ..., "aws_secret_access_key": ...}}: JSON or a file',
    )
    parser.add_argument("--poll-seconds", type=float, default=0.5, help="outbound polling and clock watch")
    args = parser.parse_args(argv)
    from infra.local.bank_exchange import FileExchange, S3Settings  # it imports this module

    clock = clock_from_spec(args.clock) if args.clock != "system" else SystemClock()
    bank = Bank(
        clock,
        args.journal,
        Faults(latency_ms=args.latency_ms, seed=args.seed),
        banks=_json_or_file(args.banks) if args.banks else None,
        rest_secrets=_json_or_file(args.rest_secrets) if args.rest_secrets else None,
    )
    exchange = None
    if args.inbox_bucket:
        exchange = FileExchange(
            bank,
            S3Settings(
                inbox_bucket=args.inbox_bucket,
                outbound_bucket=args.outbound_bucket,
                endpoint_url=args.aws_endpoint_url,
                region=args.region,
                credentials=_json_or_file(args.bank_credentials) if args.bank_credentials else {},
            ),
            poll_seconds=args.poll_seconds,
        )
    server = BankServer(bank, port=args.port, exchange=exchange)
    print(f"simulated bank on {server.url}", flush=True)
    for code in bank.codes("rest-signed"):
        print(f"  {code} (rest-signed) at {server.url_of(code)}", flush=True)
    try:
        server.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
