"""Application to money through each bank adapter of the local stage (issue 9), against the local
stack: SIMBANK (simulated), RESTBANK (rest-signed) and FILEBANK (iso20022-file: pain.001 into the
outbound bucket, pain.002 and camt.054 back through the inbox and ingestion). Prints figures;
asserts nothing about time (a run that cannot finish, e.g. a loan that never becomes ACTIVE, is
reported and the bench goes on with the next bank).

Latency: per bank, suppliers at that bank onboarded with platform files through the inbox, then
`--runs` applications one after another, each timed from the POST to the loan being ACTIVE (the
loan polled every `--poll-ms`; each poll is a GET through the gateway and apply_repayment, so the
ACTIVE is seen a poll interval plus a GET after it is committed: the steps line, read from the
stack's log, gives the committed time too). For the file bank, each run also waits for its
camt.054 to be ingested (the issue's round trip: outbound file, pain.002 and camt.054).
Throughput: per bank and bank latency, `--loans` applications of an unverified supplier go to
REVIEW. The one disburse environment is then held: three "plug" payouts through the simulated bank
at 4 s latency each, one after another; meanwhile ops approve the loans (`--release-threads` at a
time), their LoanApproved events wait in the disbursements queue, the bank's latency is set to the
measured value, and when the last plug is paid the loans' payouts start together. The bench times
from that release (the last plug's `paid out` in the stack's log) to every loan read back ACTIVE
(polled every `--release-poll-ms`): payouts per second; beside it the payout window (first payout
started to last ACTIVE committed, from the log). `--no-hold` releases by the approvals alone.

    .venv/bin/python bench/bank_latency.py                  # starts its own stack (~3 min)
    .venv/bin/python bench/bank_latency.py --running        # the stack `make run` started
    .venv/bin/python bench/bank_latency.py --banks FILEBANK --loans 0   # latency of one bank only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from infra.local.loop import LocalClient, LoopError, documents_csv, expect
from infra.local.process import start_stack
from infra.local.state import read_env
from scf.service.payments import payout_payment_id

BANKS = ("SIMBANK", "RESTBANK", "FILEBANK")
# The targets for the median of application -> ACTIVE with 50 ms bank latency.
TARGET_MS = {"SIMBANK": 150.0, "RESTBANK": 300.0, "FILEBANK": 5000.0}
CHANNEL = {"simulated": "http", "rest-signed": "rest", "iso20022-file": "file"}
REPORT_LINE = re.compile(r"^\[(\w+)\] REPORT RequestId: \S+ Duration: ([\d.]+) ms", re.MULTILINE)


class FunctionTime:
    """What the functions spent during a phase, from the stack log's Lambda-like REPORT lines (only
    when the bench started the stack and so knows its log)."""

    def __init__(self, log: Path | None) -> None:
        self.log = log
        self.offset = self._size()

    def _size(self) -> int:
        return self.log.stat().st_size if self.log is not None and self.log.exists() else 0

    def mark(self) -> None:
        self.offset = self._size()

    def text(self) -> str:
        """The log written since the mark."""
        if self.log is None:
            return ""
        with self.log.open("rb") as stream:
            stream.seek(self.offset)
            return stream.read().decode(errors="replace")

    def since_mark(self, per: int) -> str:
        """'function invocations x mean ms = total per run' for each function since the mark."""
        if self.log is None:
            return "(function times: only when the bench starts the stack)"
        text = self.text()
        totals: dict[str, list[float]] = {}
        for name, duration in REPORT_LINE.findall(text):
            totals.setdefault(name, []).append(float(duration))
        parts = [
            f"{name} {len(times)} x {statistics.mean(times):.0f} ms = {sum(times) / per:.0f} ms"
            for name, times in sorted(totals.items())
        ]
        return "function time per loan: " + "; ".join(parts)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: of 20 values, p99 is the largest, p50 the 10th."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


@dataclass
class Suppliers:
    verified: str
    unverified: list[str] = field(default_factory=list)


def onboard(local: LocalClient, bank: str, unverified: int) -> Suppliers:
    """One verified supplier (applications approved at once) and `unverified` ones (applications
    go to ops review) whose account is at `bank`, through platform files in the inbox."""
    stamp = uuid.uuid4().hex[:6].upper()
    suppliers = Suppliers(
        f"BENCH-{bank}-{stamp}-V", [f"BENCH-{bank}-{stamp}-U{n}" for n in range(unverified)]
    )
    rows = ["supplier_id,name,status,bank_code,account_number,account_name,account_verified"]
    documents: list[str] = []
    today = local.business_date()
    for supplier_id in [suppliers.verified, *suppliers.unverified]:
        verified = "true" if supplier_id == suppliers.verified else "false"
        account = f"ACC-{supplier_id}"
        rows.append(f"{supplier_id},Bench {supplier_id},ACTIVE,{bank},{account},Bench Supplier,{verified}")
        lines = documents_csv(supplier_id, today).decode().splitlines()
        documents.extend(lines if not documents else lines[1:])
    for kind, content in (("suppliers", "\n".join(rows) + "\n"), ("documents", "\n".join(documents) + "\n")):
        key = f"platform/bench/{suppliers.verified}/{kind}.csv"
        local.upload(key, content.encode())
        report = local.wait_report(key)
        if report.get("status") != "PROCESSED" or report.get("rows_rejected"):
            raise LoopError(f"{key} was not processed cleanly: {str(report)[:1500]}")
    return suppliers


def set_latency(env: dict[str, Any], latency_ms: int) -> None:
    answer = requests.post(
        f"{env['bank_url'].rstrip('/')}/_admin/faults", json={"latency_ms": latency_ms}, timeout=10
    )
    answer.raise_for_status()
    if answer.json().get("latency_ms") != latency_ms:
        raise LoopError(f"the bank did not take latency_ms={latency_ms}: {answer.text}")


def bank_payments(env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answer = requests.get(f"{env['bank_url'].rstrip('/')}/_admin/payments", timeout=10)
    answer.raise_for_status()
    return {item["payment_id"]: item for item in answer.json()["payments"]}


def check_route(env: dict[str, Any], bank: str, loan_ids: list[str]) -> str:
    """Where the bank booked the loans' payouts: 'n/n at BANK via channel' (the on-us route)."""
    booked = bank_payments(env)
    adapter = str(env["banks"][bank]["adapter"])
    wanted = (bank, CHANNEL.get(adapter, "?"))
    found = [booked.get(payout_payment_id(loan_id)) for loan_id in loan_ids]
    right = sum(1 for item in found if item and (item["bank_code"], item["channel"]) == wanted)
    elsewhere = sorted(
        {f"{item['bank_code']}/{item['channel']}" for item in found if item} - {"/".join(wanted)}
    )
    note = f"{right}/{len(loan_ids)} booked at {bank} via {wanted[1]}"
    return note + (f" (also seen: {', '.join(elsewhere)})" if elsewhere else "")


def loan_status(local: LocalClient, token: str, loan_id: str) -> str:
    return str(expect(local.call("GET", f"/v1/loans/{loan_id}", token), 200).get("status"))


def wait_active(local: LocalClient, token: str, loan_id: str, poll: float, timeout: float) -> list[str]:
    """Poll the loan every `poll` s until ACTIVE; the statuses seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = loan_status(local, token, loan_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "ACTIVE":
            return seen
        if status in ("FAILED", "REPAID"):
            raise LoopError(f"loan {loan_id} became {status}: {' -> '.join(seen)}")
        time.sleep(poll)
    raise LoopError(f"loan {loan_id} not ACTIVE within {timeout} s: {' -> '.join(seen)}")


def apply(local: LocalClient, token: str, amount: str, wanted: str) -> dict[str, Any]:
    application = expect(
        local.call(
            "POST",
            "/v1/applications",
            token,
            {"amount": amount, "currency": "CNY", "term_days": 30},
            idempotency_key=str(uuid.uuid4()),
        ),
        200,
        201,
    )
    if application.get("status") != wanted:
        raise LoopError(f"the application is {application.get('status')}, not {wanted}: {application}")
    return application


MESSAGES = {
    "paying out": "paying",  # disburse has read the approved loan and is about to pay
    "paid out": "settled",  # the bank's answer settled it (simulated, REST)
    "the bank holds the payout; a report will close it": "held",  # the file is written
}


def log_events(text: str) -> dict[tuple[str, str], float]:
    """{(payment id, event): epoch seconds} from the functions' JSON log lines."""
    events: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        # A line may carry another writer's unterminated line before it (the stack's log
        # interleaves its writers): the JSON starts at the first '{"'.
        start = line.find('{"')
        if start < 0:
            continue
        body = line[start:]
        try:
            entry = json.loads(body)
        except ValueError:
            continue
        event = MESSAGES.get(entry.get("message", ""))
        if entry.get("message") == "bank report applied":
            event = str(entry.get("source"))  # pain.002, camt.054
        if event is None or not entry.get("payment_id"):
            continue
        stamp = datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        events.setdefault((str(entry["payment_id"]), event), stamp)
    return events


def segments(text: str, runs: list[tuple[str, float, float]]) -> str:
    """Median of each step of the runs, from the stack's log: runs are (loan id, POST sent, ACTIVE
    seen), epoch seconds."""
    events = log_events(text)
    steps = [
        ("POST -> disburse starts", None, "paying"),
        ("-> bank answered (simulated, REST)", "paying", "settled"),
        ("-> pain.001 written", "paying", "held"),
        ("-> pain.002 ingested", "held", "pain.002"),
        ("-> ACTIVE seen by the poll", "settled|pain.002", "seen"),
        ("pain.002 -> camt.054 ingested", "pain.002", "camt.054"),
        ("in all: POST -> ACTIVE committed", None, "settled|pain.002"),
    ]
    parts = []
    for name, start, end in steps:
        spans = []
        for loan_id, posted, seen in runs:
            payment = payout_payment_id(loan_id)
            moments = {"seen": seen}
            moments.update({event: stamp for (pid, event), stamp in events.items() if pid == payment})
            begin = (
                posted
                if start is None
                else next((moments[s] for s in start.split("|") if s in moments), None)
            )
            finish = next((moments[e] for e in end.split("|") if e in moments), None)
            if begin is not None and finish is not None:
                spans.append((finish - begin) * 1000)
        if spans:
            parts.append(f"{name} {statistics.median(spans):.0f}")
    return "steps, median ms (stack log): " + "; ".join(parts) if parts else ""


def payout_window(text: str, loans: list[str]) -> str:
    """From the first payout started to the last loan ACTIVE, as the stack's log has them: the
    payouts' rate without the approvals before them and the polls after."""
    events = log_events(text)
    starts, ends = [], []
    for loan_id in loans:
        payment = payout_payment_id(loan_id)
        if (payment, "paying") in events:
            starts.append(events[(payment, "paying")])
        end = events.get((payment, "settled"), events.get((payment, "pain.002")))
        if end is not None:
            ends.append(end)
    if not starts or len(ends) != len(loans):
        return f"payout window: not in the log ({len(starts)} started, {len(ends)} settled)"
    window = max(ends) - min(starts)
    each = [
        (events[(pid, "settled")] if (pid, "settled") in events else events[(pid, "held")])
        - events[(pid, "paying")]
        for pid in map(payout_payment_id, loans)
        if (pid, "paying") in events and ((pid, "settled") in events or (pid, "held") in events)
    ]
    return (
        f"payout window (log): first payout started -> last ACTIVE committed {window:.2f} s = "
        f"{len(loans) / window:.1f} payouts/s; disburse per payout (paying out -> paid out or file "
        f"written), median {statistics.median(each) * 1000:.0f} ms"
    )


def answer_keys(local: LocalClient, bank: str) -> set[str]:
    """The camt.054 answers the file bank has put into the inbox so far."""
    keys: set[str] = set()
    pages = local.s3.get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=local.env["inbox_bucket"], Prefix=f"{bank}/answers/"):
        keys.update(item["Key"] for item in page.get("Contents", []) if "/camt.054-" in item["Key"])
    return keys


def wait_camt054(
    local: LocalClient, bank: str, loan_id: str, before: set[str], poll: float, timeout: float
) -> str:
    """Wait for the camt.054 booking the loan's payout and for its ingestion report; its key."""
    payment_id = payout_payment_id(loan_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for key in sorted(answer_keys(local, bank) - before):
            body = local.s3.get_object(Bucket=local.env["inbox_bucket"], Key=key)["Body"].read()
            if payment_id.encode() in body:
                report = local.wait_report(key, timeout=max(1.0, deadline - time.monotonic()))
                if report.get("status") != "PROCESSED":
                    raise LoopError(f"the camt.054 {key} was not processed: {str(report)[:800]}")
                return key
            before.add(key)
        time.sleep(poll)
    raise LoopError(f"no camt.054 of {payment_id} ingested within {timeout} s")


def latency(
    local: LocalClient, bank: str, supplier_id: str, args: argparse.Namespace
) -> tuple[list[float], list[float], list[str], list[tuple[str, float, float]]]:
    """(ms to ACTIVE, ms to the camt.054 ingested (file banks only), loans, (loan, POST sent, ACTIVE
    seen) in epoch seconds)."""
    token = local.token(supplier_id=supplier_id)
    files = local.env["banks"][bank].get("adapter") == "iso20022-file"
    timings: list[float] = []
    booked: list[float] = []
    loans: list[str] = []
    walls: list[tuple[str, float, float]] = []
    for run in range(1, args.runs + 1):
        before = answer_keys(local, bank) if files else set()
        posted = time.time()
        started = time.perf_counter()
        application = apply(local, token, args.amount, "APPROVED")
        loan_id = str(application["loan_id"])
        seen = wait_active(local, token, loan_id, args.poll_ms / 1000, args.timeout)
        elapsed = (time.perf_counter() - started) * 1000
        timings.append(elapsed)
        loans.append(loan_id)
        walls.append((loan_id, posted, posted + elapsed / 1000))
        line = f"    run {run:2d}: {elapsed:8.1f} ms  {' -> '.join(seen)}  {loan_id}"
        if files:
            key = wait_camt054(local, bank, loan_id, before, args.poll_ms / 1000, args.timeout)
            booked.append((time.perf_counter() - started) * 1000)
            line += f"; camt.054 ingested at {booked[-1]:8.1f} ms ({key.rsplit('/', 1)[-1]})"
        print(line, flush=True)
    return timings, booked, loans, walls


PLUG_MS = 4000  # below the simulated adapter's 5 s read timeout
PLUGS = 3


def hold_disburse(local: LocalClient, plug_supplier: str, args: argparse.Namespace) -> list[str]:
    """Occupy the one disburse environment: PLUGS payouts through the simulated bank answered after
    PLUG_MS each, one after another; returns once the first is being paid (the bank's latency stays
    at PLUG_MS until `release_latency`)."""
    set_latency(local.env, PLUG_MS)
    token = local.token(supplier_id=plug_supplier)
    plugs = [str(apply(local, token, args.amount, "APPROVED")["loan_id"]) for _ in range(PLUGS)]
    wait_status(local, token, plugs[0], "DISBURSING", args.timeout)
    return plugs


def release_latency(
    local: LocalClient, plug_supplier: str, plugs: list[str], bank_ms: int, timeout: float
) -> bool:
    """Once the last plug's payout is at the bank (its latency read), set the bank's latency for
    the measured payouts; False when the last plug had already finished (the hold was too short)."""
    token = local.token(supplier_id=plug_supplier)
    status = wait_status(local, token, plugs[-1], "DISBURSING", timeout, also=("ACTIVE",))
    time.sleep(0.2)  # its request reaches the bank, which reads the latency once per request
    set_latency(local.env, bank_ms)
    return status == "DISBURSING"


def wait_status(
    local: LocalClient, token: str, loan_id: str, wanted: str, timeout: float, also: tuple[str, ...] = ()
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = loan_status(local, token, loan_id)
        if status == wanted or status in also:
            return status
        time.sleep(0.1)
    raise LoopError(f"loan {loan_id} not {wanted} within {timeout} s")


@dataclass
class Released:
    loans: list[str]
    approvals_s: float  # the first approval sent -> the last answered
    total_s: float  # the first approval sent -> the last loan seen ACTIVE
    held: bool  # the payouts waited behind the plugs and started together
    from_release_s: float = 0.0  # the last plug ACTIVE committed (log) -> the last loan seen ACTIVE


def throughput(
    local: LocalClient,
    supplier_id: str,
    bank_ms: int,
    plug_supplier: str | None,
    args: argparse.Namespace,
    functions: FunctionTime,
) -> Released:
    """`args.loans` REVIEW applications approved by ops at once; with a plug supplier, while the
    disburse environment is held, so their payouts start together when it frees."""
    token = local.token(supplier_id=supplier_id)
    ops = local.token(ops=True)
    held = [apply(local, token, args.amount, "REVIEW") for _ in range(args.loans)]

    def approve(application: dict[str, Any]) -> str:
        decided = expect(
            local.call(
                "POST",
                f"/v1/reviews/{application['application_id']}/decision",
                ops,
                {"decision": "APPROVE", "note": "bench"},
                idempotency_key=str(uuid.uuid4()),
            ),
            200,
        )
        if decided.get("status") != "APPROVED" or not decided.get("loan_id"):
            raise LoopError(f"the ops approval did not approve: {decided}")
        return str(decided["loan_id"])

    functions.mark()
    plugs = hold_disburse(local, plug_supplier, args) if plug_supplier else []
    if not plugs:
        set_latency(local.env, bank_ms)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.release_threads) as pool:
        approved = list(pool.map(approve, held))
    approvals = time.perf_counter() - started
    clean = release_latency(local, str(plug_supplier), plugs, bank_ms, args.timeout) if plugs else False
    # The supplier's loans are these alone: one list call (limit 100) reads all their statuses.
    deadline = time.monotonic() + args.timeout + len(approved) + PLUG_MS * PLUGS / 1000
    waiting = set(approved)
    while waiting:
        listed = expect(local.call("GET", "/v1/loans", token, params={"limit": "100"}), 200)["items"]
        statuses = {str(item["loan_id"]): str(item.get("status")) for item in listed}
        if any(statuses.get(loan_id) in ("FAILED", "REPAID") for loan_id in waiting):
            raise LoopError(f"a released loan ended otherwise: {[statuses.get(x) for x in sorted(waiting)]}")
        waiting = {loan_id for loan_id in waiting if statuses.get(loan_id) != "ACTIVE"}
        if waiting and time.monotonic() > deadline:
            raise LoopError(f"{len(waiting)} released loans not ACTIVE in time, e.g. {sorted(waiting)[:3]}")
        if waiting:
            time.sleep(args.release_poll_ms / 1000)
    finished = time.time()
    result = Released(approved, approvals, time.perf_counter() - started, clean)
    if plugs:
        for _ in range(30):  # the log line may lag
            plugged = log_events(functions.text()).get((payout_payment_id(plugs[-1]), "settled"))
            if plugged is not None:
                result.from_release_s = finished - plugged
                break
            time.sleep(0.3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--running", action="store_true", help="use the running stack (env.json)")
    parser.add_argument("--banks", nargs="+", default=list(BANKS))
    parser.add_argument("--runs", type=int, default=20, help="applications per bank, one after another")
    parser.add_argument("--latency-ms", type=int, default=50, help="the bank's latency for the latency runs")
    parser.add_argument(
        "--loans", type=int, default=50, help="loans released at once per throughput run (0: none)"
    )
    parser.add_argument("--throughput-latencies", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--release-threads", type=int, default=4, help="ops approvals in flight at once")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="interval between polls of a loan")
    parser.add_argument(
        "--release-poll-ms", type=float, default=200.0, help="poll interval while released loans pay out"
    )
    parser.add_argument(
        "--no-hold",
        action="store_true",
        help="release by the approvals alone (payouts start as each approval lands), no plugs",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one loan")
    parser.add_argument("--amount", default="1000.00")
    args = parser.parse_args()
    args.loans = min(max(args.loans, 0), 200)  # bounded load

    stack = None
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {load()}, {os.cpu_count()} cores", flush=True)
    if args.running:
        env = read_env()
    else:
        stack = start_stack(Path(tempfile.mkdtemp(prefix="scf-bench-banks-")))
        env = stack.env
        print(f"local stack started in {stack.ready_seconds:.1f} s ({stack.directory})", flush=True)
    results: dict[str, dict[str, Any]] = {}
    functions = FunctionTime(stack.log if stack is not None else None)
    try:
        local = LocalClient(env)
        configured = env.get("banks", {})
        print("banks: " + ", ".join(f"{code} ({item.get('adapter')})" for code, item in configured.items()))
        plug_supplier = None
        simulated = [code for code, item in configured.items() if item.get("adapter") == "simulated"]
        if args.loans and not args.no_hold and simulated:
            plug_supplier = onboard(local, simulated[0], 0).verified
        for bank in args.banks:
            result: dict[str, Any] = results.setdefault(bank, {"throughput": {}})
            if bank not in configured:
                result["error"] = "not a bank of this stage"
                continue
            try:
                started = time.perf_counter()
                suppliers = onboard(local, bank, len(args.throughput_latencies) if args.loans else 0)
                print(f"{bank}: suppliers onboarded in {time.perf_counter() - started:.1f} s", flush=True)
                set_latency(env, args.latency_ms)
                if args.runs:
                    print(f"  application -> ACTIVE, bank latency {args.latency_ms} ms, {load()}", flush=True)
                    functions.mark()
                    timings, booked, loans, walls = latency(local, bank, suppliers.verified, args)
                    time.sleep(0.5)  # the last run's log lines
                    print(f"    {functions.since_mark(args.runs)}", flush=True)
                    print(f"    {segments(functions.text(), walls)}", flush=True)
                    result["latency"] = timings
                    result["booked"] = booked
                    result["latency_load"] = load()
                    print(f"    route: {check_route(env, bank, loans)}", flush=True)
                for bank_ms, supplier_id in zip(
                    args.throughput_latencies, suppliers.unverified, strict=False
                ):
                    print(
                        f"  {args.loans} payouts released at once, bank latency {bank_ms} ms, {load()}",
                        flush=True,
                    )
                    released = throughput(local, supplier_id, bank_ms, plug_supplier, args, functions)
                    loans = released.loans
                    rate, over = (
                        (len(loans) / released.from_release_s, released.from_release_s)
                        if released.from_release_s
                        else (len(loans) / released.total_s, released.total_s)
                    )
                    result["throughput"][bank_ms] = (rate, over, released, load())
                    hold = (
                        f"held behind {PLUGS} plugs of {PLUG_MS} ms, released "
                        + (
                            "cleanly"
                            if released.held
                            else "NOT cleanly: the plugs ended before the approvals"
                        )
                        if plug_supplier
                        else "no hold"
                    )
                    print(
                        f"    approvals answered after {released.approvals_s:.2f} s ({hold}); all ACTIVE "
                        f"{over:.2f} s after the release: {rate:.1f} payouts/s; "
                        f"{check_route(env, bank, loans)}; {load()}",
                        flush=True,
                    )
                    plugged = (
                        f" (disburse's includes the plugs' {PLUGS} x {PLUG_MS} ms)" if plug_supplier else ""
                    )
                    print(f"    {functions.since_mark(len(loans))}{plugged}", flush=True)
                    # The last log lines may reach the stack's log after the poll saw ACTIVE.
                    for _ in range(30):
                        window = payout_window(functions.text(), loans)
                        if "not in the log" not in window:
                            break
                        time.sleep(0.3)
                    result.setdefault("windows", {})[bank_ms] = window
                    print(f"    {window}", flush=True)
            except (LoopError, requests.RequestException) as exc:
                result["error"] = str(exc)[:2000]
                print(f"  {bank} FAILED: {result['error']}", flush=True)
            finally:
                set_latency(env, args.latency_ms)
    finally:
        if stack is not None:
            stack.stop()
    summary(results, args)


def summary(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\napplication -> ACTIVE, {args.runs} runs per bank, bank latency {args.latency_ms} ms, "
        f"loan polled every {args.poll_ms:.0f} ms:"
    )
    verdicts = []
    for bank, result in results.items():
        timings = result.get("latency")
        if not timings:
            print(f"  {bank:9s} no figure: {result.get('error', 'not measured')[:300]}")
            verdicts.append(f"{bank} not measured")
            continue
        target = TARGET_MS.get(bank)
        booked = result.get("booked")
        figures = [("to ACTIVE", timings, None if booked else target)]
        if booked:  # a file bank: the target is the round trip up to the camt.054
            figures.append(("to camt.054 ingested", booked, target))
        for what, values, goal in figures:
            median = statistics.median(values)
            print(
                f"  {bank:9s} {what:21s} median {median:8.1f} ms  p99 {percentile(values, 0.99):8.1f} ms  "
                f"best {min(values):8.1f}  "
                + (f"target median <= {goal:.0f} ms  " if goal is not None else "")
                + f"({result['latency_load']})"
            )
            if goal is None:
                continue
            if args.latency_ms != 50:
                verdicts.append(f"{bank} not comparable (targets are at 50 ms bank latency)")
            else:
                verdicts.append(f"{bank} {'met' if median <= goal else 'MISSED'} ({median:.0f} ms)")
    print("verdict: " + ", ".join(verdicts) + " (benchmarks never fail on time)")
    if args.loans:
        print(
            f"\npayouts per second, {args.loans} loans approved by ops "
            + ("(one after another) " if args.no_hold else "while disburse was held, then released ")
            + f"at once, loans polled every {args.release_poll_ms:.0f} ms:"
        )
        for bank, result in results.items():
            for bank_ms in args.throughput_latencies:
                figure = result["throughput"].get(bank_ms)
                if figure is None:
                    print(f"  {bank:9s} {bank_ms:3d} ms: no figure")
                    continue
                rate, over, released, at = figure
                print(
                    f"  {bank:9s} {bank_ms:3d} ms: {rate:6.1f} payouts/s (all ACTIVE {over:.2f} s after the "
                    f"release{'' if released.held or not released.from_release_s else ', NOT a clean hold'}; "
                    f"{at})"
                )
                if result.get("windows", {}).get(bank_ms):
                    print(f"                 {result['windows'][bank_ms]}")
        for bank, result in results.items():
            if result.get("error"):
                print(f"  {bank} failed: {result['error'][:300]}")


if __name__ == "__main__":
    main()
