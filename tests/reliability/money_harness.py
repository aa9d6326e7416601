"""Test harness for the money half (disburse, apply_repayment): moto table shaped like
docs/architecture.md, the outbox "pipe" (outbox items -> DynamoDB stream records -> SQS events),
API Gateway proxy events with Cognito claims, and a stand-in for the simulated bank's HTTP API
with injectable faults. Shared by tests/integration and tests/reliability."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pynamodb.connection.base as pynamodb_base
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws
from pynamodb.transactions import TransactWrite

from scf import config
from scf.adapters.dynamodb.models import (
    ExposureItem,
    LoanItem,
    OutboxItem,
    PostingItem,
    SupplierItem,
    bind,
)
from scf.adapters.dynamodb.portfolio_counters import count_loan_change
from scf.adapters.dynamodb.transactions import connection
from scf.domain.ledger import Posting, balances
from scf.domain.loan import Loan, LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.events import LOAN_APPROVED, TARGET_OF
from tests.support import create_tables, load_handler
from tests.table_grants import outside_functions

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
TABLE = "scf-test-business"
LENDER = {"bank_code": "LENDERBANK", "account_number": "6222000011112222", "name": "SCF Lender"}


# -- the stand-in bank ----------------------------------------------------------------------------


@dataclass
class BankFaults:
    reject_accounts: set[str] = field(default_factory=set)
    unavailable_next: int = 0  # answer 503 without applying
    lose_answer_next: int = 0  # apply, then drop the connection (the answer is lost)
    hang_after_apply_seconds: float = 0.0  # apply, then answer late (client timeout)
    status_unavailable: bool = False  # GET /payments/<id> answers 503


class StandInBank:
    """POST /payments (idempotent by the Idempotency-Key, 409 for the same key with another body),
    GET /payments/<id> (404 {"status": "UNKNOWN"} when unknown), per docs/architecture.md."""

    def __init__(self, today: Callable[[], date]) -> None:
        self.today = today
        self.faults = BankFaults()
        self.payments: dict[str, dict[str, Any]] = {}
        self.bodies: dict[str, str] = {}
        self.posts: list[str] = []
        self.gets: list[str] = []
        self._lock = threading.Lock()
        bank = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                payment_id = self.path.removeprefix("/payments/")
                bank.gets.append(payment_id)
                if bank.faults.status_unavailable:
                    self._answer(503, {"error": "unavailable"})
                    return
                with bank._lock:
                    found = bank.payments.get(payment_id)
                self._answer(200, found) if found else self._answer(404, {"status": "UNKNOWN"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                body = json.loads(raw)
                bank.posts.append(key)
                with bank._lock:
                    if bank.faults.unavailable_next:
                        bank.faults.unavailable_next -= 1
                        self._answer(503, {"error": "unavailable"})
                        return
                    canonical = json.dumps(body, sort_keys=True)
                    if key in bank.payments:
                        if bank.bodies[key] != canonical:
                            self._answer(409, {"error": "idempotency key reused"})
                            return
                        status = 200
                    else:
                        bank.payments[key] = bank._settle(key, body)
                        bank.bodies[key] = canonical
                        status = 201
                    answer = bank.payments[key]
                    lose = bank.faults.lose_answer_next > 0
                    if lose:
                        bank.faults.lose_answer_next -= 1
                    hang = bank.faults.hang_after_apply_seconds
                if lose:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if hang:
                    threading.Event().wait(hang)
                self._answer(status, answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _settle(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        payer = body["debtor"] if body["direction"] == "COLLECTION" else body["creditor"]
        rejected = payer["account_number"] in self.faults.reject_accounts
        answer: dict[str, Any] = {
            "payment_id": payment_id,
            "status": "REJECTED" if rejected else "SETTLED",
            "value_date": self.today().isoformat(),
            "bank_reference": "BR" + hashlib.sha256(payment_id.encode()).hexdigest()[:12].upper(),
            "amount": body["amount"],
            "direction": body["direction"],
        }
        if rejected:
            answer["reason"] = "ACCOUNT_BLOCKED"
        return answer

    def applied(self, payment_id: str) -> int:
        """How many times the bank moved money for this payment id (never more than once)."""
        return 1 if payment_id in self.payments else 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- events -----------------------------------------------------------------------------------------


class FakeContext:
    function_name = "scf-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:scf-test"
    aws_request_id = "req-0"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def stream_record(raw_item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB stream INSERT record as EventBridge Pipes puts it in the SQS message body."""
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_790_000_000,
            "Keys": {"pk": raw_item["pk"], "sk": raw_item["sk"]},
            "NewImage": raw_item,
            "SequenceNumber": str(uuid.uuid4().int)[:21],
            "SizeBytes": len(json.dumps(raw_item)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/stream/2026-01-01T00:00:00",
    }


def sqs_event(bodies: list[dict[str, Any]], receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(body, sort_keys=True))),
                "receiptHandle": "handle",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1790000000000",
                    "SenderId": "AROAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1790000000000",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(json.dumps(body).encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:queue",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


def api_event(
    method: str,
    path: str,
    *,
    supplier_id: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    claims: dict[str, str] = {"sub": f"user-{supplier_id}", "token_use": "id"}
    if supplier_id:
        claims["custom:supplier_id"] = supplier_id
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": uuid.uuid4().hex,
            "authorizer": {"claims": claims},
        },
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


# -- the world ----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class MoneyWorld:
    """One business table in moto, a stand-in bank, the two money handlers and a settable clock."""

    def __init__(self, tmp: Path, bank: StandInBank, clock_file: Path, session: Any) -> None:
        self.tmp = tmp
        self.session = session  # the botocore session every PynamoDB client is made from (event hooks)
        self.bank = bank
        self.clock_file = clock_file
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.delivered: set[str] = set()
        self.disburse = load_handler("disburse")
        self.apply_repayment = load_handler("apply_repayment")

    # clock
    def set_today(self, day: date) -> None:
        self.clock_file.write_text(day.isoformat(), encoding="utf-8")

    def today(self) -> date:
        return date.fromisoformat(self.clock_file.read_text(encoding="utf-8").strip())

    # seeding (what ingest_settlement and score_application write)
    def add_supplier(self, supplier_id: str, account_number: str, bank_code: str = "SIMBANK") -> None:
        SupplierItem(
            *SupplierItem.key(supplier_id),
            supplier_id=supplier_id,
            name=f"Supplier {supplier_id}",
            status="ACTIVE",
            bank_code=bank_code,
            account_number=account_number,
            account_name=f"Supplier {supplier_id} Ltd",
            account_verified=True,
            updated_at="2026-01-01T00:00:00+00:00",
        ).save()

    def approve_loan(
        self,
        loan_id: str,
        supplier_id: str,
        principal_minor: int,
        *,
        term_days: int = 30,
        rate: str = "0.10",
        created_at: str = "2026-01-01T00:00:00+00:00",
        currency: str = "CNY",
        payout_account: dict[str, str] | None = None,
    ) -> None:
        """An APPROVED loan (with the account recorded at approval, if given), its reservation on
        the exposure and its LoanApproved outbox event."""
        LoanItem(
            *LoanItem.key(loan_id),
            loan_id=loan_id,
            supplier_id=supplier_id,
            application_id=f"APP-{loan_id}",
            status="APPROVED",
            currency=currency,
            principal_minor=principal_minor,
            outstanding_principal_minor=principal_minor,
            annual_rate=rate,
            term_days=term_days,
            created_at=created_at,
            updated_at=created_at,
            gsi1pk=LoanItem.supplier_index_pk(supplier_id),
            gsi1sk=f"{created_at}#{loan_id}",
            gsi2pk=LoanItem.status_index_pk("APPROVED"),
            gsi2sk=LoanItem.status_index_sk(loan_id, None),
            payout_account=payout_account,
            in_portfolio=True,
        ).save()
        approved = Loan(
            loan_id=loan_id,
            supplier_id=supplier_id,
            status=LoanStatus.APPROVED,
            currency=currency,
            principal_minor=principal_minor,
            outstanding_principal_minor=principal_minor,
            annual_rate=Decimal(rate),
            term_days=term_days,
        )
        with TransactWrite(connection=connection()) as counters:  # as the approving transaction does
            count_loan_change(counters, None, approved, now=created_at)
        exposure = ExposureItem(*ExposureItem.key(supplier_id, currency))
        exposure.update(
            actions=[
                ExposureItem.principal_minor.set((ExposureItem.principal_minor | 0) + principal_minor),
                ExposureItem.overdue_loans.set(ExposureItem.overdue_loans | 0),
                ExposureItem.supplier_id.set(supplier_id),
                ExposureItem.currency.set(currency),
            ]
        )
        payload = {
            "loan_id": loan_id,
            "supplier_id": supplier_id,
            "amount": format_amount(principal_minor),
            "currency": currency,
        }
        OutboxItem(
            *OutboxItem.key(f"{LOAN_APPROVED}-{loan_id}"),
            target=TARGET_OF[LOAN_APPROVED],
            event_type=LOAN_APPROVED,
            payload=json.dumps(payload),
            created_at=created_at,
            expires_at=datetime.now(UTC) + timedelta(days=7),
        ).save()

    # the pipe
    def pending(self, target: str) -> list[dict[str, Any]]:
        """Stream records of outbox items for `target` not delivered yet (the pipe's filter)."""
        items = []
        with outside_functions():  # a test may deliver from inside a handler (a concurrent payoff)
            scan = self.client.get_paginator("scan").paginate(
                TableName=TABLE,
                FilterExpression="kind = :k AND target = :t",
                ExpressionAttributeValues={":k": {"S": "OUTBOX"}, ":t": {"S": target}},
            )
            for page in scan:
                for item in page["Items"]:
                    if item["pk"]["S"] not in self.delivered:
                        self.delivered.add(item["pk"]["S"])
                        items.append(stream_record(item))
        return items

    def deliver(self, target: str, *, receive_count: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
        """Deliver every pending outbox event of `target` as one SQS batch; (event, batch answer)."""
        event = sqs_event(self.pending(target), receive_count)
        return event, self.invoke_sqs(target, event)

    def invoke_sqs(self, target: str, event: dict[str, Any]) -> dict[str, Any]:
        module = self.disburse if target == "disbursements" else self.apply_repayment
        try:
            answer: dict[str, Any] = module.handler(event, FakeContext())
        except BatchProcessingError:
            # Every record failed: Lambda returns the whole batch to the queue.
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
        return answer

    def api(self, method: str, path: str, *, supplier_id: str | None, **kwargs: Any) -> Answer:
        raw = self.apply_repayment.handler(
            api_event(method, path, supplier_id=supplier_id, **kwargs), FakeContext()
        )
        body = json.loads(raw["body"]) if raw.get("body") else None
        headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        headers |= {k.lower(): v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
        return Answer(raw["statusCode"], body, headers)

    def bank_credit(self, loan_id: str, supplier_id: str, amount_minor: int, *, key: str) -> None:
        """Money for the loan already received (a bank credit naming it), as its outbox event."""
        credit = Repayment(
            f"RB{key}", loan_id, supplier_id, RepaymentStatus.PENDING, RepaymentSource.BANK_CREDIT,
            amount_minor, "CNY", value_date=self.today(),
        )  # fmt: skip
        event = credit.requested_event()
        OutboxItem(
            *OutboxItem.key(event.event_id),
            target=TARGET_OF[event.event_type],
            event_type=event.event_type,
            payload=json.dumps(event.payload),
            created_at=datetime.now(UTC).isoformat(),
            expires_at=datetime.now(UTC) + timedelta(days=7),
        ).save()

    def daily(self, step: str, *, receive_count: int = 1) -> dict[str, Any]:
        """The schedule's message for `step` on today's business date, on the repayments queue."""
        body = {"scf": "daily", "step": step, "business_date": self.today().isoformat()}
        return self.invoke_sqs("repayments", sqs_event([body], receive_count))

    # reading back
    def loan(self, loan_id: str) -> LoanItem:
        return LoanItem.get(*LoanItem.key(loan_id), consistent_read=True)

    def exposure(self, supplier_id: str, currency: str = "CNY") -> ExposureItem:
        return ExposureItem.get(*ExposureItem.key(supplier_id, currency), consistent_read=True)

    def postings(self, loan_id: str) -> list[Posting]:
        return [
            Posting.from_json(item.posting_id, item.reason, item.entries)
            for item in PostingItem.query(f"LEDGER#{loan_id}", consistent_read=True)
        ]

    def ledger(self, loan_id: str) -> dict[str, int]:
        return balances(self.postings(loan_id))

    def assert_ledger_matches_loan(self, loan_id: str) -> None:
        """Balances derived from the postings agree with the loan's stored state."""
        loan = self.loan(loan_id)
        ledger = self.ledger(loan_id)
        paid_out = loan.status in ("ACTIVE", "OVERDUE", "REPAID")
        assert ledger["loans_receivable"] == (loan.outstanding_principal_minor if paid_out else 0)
        assert -ledger["interest_income"] == loan.interest_paid_minor
        assert -ledger["penalty_income"] == loan.penalty_paid_minor
        assert -ledger["supplier_overpayment"] == (loan.overpayment_minor or 0) - (loan.refunded_minor or 0)
        assert sum(ledger.values()) == 0


def banks_document(bank_url: str, **more: dict[str, Any]) -> dict[str, Any]:
    """The BANKS setting of these tests: the lender banks at LENDERBANK (the default bank, played
    by the stand-in bank), plus `more` banks {code: settings}."""
    lender = {"account_number": LENDER["account_number"], "name": LENDER["name"]}
    return {
        "default_bank": LENDER["bank_code"],
        "banks": {
            LENDER["bank_code"]: {"adapter": "simulated", "url": bank_url, "accounts": [lender]},
            **more,
        },
    }


def money_world(tmp_path: Path, monkeypatch: Any) -> Iterator[MoneyWorld]:
    """Generator for a pytest fixture: `yield from money_world(tmp_path, monkeypatch)`."""
    clock_file = tmp_path / "today"
    clock_file.write_text("2026-01-01", encoding="utf-8")
    bank = StandInBank(today=lambda: date.fromisoformat(clock_file.read_text(encoding="utf-8").strip()))
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TABLE_NAME": TABLE,
        "BANKS": json.dumps(banks_document(bank.url)),
        "SCF_CLOCK": f"file:{clock_file}",
        "POLICY_TIMEZONE": "Asia/Shanghai",
        "POWERTOOLS_SERVICE_NAME": "scf-test",
        "POWERTOOLS_METRICS_NAMESPACE": "scf-test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # PynamoDB opens one botocore session per model class, each loading the service JSON again
    # (~0.2 s apiece); one shared session keeps these tests fast. Behaviour is unchanged.
    shared_session = botocore.session.get_session()
    monkeypatch.setattr(pynamodb_base, "get_session", lambda: shared_session)
    config.settings.cache_clear()
    try:
        with mock_aws():
            create_tables(TABLE)
            bind(TABLE, REGION, None)
            yield MoneyWorld(tmp_path, bank, clock_file, shared_session)
    finally:
        config.settings.cache_clear()
        bank.close()
