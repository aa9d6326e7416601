"""DynamoDB calls and handler time per decision (`POST /v1/applications` and the ops review
decision, through the score_application handler) against the embedded store: moto's server in its
own process with the local stack's fixes (`infra/local/moto_fixes.py`: a transaction costs its own
items, not the table's, as in the emulator the local stack runs), so that the measured process holds
only the handler, as a Lambda process does; `--store in-process` runs moto in this process instead
(its tables then live in the measured heap). Prints figures; asserts nothing about time.

Every DynamoDB call is counted with a botocore `before-call` hook on the client the models share
(the application item is the idempotency record, so its read and write are in the count; there is
no idempotency table, docs/decisions/0005). Part 1 times `--decisions` decisions, mixed: approved, declined
(amount over available; suspended supplier), held for review (unverified account) and idempotent
retries, spread over several suppliers so that exposure does not run out. Part 2 times ops review
decisions (approve, decline, a retry). Part 3 shows that the calls do not grow with the supplier's
documents (10, 1,000, 5,000) or loans (1, 50), nor an ops decision's with the review queue (1, 500
waiting). The last line is the verdict on the target (at most 5 calls, no Scan, no Query, the same
calls at every size); the exit status is 1 when it is missed.

    .venv/bin/python bench/decision_calls.py                  # 1,000 decisions, ops, the sizes
    .venv/bin/python bench/decision_calls.py --decisions 0    # only the sizes
    .venv/bin/python bench/decision_calls.py --store in-process
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the one copy of the table setup and handler loader

from bench.store import start_moto  # noqa: E402  (after the path)

TABLE = "scf-bench"
TODAY = date(2026, 11, 28)
KINDS = ("approve", "decline_amount", "decline_suspended", "review", "retry")
OPS_KINDS = ("ops_approve", "ops_decline", "ops_retry")
TARGET_CALLS = 5


def environment(clock_file: Path) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "TABLE_NAME": TABLE,
            "SCF_CLOCK": f"file:{clock_file}",
            "POWERTOOLS_SERVICE_NAME": "score_application",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


def seed_supplier(supplier_id: str, *, documents: int, loans: int, status: str, verified: bool) -> None:
    """A supplier whose pool holds `documents` open goods receipts (also stored as document items)
    and `loans` ACTIVE loans (loan items, and their principal and maturities on the exposure)."""
    from scf.adapters.dynamodb.models import DocumentItem, ExposureItem, LoanItem
    from scf.domain.pool import Document
    from tests.support import seed_supplier as seed_profile_and_pool

    first = Document(f"{supplier_id}-GR-FIRST", "GOODS_RECEIPT", TODAY - timedelta(days=400), 100_000)
    docs = [
        Document(f"{supplier_id}-GR-{i:05d}", "GOODS_RECEIPT", TODAY - timedelta(days=i % 100), 100_000_000)
        for i in range(documents - 1)
    ]
    seed_profile_and_pool(supplier_id, [first, *docs], status=status, verified=verified)
    with DocumentItem.batch_write() as batch:
        for doc in docs:
            batch.save(
                DocumentItem(
                    *DocumentItem.key(supplier_id, doc.document_id),
                    supplier_id=supplier_id,
                    document_id=doc.document_id,
                    document_type=doc.document_type,
                    document_date=doc.document_date.isoformat(),
                    amount_minor=doc.amount_minor,
                    currency="CNY",
                    status="CONFIRMED",
                    content_hash=doc.document_id,
                )
            )
    principal = 100_000
    open_loans = set()
    with LoanItem.batch_write() as batch:
        for i in range(loans):
            loan_id = f"{supplier_id}-LN-{i:03d}"
            maturity = (TODAY + timedelta(days=10 + i % 20)).isoformat()
            open_loans.add(ExposureItem.open_loan_entry(loan_id, maturity))
            batch.save(
                LoanItem(
                    *LoanItem.key(loan_id),
                    loan_id=loan_id,
                    supplier_id=supplier_id,
                    application_id=f"AP-{loan_id}",
                    status="ACTIVE",
                    currency="CNY",
                    principal_minor=principal,
                    outstanding_principal_minor=principal,
                    annual_rate="0.10",
                    term_days=30,
                    value_date=(TODAY - timedelta(days=5)).isoformat(),
                    maturity_date=maturity,
                    created_at="2026-11-23T00:00:00Z",
                    updated_at="2026-11-23T00:00:00Z",
                    gsi1pk=LoanItem.supplier_index_pk(supplier_id),
                    gsi1sk=f"2026-11-23T00:00:00Z#{loan_id}",
                )
            )
    if loans:
        ExposureItem(
            *ExposureItem.key(supplier_id, "CNY"),
            supplier_id=supplier_id,
            currency="CNY",
            principal_minor=principal * loans,
            overdue_loans=0,
            open_loans=open_loans,
        ).save()


class Bench:
    def __init__(self) -> None:
        from tests.support import LambdaContext, load_handler

        self.handler = load_handler("score_application")
        self.context = LambdaContext("score_application")
        self.template = json.loads((ROOT / "events" / "apigw_post_application.json").read_text())
        self.review_template = json.loads(
            (ROOT / "events" / "apigw_post_review_decision_ops.json").read_text()
        )
        self.calls: list[str] = []
        self.observed: list[tuple[str, ...]] = []  # every counted decision's calls (the verdict)
        self.by_size: dict[str, set[tuple[str, ...]]] = {}
        self.store_ms = 0.0  # time inside the DynamoDB calls (moto), between before- and after-call
        self._call_started = 0.0
        self.hooked: set[int] = set()

    def hook_clients(self) -> None:
        """Count every call of every client the models use (they share one after `bind`)."""
        from scf.adapters.dynamodb.models import ALL_MODELS

        for model in ALL_MODELS:
            client = model._get_connection().connection.client
            if id(client) not in self.hooked:
                self.hooked.add(id(client))
                client.meta.events.register("before-call.dynamodb", self._count)
                client.meta.events.register("after-call.dynamodb", self._done)
        self.observed = []  # decisions before the hooks were counted as no calls at all

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        self._call_started = time.perf_counter()

    def _done(self, **_: Any) -> None:
        self.store_ms += (time.perf_counter() - self._call_started) * 1000

    def _run(self, event: dict[str, Any]) -> tuple[str, list[str], float, float]:
        self.calls = []
        self.store_ms = 0.0
        started = time.perf_counter()
        answer = self.handler.handler(event, self.context)
        elapsed = (time.perf_counter() - started) * 1000
        body = json.loads(answer["body"])
        status = str(body.get("code") or body.get("status", answer["statusCode"]))
        self.observed.append(tuple(self.calls))
        return status, self.calls, elapsed, self.store_ms

    def review(self, application_id: str, verdict: str, key: str) -> tuple[str, list[str], float, float]:
        """An ops decision (status, DynamoDB calls, handler ms, of which ms inside the store)."""
        event = json.loads(json.dumps(self.review_template))
        event["requestContext"]["authorizer"]["claims"] = {
            "sub": "bench-reviewer",
            "cognito:groups": "ops",
            "token_use": "id",
        }
        event["headers"]["Idempotency-Key"] = key
        event["path"] = f"/v1/reviews/{application_id}/decision"
        event["pathParameters"] = {"application_id": application_id}
        event["body"] = json.dumps({"decision": verdict, "note": "bench"})
        return self._run(event)

    def decide(self, supplier_id: str, amount: str, key: str) -> tuple[str, list[str], float, float]:
        """(status, DynamoDB calls, handler ms, of which ms inside the store)"""
        event = json.loads(json.dumps(self.template))
        event["requestContext"]["authorizer"]["claims"] = {
            "sub": f"sub-{supplier_id}",
            "custom:supplier_id": supplier_id,
            "token_use": "id",
        }
        event["headers"]["Idempotency-Key"] = key
        event["body"] = json.dumps({"amount": amount, "currency": "CNY", "term_days": 30})
        return self._run(event)

    def application_id(self, supplier_id: str, key: str) -> str:
        from scf.service.credit import application_id_for

        return application_id_for(supplier_id, key)


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def summary(values: list[float]) -> str:
    p99 = percentile(values, 99) if len(values) > 1 else values[0]
    return f"{statistics.median(values):8.2f} {p99:8.2f}"


def mixed(bench: Bench, decisions: int, rng: random.Random) -> None:
    suppliers = {
        "approve": [f"B-OK-{i}" for i in range(8)],
        "decline_amount": [f"B-OK-{i}" for i in range(8)],
        "decline_suspended": ["B-SUSPENDED"],
        "review": ["B-UNVERIFIED-0", "B-UNVERIFIED-1"],
    }
    for supplier_id in suppliers["approve"]:
        seed_supplier(supplier_id, documents=10, loans=2, status="ACTIVE", verified=True)
    seed_supplier("B-SUSPENDED", documents=10, loans=0, status="SUSPENDED", verified=True)
    for supplier_id in suppliers["review"]:
        seed_supplier(supplier_id, documents=10, loans=0, status="ACTIVE", verified=False)
    weights = {"approve": 40, "decline_amount": 20, "decline_suspended": 10, "review": 20, "retry": 10}
    bench.decide("B-OK-0", "1000.00", "warm-up")  # a warm Lambda: cold start and connections done
    bench.hook_clients()
    done: list[tuple[str, str, str]] = []
    tally = Tally(KINDS)
    for n in range(decisions):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "retry" and not done:
            kind = "approve"
        if kind == "retry":
            supplier_id, amount, key = rng.choice(done)
        else:
            supplier_id = rng.choice(suppliers[kind])
            amount = "999999999.00" if kind == "decline_amount" else f"{rng.randint(1000, 20000)}.00"
            key = f"bench-{n}"
            done.append((supplier_id, amount, key))
        tally.add(kind, bench.decide(supplier_id, amount, key))
    sequences = tally.sequences
    all_calls = Counter(call for seqs in sequences.values() for seq, n in seqs.items() for call in seq * n)
    tally.print("decisions through the handler (warm)")
    most = max(len(seq) for seqs in sequences.values() for seq in seqs)
    print(
        f"  most DynamoDB calls in one decision: {most}; "
        f"Scan: {all_calls['Scan']}, Query: {all_calls['Query']}"
    )


def ops(bench: Bench, reviews: int, rng: random.Random) -> None:
    """Ops decisions on applications held for review: approve (re-check and reserve), decline, and
    a retry of an approval with its Idempotency-Key."""
    seed_supplier("B-OPS", documents=10, loans=2, status="ACTIVE", verified=False)
    held = []
    for n in range(reviews):
        key = f"ops-held-{n}"
        status, *_ = bench.decide("B-OPS", f"{rng.randint(1000, 5000)}.00", key)
        if status != "REVIEW":
            raise SystemExit(f"B-OPS: expected REVIEW, got {status}")
        held.append(bench.application_id("B-OPS", key))
    tally = Tally(OPS_KINDS)
    approved: list[str] = []
    for n, application_id in enumerate(held):
        kind = "ops_approve" if n % 3 else "ops_decline"
        if n % 5 == 4 and approved:
            kind, application_id = "ops_retry", approved[-1]
        verdict = "DECLINE" if kind == "ops_decline" else "APPROVE"
        tally.add(kind, bench.review(application_id, verdict, f"ops-{application_id}"))
        if kind == "ops_approve":
            approved.append(application_id)
    tally.print(f"ops review decisions through the handler (warm), {reviews} held for review first")


class Tally:
    """Decisions of several kinds: handler and outside-the-store times, outcomes, call sequences."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self.total: dict[str, list[float]] = {kind: [] for kind in kinds}
        self.outside: dict[str, list[float]] = {kind: [] for kind in kinds}
        self.outcomes: dict[str, Counter[str]] = {kind: Counter() for kind in kinds}
        self.sequences: dict[str, Counter[tuple[str, ...]]] = {kind: Counter() for kind in kinds}

    def add(self, kind: str, measured: tuple[str, list[str], float, float]) -> None:
        status, calls, elapsed, store = measured
        self.total[kind].append(elapsed)
        self.outside[kind].append(elapsed - store)
        self.outcomes[kind][status] += 1
        self.sequences[kind][tuple(calls)] += 1

    def print(self, title: str) -> None:
        every = [t for values in self.total.values() for t in values]
        ours = [t for values in self.outside.values() for t in values]
        print(f"\n{len(every)} {title}")
        print(f"  handler time per decision:            median {summary(every)} ms (median, p99)")
        print(f"  of it outside the store (our code):   median {summary(ours)} ms (median, p99)")
        print(f"  {'kind':18} {'n':>5} {'total ms: median p99':>21} {'outside store':>17}  outcomes")
        for kind in self.kinds:
            if not self.total[kind]:
                continue
            print(
                f"  {kind:18} {len(self.total[kind]):5d} {summary(self.total[kind]):>21} "
                f"{summary(self.outside[kind]):>17}  {dict(self.outcomes[kind])}"
            )
            for seq, n in self.sequences[kind].most_common():
                print(f"  {'':18} {n:5d} x {len(seq)} calls: {' + '.join(seq)}")


Attempt = Callable[[], tuple[str, list[str], float, float]]  # status, calls, elapsed ms, ms in the store


def sized_runs(bench: Bench, kind: str, supplier_id: str, attempts: list[Attempt]) -> str:
    """Approvals of one size; the row's figures: calls, median total and outside-store ms, sequence."""
    seqs: Counter[tuple[str, ...]] = Counter()
    times, outside = [], []
    for attempt in attempts:
        status, calls, elapsed, store = attempt()
        if status != "APPROVED":  # the scenario, not a timing: a wrong setup must not print figures
            raise SystemExit(f"{supplier_id}: expected APPROVED, got {status}")
        seqs[tuple(calls)] += 1
        times.append(elapsed)
        outside.append(elapsed - store)
    bench.by_size.setdefault(kind, set()).update(seqs)
    (seq, _), *others = seqs.most_common()
    shown = " + ".join(seq) + (f" (and {len(others)} other sequences)" if others else "")
    return f"{len(seq):5d} {statistics.median(times):9.2f} {statistics.median(outside):8.2f}  {shown}"


def scaling(bench: Bench, rng: random.Random, runs: int) -> None:
    from scf.adapters.dynamodb.models import PoolItem

    print("\nCalls per decision against the size of the supplier (approved, 1,000.00 each)")
    print(
        f"  {'documents':>9} {'loans':>5} {'pool state':>11} {'calls':>5} "
        f"{'total ms':>9} {'outside':>8}  sequence"
    )
    for documents, loans in ((10, 1), (1000, 1), (5000, 1), (10, 50), (1000, 50)):
        supplier_id = f"B-SIZE-{documents}-{loans}"
        seed_supplier(supplier_id, documents=documents, loans=loans, status="ACTIVE", verified=True)
        state_bytes = len(json.dumps(PoolItem.get(*PoolItem.key(supplier_id, "CNY")).state))
        attempts = [
            partial(bench.decide, supplier_id, "1000.00", f"{supplier_id}-{run}") for run in range(runs)
        ]
        figures = sized_runs(bench, "application", supplier_id, attempts)
        print(f"  {documents:9d} {loans:5d} {state_bytes:9d} B {figures}")

    print("\nCalls per ops approval against the review queue (applications waiting, 1,000.00 each)")
    print(f"  {'waiting':>9} {'calls':>5} {'total ms':>9} {'outside':>8}  sequence")
    for waiting in (1, 500):
        supplier_id = f"B-QUEUE-{waiting}"
        seed_supplier(supplier_id, documents=10, loans=1, status="ACTIVE", verified=False)
        held = []
        for n in range(waiting):
            key = f"{supplier_id}-held-{n}"
            status, *_ = bench.decide(supplier_id, "1000.00", key)
            if status != "REVIEW":
                raise SystemExit(f"{supplier_id}: expected REVIEW, got {status}")
            held.append(bench.application_id(supplier_id, key))
        picked = rng.sample(held, min(runs, len(held)))
        attempts = [partial(bench.review, a, "APPROVE", f"q-{a}") for a in picked]
        print(f"  {waiting:9d} {sized_runs(bench, 'ops approval', supplier_id, attempts)}")


def verdict(bench: Bench) -> bool:
    """The target of issue 4: at most 5 calls, no Scan or Query, calls that do not grow with size."""
    every = Counter(call for seq in bench.observed for call in seq)
    most = max((len(seq) for seq in bench.observed), default=0)
    constant = all(len(seqs) == 1 for seqs in bench.by_size.values())
    met = most <= TARGET_CALLS and every["Scan"] == 0 and every["Query"] == 0 and constant
    print(
        f"\n{len(bench.observed)} decisions counted: most calls in one {most} (target <= {TARGET_CALLS}); "
        f"Scan {every['Scan']}, Query {every['Query']}; "
        f"same calls at every size: {'yes' if constant else 'NO'} -> target {'met' if met else 'MISSED'}"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--reviews", type=int, default=200, help="ops decisions of part 2 (0: none)")
    parser.add_argument("--scaling-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--store", choices=("server", "in-process"), default="server")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    rng = random.Random(args.seed)
    print(f"seed {args.seed}")
    print(
        f"store: moto {moto_version()} ({args.store}) with infra/local/moto_fixes.py; "
        f"python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as tmp, store(args.store):
        clock_file = Path(tmp) / "today"
        clock_file.write_text(TODAY.isoformat())
        environment(clock_file)
        from scf.adapters.dynamodb.models import bind
        from scf.config import settings
        from tests.support import create_tables

        settings.cache_clear()
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        create_tables(TABLE, endpoint_url=endpoint)
        bind(TABLE, "us-east-1", endpoint)
        bench = Bench()
        if args.decisions:
            mixed(bench, args.decisions, rng)
        else:  # no mixed part: warm up and hook the clients here
            seed_supplier("B-WARM", documents=10, loans=0, status="ACTIVE", verified=True)
            bench.decide("B-WARM", "1000.00", "warm-up")
            bench.hook_clients()
        if args.reviews:
            ops(bench, args.reviews, rng)
        scaling(bench, rng, args.scaling_runs)
        met = verdict(bench)
    raise SystemExit(0 if met else 1)


@contextmanager
def store(where: str) -> Iterator[None]:
    """The embedded store: moto's server in its own process (default; the measured process holds
    only the handler, as in Lambda), or moto in this process (`mock_aws`, the store's work and
    heap in the measured process). Both with infra/local/moto_fixes.py, as the local stack."""
    if where == "server":
        server, url = start_moto()
        try:
            os.environ["AWS_ENDPOINT_URL"] = url
            yield
        finally:
            server.kill()
            server.wait()
        return
    from moto import mock_aws

    from infra.local import moto_fixes

    moto_fixes.install()
    os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws answers the default endpoints only
    with mock_aws():
        yield


def moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


if __name__ == "__main__":
    main()
