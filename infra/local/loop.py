"""The walking-skeleton loop against a running local stack, written once for `scf demo`, the e2e
test and the benchmarks: onboard a supplier through platform files, read its credit line, apply,
watch the loan go DISBURSING -> ACTIVE, repay the payoff, watch it go REPAID and the repayment
APPLIED. Every step is timed."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from infra.local import tokens
from infra.local.emulator import client
from infra.local.state import read_clock

MONEY = re.compile(r"^\d+\.\d{2}$")
TERMINAL_LOAN_STATES = frozenset({"FAILED", "REPAID"})


class LoopError(AssertionError):
    """A step of the loop did not do what the contract says."""


@dataclass
class Step:
    name: str
    ms: float
    detail: str = ""


@dataclass
class Timeline:
    steps: list[Step] = field(default_factory=list)
    on_step: Callable[[Step], None] | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {"detail": ""}
        started = time.perf_counter()
        yield note
        recorded = Step(name, (time.perf_counter() - started) * 1000, note["detail"])
        self.steps.append(recorded)
        if self.on_step is not None:
            self.on_step(recorded)

    def render(self) -> str:
        width = max((len(step.name) for step in self.steps), default=10)
        lines = [f"{step.name:<{width}}  {step.ms:9.1f} ms  {step.detail}" for step in self.steps]
        lines.append(f"{'total':<{width}}  {sum(step.ms for step in self.steps):9.1f} ms")
        return "\n".join(lines)


class LocalClient:
    """HTTP and S3 access to the running local stack described by its env.json."""

    def __init__(self, env: dict[str, Any], timeout: float = 35.0) -> None:
        self.env = env
        self.api = env["api_url"].rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        self.s3 = client("s3", env["aws_endpoint_url"], env["region"])
        self._partner_clients: dict[str, Any] = {}
        self._private_key = Path(env["private_key_file"]).read_bytes()

    def token(self, supplier_id: str | None = None, ops: bool = False) -> str:
        return tokens.issue(self._private_key, self.env["token_issuer"], supplier_id=supplier_id, ops=ops)

    def business_date(self) -> date:
        return read_clock(Path(self.env["clock_file"]))

    def call(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        idempotency_key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self.http.request(
            method, self.api + path, json=body, headers=headers, params=params, timeout=self.timeout
        )

    def stored(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The table's item at (pk, sk), read consistently, as plain Python values (or None)."""
        from boto3.dynamodb.types import TypeDeserializer

        dynamodb = client("dynamodb", self.env["aws_endpoint_url"], self.env["region"])
        found = dynamodb.get_item(
            TableName=self.env["table_name"], Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        reader = TypeDeserializer()
        return None if found is None else {name: reader.deserialize(value) for name, value in found.items()}

    def upload(self, key: str, content: bytes, as_partner: str | None = None) -> None:
        """Put `content` at `key` as a partner does, with `as_partner`'s keys (default: the partner
        the key's prefix names; a prefix no partner has: the emulator's own keys)."""
        self.partner_s3(as_partner or key.partition("/")[0], required=as_partner is not None).put_object(
            Bucket=self.env["inbox_bucket"], Key=key, Body=content
        )

    def partner_s3(self, partner: str, required: bool = True) -> Any:
        """An S3 client with `partner`'s keys (env.json `partners`)."""
        partners = self.env.get("partners") or {}
        if partner not in partners:
            if required:
                raise LoopError(f"no partner {partner!r}; the partners are {', '.join(sorted(partners))}")
            return self.s3
        if partner not in self._partner_clients:
            self._partner_clients[partner] = client(
                "s3", self.env["aws_endpoint_url"], self.env["region"], partners[partner]["credentials"]
            )
        return self._partner_clients[partner]

    def report_version(self, key: str) -> str | None:
        """The version id of the file's report now (the inbox is versioned), None when it has none."""
        try:
            head = self.s3.head_object(Bucket=self.env["inbox_bucket"], Key=report_key(key))
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return _version(head)

    def wait_report(self, key: str, timeout: float = 60.0, after: str | None = None) -> dict[str, Any]:
        """The file's report, once one exists (and, with `after`, once it is not that version: a
        key dropped again gets a new report over the old one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = self.s3.get_object(Bucket=self.env["inbox_bucket"], Key=report_key(key))
            except self.s3.exceptions.NoSuchKey:
                time.sleep(0.05)
                continue
            if after is not None and _version(answer) == after:
                time.sleep(0.05)
                continue
            report: dict[str, Any] = json.loads(answer["Body"].read())
            return report
        raise LoopError(f"no new report at {report_key(key)} within {timeout} s")


def _version(answer: dict[str, Any]) -> str:
    version = answer.get("VersionId")
    if version and version != "null":
        return str(version)
    return f"{answer['ETag']}@{answer['LastModified']}"  # an unversioned bucket


def report_key(key: str) -> str:
    """Where the report of the file at `key` is written (CONTRACT.md section 6)."""
    return f"reports/{key}.report.json"


def expect(response: requests.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise LoopError(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"expected {statuses}: {response.text[:800]}"
        )
    data: dict[str, Any] = response.json()
    return data


def money(value: Any, what: str) -> str:
    if not isinstance(value, str) or not MONEY.match(value):
        raise LoopError(f"{what} is not a money string with two decimals: {value!r}")
    return value


# --- the supplier's files -------------------------------------------------------------------------

GOODS_RECEIPT_AMOUNT = "150000.00"


def supplier_csv(supplier_id: str, bank_code: str, verified: bool = True) -> bytes:
    """An active supplier; an unverified bank account sends its applications to ops review."""
    flag = "true" if verified else "false"
    rows = [
        "supplier_id,name,status,bank_code,account_number,account_name,account_verified",
        f"{supplier_id},Demo Supplier {supplier_id},ACTIVE,{bank_code},ACC-{supplier_id},Demo Supplier,"
        + flag,
    ]
    return ("\n".join(rows) + "\n").encode()


def documents_csv(supplier_id: str, today: date, currency: str = "CNY") -> bytes:
    """About a year of goods receipts (every 15 days) and the invoices of the older ones, so the
    default policy approves: history over 180 days, no returns, no sales signal, verified account."""
    header = "supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference"
    rows = [header]
    for number, age in enumerate(range(360, 0, -15), start=1):
        receipt = f"GR-{supplier_id}-{number:03d}"
        received = today - timedelta(days=age)
        rows.append(
            f"{supplier_id},{receipt},GOODS_RECEIPT,{received},,{GOODS_RECEIPT_AMOUNT},{currency},CONFIRMED,"
        )
        if age > 45:
            invoiced = received + timedelta(days=30)
            due = invoiced + timedelta(days=60)
            rows.append(
                f"{supplier_id},INV-{supplier_id}-{number:03d},INVOICE,{invoiced},{due},"
                f"{GOODS_RECEIPT_AMOUNT},{currency},CONFIRMED,{receipt}"
            )
    return ("\n".join(rows) + "\n").encode()


# --- the loop ---------------------------------------------------------------------------------------


@dataclass
class LoopResult:
    supplier_id: str
    business_date: date
    timeline: Timeline
    credit_line: dict[str, Any] = field(default_factory=dict)
    application: dict[str, Any] = field(default_factory=dict)
    loan_active: dict[str, Any] = field(default_factory=dict)
    loan_repaid: dict[str, Any] = field(default_factory=dict)
    repayment: dict[str, Any] = field(default_factory=dict)
    loan_statuses: list[str] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    application_to_active_ms: float = 0.0


def onboard(
    local: LocalClient, supplier_id: str, timeline: Timeline, verified: bool = True
) -> dict[str, dict[str, Any]]:
    """Upload the supplier master and its documents under platform/ and wait for both reports."""
    today = local.business_date()
    bank_code = str(local.env.get("lender_account", {}).get("bank_code") or "SIMBANK")
    files = [
        ("suppliers", supplier_csv(supplier_id, bank_code, verified)),
        ("documents", documents_csv(supplier_id, today)),
    ]
    reports = {}
    for kind, content in files:
        key = f"platform/demo/{supplier_id}/{kind}.csv"
        with timeline.step(f"{kind} file -> report") as note:
            local.upload(key, content)
            report = local.wait_report(key)
            note["detail"] = (
                f"{report.get('status')} rows {report.get('rows_accepted')}/{report.get('rows_total')}"
            )
        if report.get("status") != "PROCESSED" or report.get("rows_rejected"):
            raise LoopError(f"{key} was not processed cleanly: {json.dumps(report)[:1500]}")
        reports[kind] = report
    return reports


def wait_for_loan(
    local: LocalClient,
    token: str,
    loan_id: str,
    wanted: str,
    seen: list[str],
    timeout: float = 30.0,
    interval: float = 0.02,
) -> dict[str, Any]:
    """Poll the loan until it is `wanted`; every status observed is appended to `seen` once."""
    deadline = time.monotonic() + timeout
    loan: dict[str, Any] = {}
    while time.monotonic() < deadline:
        loan = expect(local.call("GET", f"/v1/loans/{loan_id}", token), 200)
        status = str(loan.get("status"))
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return loan
        if status in TERMINAL_LOAN_STATES:
            raise LoopError(f"loan {loan_id} became {status} while waiting for {wanted}: {loan}")
        time.sleep(interval)
    raise LoopError(f"loan {loan_id} not {wanted} within {timeout} s; last seen {loan}")


def apply_until_active(
    local: LocalClient, token: str, amount: str, term_days: int, seen: list[str]
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """POST /v1/applications and wait for the loan to be ACTIVE; (application, loan, ms)."""
    started = time.perf_counter()
    application = expect(
        local.call(
            "POST",
            "/v1/applications",
            token,
            {"amount": amount, "currency": "CNY", "term_days": term_days},
            idempotency_key=str(uuid.uuid4()),
        ),
        200,
        201,
    )
    if application.get("status") != "APPROVED" or not application.get("loan_id"):
        raise LoopError(f"the application was not approved: {application}")
    loan = wait_for_loan(local, token, str(application["loan_id"]), "ACTIVE", seen)
    return application, loan, (time.perf_counter() - started) * 1000


def run_loop(
    env: dict[str, Any],
    amount: str = "100000.00",
    term_days: int = 30,
    on_step: Callable[[Step], None] | None = None,
) -> LoopResult:
    local = LocalClient(env)
    supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
    timeline = Timeline(on_step=on_step)
    result = LoopResult(supplier_id=supplier_id, business_date=local.business_date(), timeline=timeline)
    token = local.token(supplier_id=supplier_id)

    result.reports = onboard(local, supplier_id, timeline)

    with timeline.step("GET /v1/credit-line") as note:
        result.credit_line = expect(
            local.call("GET", "/v1/credit-line", token, params={"currency": "CNY"}), 200
        )
        note["detail"] = f"available {result.credit_line.get('available')}"
    money(result.credit_line.get("available"), "credit line available")

    with timeline.step("POST /v1/applications -> ACTIVE") as note:
        application, loan, elapsed = apply_until_active(local, token, amount, term_days, result.loan_statuses)
        note["detail"] = f"loan {application['loan_id']} {' -> '.join(result.loan_statuses)}"
    result.application, result.loan_active, result.application_to_active_ms = application, loan, elapsed
    loan_id = str(application["loan_id"])
    payoff = money(loan.get("payoff"), "payoff")

    with timeline.step("POST repayments (payoff)") as note:
        result.repayment = expect(
            local.call(
                "POST",
                f"/v1/loans/{loan_id}/repayments",
                token,
                {"amount": payoff},
                idempotency_key=str(uuid.uuid4()),
            ),
            200,
            201,
            202,
        )
        note["detail"] = f"{result.repayment.get('repayment_id')} {result.repayment.get('status')}"
    repayment_id = str(result.repayment["repayment_id"])

    with timeline.step("loan -> REPAID") as note:
        result.loan_repaid = wait_for_loan(local, token, loan_id, "REPAID", result.loan_statuses)
        note["detail"] = " -> ".join(result.loan_statuses)

    with timeline.step("GET /v1/repayments/{id}") as note:
        deadline = time.monotonic() + 30
        while True:
            repayment = expect(local.call("GET", f"/v1/repayments/{repayment_id}", token), 200)
            if repayment.get("status") == "APPLIED" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        note["detail"] = f"{repayment.get('status')} allocation {repayment.get('allocation')}"
    if repayment.get("status") != "APPLIED":
        raise LoopError(f"repayment {repayment_id} is not APPLIED: {repayment}")
    result.repayment = repayment
    return result
