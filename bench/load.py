"""A load run against the local stack (issue 12), bounded in count and time, loopback only.

1. Onboards `--suppliers` suppliers through platform files (10-ish big files: supplier master and
   documents, 100 suppliers a file), their accounts spread over SIMBANK, FILEBANK and RESTBANK.
2. For `--minutes`, `--workers` threads send mixed traffic: applications (a few hot suppliers get
   many, so reservations race), loan and application reads and lists, credit lines, repayments
   (partial and full), extensions (mostly 409), settlement files (PAYMENT rows: sweeps) and camt.054
   credits at FILEBANK (BANK_CREDIT), with the bank's faults on (5xx, timeouts after booking,
   rejected accounts).
3. Faults off, waits until quiet (queues drained, every file reported, no payout in flight), reads
   the whole table, the bank's payments and journal, the inbox and the dead-letter queues, and checks
   the invariants of infra.ops.invariants. Prints figures and verdicts; exits 0 even on FAIL.

    .venv/bin/python bench/load.py --smoke                 # ~60 s of traffic, 50 suppliers
    .venv/bin/python bench/load.py --suppliers 1000 --minutes 10
    .venv/bin/python bench/load.py --running --smoke       # the stack `make run` started
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from boto3.dynamodb.types import TypeDeserializer
from tqdm import tqdm

from infra.local.bank_files import AccountReport, Booking, notification
from infra.local.daily import days_passed, fire
from infra.local.emulator import client
from infra.local.loop import LocalClient, documents_csv, report_key
from infra.local.process import StackProcess, start_stack
from infra.local.state import read_clock, read_env, state_dir, write_clock
from infra.ops import invariants
from scf.domain.money import format_amount, parse_amount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bank_latency import REPORT_LINE, percentile  # noqa: E402  (after the path)

BANKS = ("SIMBANK", "FILEBANK", "RESTBANK")
SUPPLIERS_PER_FILE = 100
APPLY_AMOUNTS = (5_000, 20_000, 50_000, 100_000, 200_000, 400_000)  # whole CNY
LIVE = frozenset({"ACTIVE", "OVERDUE"})
JOURNAL = "bank-journal.jsonl"


class Recorder:
    """Latency (ms) and status codes per route, from every worker thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.outcomes: Counter[str] = Counter()

    def call(
        self,
        local: LocalClient,
        route: str,
        method: str,
        path: str,
        token: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response | None:
        key = str(uuid.uuid4()) if method == "POST" else None
        started = time.perf_counter()
        answer: requests.Response | None
        try:
            answer = local.call(method, path, token, body, idempotency_key=key, params=params)
            status = str(answer.status_code)
        except requests.RequestException as exc:
            answer, status = None, type(exc).__name__
        self.record(route, status, (time.perf_counter() - started) * 1000)
        return answer

    def record(self, route: str, status: str, ms: float) -> None:
        with self.lock:
            self.latency[route].append(ms)
            self.statuses[route][status] += 1

    def outcome(self, what: str) -> None:
        with self.lock:
            self.outcomes[what] += 1

    def total(self) -> int:
        return sum(len(values) for values in self.latency.values())


@dataclass
class World:
    """What the bench knows about the system it loads: suppliers, their banks, loans it saw."""

    stamp: str
    suppliers: list[str]
    bank_of: dict[str, str]
    rejected: set[str]
    hot: list[str]
    today: date
    loans: dict[str, str] = field(default_factory=dict)  # loan_id -> supplier_id
    uploaded: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    files: int = 0

    def add_loan(self, loan_id: str, supplier_id: str) -> None:
        with self.lock:
            self.loans[loan_id] = supplier_id

    def some_loans(self, rng: random.Random, count: int) -> list[tuple[str, str]]:
        with self.lock:
            if not self.loans:
                return []
            ids = rng.sample(list(self.loans), min(count, len(self.loans)))
            return [(loan_id, self.loans[loan_id]) for loan_id in ids]

    def next_file(self) -> int:
        with self.lock:
            self.files += 1
            return self.files

    def dropped(self, key: str) -> None:
        with self.lock:
            self.uploaded.append(key)


def account(supplier_id: str) -> str:
    return f"ACC-{supplier_id}"


def make_world(count: int, today: date, rng: random.Random) -> World:
    stamp = uuid.uuid4().hex[:4].upper()
    suppliers = [f"LD{stamp}-{n:05d}" for n in range(count)]
    bank_of = {supplier_id: BANKS[n % len(BANKS)] for n, supplier_id in enumerate(suppliers)}
    rejected = set(rng.sample(suppliers, max(1, count * 3 // 100)))
    hot = rng.sample(suppliers, max(2, count // 20))
    return World(stamp, suppliers, bank_of, rejected, hot, today)


# --- phase 1: onboarding through platform files ------------------------------------------------------


def master_file(world: World, chunk: list[str]) -> bytes:
    rows = ["supplier_id,name,status,bank_code,account_number,account_name,account_verified"]
    for n, supplier_id in enumerate(chunk):
        verified = "false" if n % 50 == 49 else "true"  # 2%: their applications go to ops review
        rows.append(
            f"{supplier_id},Load {supplier_id},ACTIVE,{world.bank_of[supplier_id]},{account(supplier_id)},"
            f"Load Supplier,{verified}"
        )
    return ("\n".join(rows) + "\n").encode()


def documents_file(world: World, chunk: list[str]) -> bytes:
    lines: list[str] = []
    for supplier_id in chunk:
        rows = documents_csv(supplier_id, world.today).decode().splitlines()
        lines.extend(rows if not lines else rows[1:])
    return ("\n".join(lines) + "\n").encode()


def drop_and_wait(
    local: LocalClient, world: World, files: list[tuple[str, bytes]], what: str
) -> Counter[str]:
    for key, content in files:
        local.upload(key, content)
        world.dropped(key)
    statuses: Counter[str] = Counter()
    for key, _ in tqdm(files, desc=what, unit="file"):
        report = local.wait_report(key, timeout=900)
        statuses[f"{report.get('status')} rows {report.get('rows_accepted')}/{report.get('rows_total')}"] += 1
    return statuses


def onboard(local: LocalClient, world: World) -> None:
    chunks = [
        world.suppliers[start : start + SUPPLIERS_PER_FILE]
        for start in range(0, len(world.suppliers), SUPPLIERS_PER_FILE)
    ]
    base = f"platform/load/{world.stamp}"
    started = time.perf_counter()
    masters = [(f"{base}/suppliers-{n:03d}.csv", master_file(world, chunk)) for n, chunk in enumerate(chunks)]
    print(f"  supplier master: {dict(drop_and_wait(local, world, masters, 'supplier files'))}")
    documents = [
        (f"{base}/documents-{n:03d}.csv", documents_file(world, chunk)) for n, chunk in enumerate(chunks)
    ]
    rows = sum(content.count(b"\n") - 1 for _, content in documents)
    ready = time.perf_counter()
    print(f"  documents: {dict(drop_and_wait(local, world, documents, 'document files'))}")
    took = time.perf_counter() - ready
    print(
        f"  onboarded {len(world.suppliers)} suppliers in {len(masters) + len(documents)} files, "
        f"{rows} document rows in {took:.1f} s ({rows / took:.0f} rows/s); "
        f"total {time.perf_counter() - started:.1f} s"
    )


# --- phase 2: mixed traffic --------------------------------------------------------------------------


class Traffic:
    """One worker's actions; each picks its own supplier or loan and records what it did."""

    def __init__(self, local: LocalClient, world: World, recorder: Recorder, seed: int) -> None:
        self.local, self.world, self.recorder = local, world, recorder
        self.rng = random.Random(seed)
        self.tokens: dict[str, str] = {}

    def token(self, supplier_id: str) -> str:
        if supplier_id not in self.tokens:
            self.tokens[supplier_id] = self.local.token(supplier_id=supplier_id)
        return self.tokens[supplier_id]

    def supplier(self) -> str:
        pool = self.world.hot if self.rng.random() < 0.3 else self.world.suppliers
        return self.rng.choice(pool)

    def loan(self) -> tuple[str, str] | None:
        found = self.world.some_loans(self.rng, 1)
        return found[0] if found else None

    def apply(self) -> None:
        supplier_id = self.supplier()
        body = {
            "amount": f"{self.rng.choice(APPLY_AMOUNTS)}.00",
            "currency": "CNY",
            "term_days": self.rng.randint(15, 90),
        }
        answer = self.recorder.call(
            self.local, "POST /v1/applications", "POST", "/v1/applications", self.token(supplier_id), body
        )
        if answer is not None and answer.status_code in (200, 201):
            application = answer.json()
            self.recorder.outcome(f"application {application.get('status')}")
            if application.get("loan_id"):
                self.world.add_loan(str(application["loan_id"]), supplier_id)

    def credit_line(self) -> None:
        supplier_id = self.supplier()
        self.recorder.call(
            self.local,
            "GET /v1/credit-line",
            "GET",
            "/v1/credit-line",
            self.token(supplier_id),
            params={"currency": "CNY"},
        )

    def read_loan(self) -> dict[str, Any] | None:
        found = self.loan()
        if found is None:
            return None
        loan_id, supplier_id = found
        answer = self.recorder.call(
            self.local, "GET /v1/loans/{id}", "GET", f"/v1/loans/{loan_id}", self.token(supplier_id)
        )
        if answer is None or answer.status_code != 200:
            return None
        loan: dict[str, Any] = answer.json()
        loan["_supplier"] = supplier_id
        return loan

    def list_loans(self) -> None:
        supplier_id = self.supplier()
        self.recorder.call(
            self.local, "GET /v1/loans", "GET", "/v1/loans", self.token(supplier_id), params={"limit": "20"}
        )

    def repay(self) -> None:
        loan = self.read_loan()
        if loan is None or loan.get("status") not in LIVE:
            return
        payoff = parse_amount(loan["payoff"])
        full = self.rng.random() < 0.35 or payoff < 200
        amount = payoff if full else self.rng.randint(100, payoff // 2)
        answer = self.recorder.call(
            self.local,
            "POST /v1/loans/{id}/repayments",
            "POST",
            f"/v1/loans/{loan['loan_id']}/repayments",
            self.token(loan["_supplier"]),
            {"amount": format_amount(amount)},
        )
        if answer is not None and answer.status_code in (200, 201, 202):
            self.recorder.outcome(f"repayment {'full' if full else 'partial'} {answer.json().get('status')}")

    def extend(self) -> None:
        found = self.loan()
        if found is not None:
            loan_id, supplier_id = found
            self.recorder.call(
                self.local,
                "POST /v1/loans/{id}/extension",
                "POST",
                f"/v1/loans/{loan_id}/extension",
                self.token(supplier_id),
            )

    def settlement_file(self) -> None:
        """PAYMENT rows (the platform pays suppliers): swept to repay their loans."""
        number = self.world.next_file()
        rows = [
            "supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference"
        ]
        for _, supplier_id in self.world.some_loans(self.rng, 10):
            amount = format_amount(self.rng.randint(1_000, 60_000) * 100)
            rows.append(
                f"{supplier_id},PAY-{self.world.stamp}-{number}-{len(rows)},PAYMENT,{self.world.today},,"
                f"{amount},CNY,CONFIRMED,"
            )
        if len(rows) > 1:
            self.drop(
                "upload settlement file",
                f"platform/load/{self.world.stamp}/settlement-{number:05d}.csv",
                ("\n".join(rows) + "\n").encode(),
            )

    def statement_file(self) -> None:
        """A camt.054 from FILEBANK: credits to the lender's account naming loans (BANK_CREDIT)."""
        lender = self.local.env["banks"]["FILEBANK"]["accounts"][0]["account_number"]
        number = self.world.next_file()
        bookings = tuple(
            Booking(
                payment_id=f"LDCR{self.world.stamp}{number:05d}N{n}",
                amount=Decimal(self.rng.randint(500, 20_000)),
                currency="CNY",
                credit=True,
                booking_date=self.world.today,
                bank_reference=f"LDREF{self.world.stamp}{number:05d}{n}",
                remittance=f"repayment {loan_id}",
                counterparty={
                    "bank_code": self.world.bank_of[supplier_id],
                    "account_number": account(supplier_id),
                    "name": "Load Supplier",
                },
                direct_debit=False,
            )
            for n, (loan_id, supplier_id) in enumerate(self.world.some_loans(self.rng, 3))
        )
        if bookings:
            report = AccountReport("FILEBANK", lender, "CNY", bookings)
            content = notification(f"LDMSG{self.world.stamp}{number:05d}", datetime.now(UTC), [report])
            self.drop(
                "upload camt.054 file", f"FILEBANK/load/{self.world.stamp}/camt054-{number:05d}.xml", content
            )

    def drop(self, route: str, key: str, content: bytes) -> None:
        started = time.perf_counter()
        self.local.upload(key, content)
        self.recorder.record(route, "uploaded", (time.perf_counter() - started) * 1000)
        self.world.dropped(key)

    def actions(self) -> list[tuple[float, Callable[[], object]]]:
        return [
            (22, self.apply),
            (14, self.credit_line),
            (16, self.read_loan),
            (10, self.list_loans),
            (18, self.repay),
            (6, self.extend),
            (0.8, self.settlement_file),
            (0.4, self.statement_file),
        ]

    def run(self, until: float, done: Callable[[], None]) -> None:
        weights, actions = zip(*self.actions(), strict=True)
        while time.monotonic() < until:
            try:
                self.rng.choices(actions, weights)[0]()
            except Exception as exc:  # a bench goes on; the error is counted
                self.recorder.outcome(f"bench error {type(exc).__name__}: {str(exc)[:80]}")
            done()


def set_faults(env: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{env['bank_url'].rstrip('/')}/_admin/faults", json=changes, timeout=10)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def traffic(env: dict[str, Any], world: World, args: argparse.Namespace) -> tuple[Recorder, float]:
    recorder = Recorder()
    clients = [LocalClient(env) for _ in range(args.workers)]  # one session each (made here: boto3)
    workers = [Traffic(local, world, recorder, args.seed + n) for n, local in enumerate(clients)]
    seconds = args.minutes * 60
    started = time.monotonic()
    until = started + seconds
    bar = tqdm(total=int(seconds), desc="traffic", unit="s")
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            elapsed = int(min(time.monotonic(), until) - started)
            if elapsed > bar.n:
                bar.update(elapsed - bar.n)
                bar.set_postfix(requests=recorder.total(), loans=len(world.loans), refresh=False)

    threads = [threading.Thread(target=worker.run, args=(until, tick), daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    return recorder, time.monotonic() - started


# --- phase 3: quiet, read back, check ----------------------------------------------------------------


def queue_depth(sqs: Any, url: str) -> int:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def in_flight(dynamodb: Any, table: str) -> int:
    """Loans whose payout has no outcome yet (gsi2: loans by stored status)."""
    count = 0
    for status in ("APPROVED", "DISBURSING"):
        answer = dynamodb.query(
            TableName=table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"LOANS#{status}"}},
            Select="COUNT",
        )
        count += int(answer["Count"])
    return count


def longest_visibility(env: dict[str, Any]) -> float:
    """A failed message comes back only after its queue's visibility timeout (6 x the consumer's
    timeout): the wait for quiet must outlast it."""
    sqs = client("sqs", env["aws_endpoint_url"], env["region"])
    timeouts = [
        int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )
        for name, url in env["queues"].items()
        if not name.endswith("_dlq")
    ]
    return float(max(timeouts, default=600))  # float-ok: seconds


def inbox_keys(local: LocalClient) -> list[str]:
    keys: list[str] = []
    for page in local.s3.get_paginator("list_objects_v2").paginate(Bucket=local.env["inbox_bucket"]):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


def wait_quiet(local: LocalClient, timeout: float, still: float) -> tuple[str, int]:
    """Until the queues are empty, every inbox file has its report and no payout is in flight
    (or only payouts whose count did not move for `still` s: the bank lost their answers and only
    its end-of-day statement will tell). (what it saw, payouts in flight)."""
    env = local.env
    sqs = client("sqs", env["aws_endpoint_url"], env["region"])
    dynamodb = client("dynamodb", env["aws_endpoint_url"], env["region"])
    work_queues = {name: url for name, url in env["queues"].items() if not name.endswith("_dlq")}
    started = time.monotonic()
    calm = 0
    state = ""
    flying, last_change, last_flying = 0, started, -1
    with tqdm(desc="waiting until quiet", unit="check") as bar:
        while time.monotonic() - started < timeout:
            depth = {name: queue_depth(sqs, url) for name, url in work_queues.items()}
            keys = set(inbox_keys(local))
            unreported = [
                key for key in keys if not key.startswith("reports/") and report_key(key) not in keys
            ]
            flying = in_flight(dynamodb, env["table_name"])
            if flying != last_flying:
                last_flying, last_change = flying, time.monotonic()
            state = f"queues {depth}, files without report {len(unreported)}, payouts in flight {flying}"
            bar.set_postfix_str(state, refresh=False)
            bar.update()
            stuck = time.monotonic() - last_change >= still
            calm = calm + 1 if not any(depth.values()) and not unreported and (not flying or stuck) else 0
            if calm >= 3:
                return f"quiet after {time.monotonic() - started:.1f} s: {state}", flying
            time.sleep(2)
    return f"NOT quiet after {timeout:.0f} s: {state}", flying


def end_of_day(env: dict[str, Any]) -> date:
    """Move the business date one day on, as `scf local clock set` does: the daily job runs (it
    asks the banks about every payment without an outcome) and the bank drops each account's
    camt.053 of the day."""
    path = Path(env["clock_file"])
    before = read_clock(path)
    after = before + timedelta(days=1)
    write_clock(path, after)
    fire(env, days_passed(before, after), timeout=300)
    return after


def scan(local: LocalClient) -> list[dict[str, Any]]:
    """The whole table but documents (a bench may scan), read consistently."""
    dynamodb = client("dynamodb", local.env["aws_endpoint_url"], local.env["region"])
    reader = TypeDeserializer()
    items: list[dict[str, Any]] = []
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=local.env["table_name"],
        ConsistentRead=True,
        FilterExpression="NOT begins_with(sk, :doc)",
        ExpressionAttributeValues={":doc": {"S": "DOC#"}},
    )
    for page in tqdm(pages, desc="scanning the table", unit="page"):
        items.extend(
            {name: reader.deserialize(value) for name, value in item.items()} for item in page["Items"]
        )
    return items


def reports_of(local: LocalClient, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    def one(key: str) -> tuple[str, dict[str, Any] | None]:
        try:
            body = local.s3.get_object(Bucket=local.env["inbox_bucket"], Key=report_key(key))["Body"].read()
        except local.s3.exceptions.NoSuchKey:
            return key, None
        return key, json.loads(body)

    keys = list(keys)
    with ThreadPoolExecutor(4) as pool:
        return dict(tqdm(pool.map(one, keys), total=len(keys), desc="reading reports", unit="file"))


def dead_letter_bodies(env: dict[str, Any]) -> dict[str, list[str]]:
    sqs = client("sqs", env["aws_endpoint_url"], env["region"])
    found: dict[str, list[str]] = {}
    for name, url in env["queues"].items():
        if not name.endswith("_dlq"):
            continue
        bodies: dict[str, str] = {}
        for _ in range(100):  # received, not deleted: they come back after the visibility timeout
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120).get(
                "Messages", []
            )
            if not batch:
                break
            bodies.update({message["MessageId"]: message["Body"] for message in batch})
        found[name] = list(bodies.values())
    return found


def facility_caps(local: LocalClient, suppliers: Iterable[str]) -> dict[str, int]:
    def one(supplier_id: str) -> tuple[str, int | None]:
        token = local.token(supplier_id=supplier_id)
        answer = local.call("GET", "/v1/credit-line", token, params={"currency": "CNY"})
        return supplier_id, parse_amount(answer.json()["facility_cap"]) if answer.status_code == 200 else None

    suppliers = list(suppliers)
    with ThreadPoolExecutor(4) as pool:
        found = dict(
            tqdm(pool.map(one, suppliers), total=len(suppliers), desc="facility caps", unit="supplier")
        )
    return {supplier_id: cap for supplier_id, cap in found.items() if cap is not None}


def check(
    local: LocalClient, world: World, journal_path: Path | None, caps: dict[str, int] | None
) -> list[invariants.Verdict]:
    """`caps`: the facility caps of the traffic's business day (None: read them now, for every
    supplier with an exposure item; a later day may have a lower cap as receipts age out)."""
    items = scan(local)
    if caps is None:
        mine = {str(item["supplier_id"]) for item in items if str(item.get("sk", "")).startswith("EXPOSURE#")}
        caps = facility_caps(local, sorted(mine))
    bank = requests.get(f"{local.env['bank_url'].rstrip('/')}/_admin/payments", timeout=60).json()
    journal = None
    if journal_path is not None and journal_path.exists():
        journal = [json.loads(line) for line in journal_path.read_text(encoding="utf-8").splitlines() if line]
    dropped = [key for key in inbox_keys(local) if not key.startswith("reports/")]
    reports = reports_of(local, dropped)
    verdicts = [
        invariants.ledger_matches_loans(items),
        invariants.reservations_within_limits(items, caps),
        invariants.payments_moved_once(bank["payments"], journal, items),
        invariants.files_reported(dropped, reports, items),
        invariants.dead_letters(dead_letter_bodies(local.env)),
    ]
    if journal is None:
        verdicts[2].notes.append("no bank journal file: checked the bank's books only")
    missing = sorted(set(world.uploaded) - set(dropped))
    if missing:
        verdicts[3].failures += [f"{key}: uploaded by the bench but not in the inbox" for key in missing]
    summarize(items, bank["payments"], reports)
    return verdicts


def summarize(items: list[dict[str, Any]], payments: list[dict[str, Any]], reports: dict[str, Any]) -> None:
    loans = Counter(str(item["status"]) for item in items if item.get("sk") == "LOAN")
    repayments = Counter(
        f"{item['source']} {item['status']}" for item in items if item.get("sk") == "REPAYMENT"
    )
    at_bank = Counter(
        f"{item['bank_code']}/{item['channel']} {item.get('direction')} {item['status']}" for item in payments
    )
    files = Counter(
        f"{key.split('/', 1)[0]} {(report or {}).get('format', '-')} {(report or {}).get('status', 'NONE')}"
        for key, report in reports.items()
    )
    print("\nwhat the system holds afterwards")
    print(f"  loans by status: {dict(sorted(loans.items()))}")
    print(f"  repayments by source and status: {dict(sorted(repayments.items()))}")
    print(f"  bank payments: {dict(sorted(at_bank.items()))}")
    print(f"  files by sender, format, status: {dict(sorted(files.items()))}")


def print_traffic(recorder: Recorder, seconds: float) -> None:
    total = recorder.total()
    print(f"\ntraffic: {total} requests in {seconds:.1f} s = {total / seconds:.1f} requests/s")
    width = max(len(route) for route in recorder.latency)
    print(
        f"  {'route':<{width}}  {'count':>6} {'per s':>6} "
        + " ".join(f"{name:>7}" for name in ("p50", "p90", "p99", "max"))
        + "  statuses"
    )
    for route, values in sorted(recorder.latency.items()):
        figures = " ".join(f"{percentile(values, share):7.0f}" for share in (0.5, 0.9, 0.99, 1.0))
        statuses = ", ".join(
            f"{status} {count}" for status, count in sorted(recorder.statuses[route].items())
        )
        print(f"  {route:<{width}}  {len(values):6d} {len(values) / seconds:6.1f} {figures}  {statuses}")
    print("  (latency in ms, from the bench's side: HTTP through the local gateway)")
    print(f"  outcomes: {dict(sorted(recorder.outcomes.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suppliers", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="50 suppliers, 1 minute")
    parser.add_argument("--running", action="store_true", help="use the running stack (its env.json)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--error-rate", type=float, default=0.05, help="bank 503 before booking")  # float-ok
    parser.add_argument(
        "--timeout-rate", type=float, default=0.02, help="bank timeout after booking"
    )  # float-ok
    parser.add_argument(
        "--quiet-timeout",
        type=float,  # float-ok: seconds
        default=None,
        help="seconds to wait for quiet (default: the longest visibility timeout of the work queues + 120)",
    )
    parser.add_argument(
        "--check-only", action="store_true", help="only check the invariants (with --running)"
    )
    parser.add_argument(
        "--no-end-of-day",
        dest="end_of_day",
        action="store_false",
        help="do not move the business date a day on after the traffic (answers lost stay unknown)",
    )
    parser.add_argument("--template", type=Path, default=None, help="skip synth: a synthesized template")
    args = parser.parse_args()
    if args.smoke:
        args.suppliers, args.minutes = 50, 1.0
    rng = random.Random(args.seed)
    stack: StackProcess | None = None
    if args.running:
        env, journal = read_env(), state_dir() / JOURNAL
    else:
        extra = ["--template", str(args.template.resolve())] if args.template else []
        stack = start_stack(Path(tempfile.mkdtemp(prefix="scf-load-")), extra)
        env, journal = stack.env, stack.directory / JOURNAL
        print(f"local stack up in {stack.ready_seconds:.1f} s")
    try:
        run(env, journal, args, rng, stack.log if stack is not None else None)
    finally:
        if stack is not None:
            stack.stop()


def function_time(log: Path | None, start: int, end: int, seconds: float) -> None:
    """Each function's invocations in the stack's log between two offsets (the traffic): count,
    mean and median ms, and the share of the window its one execution environment was busy."""
    if log is None:
        print("  (function times: only when the bench starts the stack)")
        return
    with log.open("rb") as stream:
        stream.seek(start)
        text = stream.read(end - start).decode(errors="replace")
    durations: dict[str, list[float]] = defaultdict(list)
    for name, duration in REPORT_LINE.findall(text):
        durations[name].append(float(duration))  # float-ok: milliseconds
    print("  functions during the traffic (one execution environment each in the local stack):")
    for name, values in sorted(durations.items()):
        busy = sum(values) / 1000 / seconds
        print(
            f"    {name:<18} {len(values):5d} invocations, mean {sum(values) / len(values):4.0f} ms, "
            f"median {percentile(values, 0.5):4.0f} ms, busy {busy:4.0%} of the time"
        )


def run(
    env: dict[str, Any], journal: Path, args: argparse.Namespace, rng: random.Random, log: Path | None
) -> None:
    local = LocalClient(env)
    world = make_world(args.suppliers, local.business_date(), rng)
    print(
        f"load run {world.stamp}: {args.suppliers} suppliers, {args.minutes:g} min, {args.workers} workers, "
        f"business date {world.today}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"  # float-ok
    )
    if args.check_only:
        check_and_print(local, world, journal, None)
        return
    print("phase 1: onboarding")
    onboard(local, world)
    caps = facility_caps(local, world.suppliers)  # the day's caps: receipts age out on later days
    faults = set_faults(
        env,
        {
            "error_rate": args.error_rate,
            "timeout_after_apply_rate": args.timeout_rate,
            "timeout_ms": 1500,
            "reject_accounts": sorted(account(supplier_id) for supplier_id in world.rejected),
            "seed": args.seed,
        },
    )
    print(
        "phase 2: traffic with bank faults "
        + json.dumps({k: v for k, v in faults.items() if k != "reject_accounts"})
        + f" and {len(faults['reject_accounts'])} rejected accounts"
    )
    log_start = log.stat().st_size if log is not None else 0
    recorder, seconds = traffic(env, world, args)
    log_end = log.stat().st_size if log is not None else 0
    set_faults(env, {"error_rate": 0.0, "timeout_after_apply_rate": 0.0})  # float-ok
    print("phase 3: faults off, waiting until quiet")
    quiet_started = time.perf_counter()
    patience = args.quiet_timeout or longest_visibility(env) + 120
    state, flying = wait_quiet(local, patience, still=30)
    print(f"  {state}")
    if args.end_of_day:
        print(f"  ending the business day {world.today} ({flying} payouts without an answer yet)")
        print(f"  business date now {end_of_day(env)}; waiting until quiet again")
        print(f"  {wait_quiet(local, patience, still=60)[0]}")
    print(f"  drained in {time.perf_counter() - quiet_started:.1f} s")
    print_traffic(recorder, seconds)
    function_time(log, log_start, log_end, seconds)
    check_and_print(local, world, journal, caps)


def check_and_print(local: LocalClient, world: World, journal: Path, caps: dict[str, int] | None) -> None:
    verdicts = check(local, world, journal, caps)
    print("\ninvariants")
    for verdict in verdicts:
        print(verdict.render())
    failed = [verdict.name for verdict in verdicts if not verdict.passed]
    if failed:
        print(
            "\n" + "!" * 72 + f"\nFAIL: {len(failed)} invariant(s) broken: {'; '.join(failed)}\n" + "!" * 72
        )
    else:
        print("\nall invariants PASS")


if __name__ == "__main__":
    main()
