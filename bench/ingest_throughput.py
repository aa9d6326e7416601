"""Settlement ingestion throughput: rows per second of a platform documents file through the
ingest_settlement handler, against the floor of a bare BatchWriteItem (25 items a call) of as many
items into the same store, and the peak memory of the ingesting process. Prints figures; asserts
nothing (docs/benchmarks.md, "Settlement ingestion").

    .venv/bin/python bench/ingest_throughput.py                      # 100,000 rows
    .venv/bin/python bench/ingest_throughput.py --rows 20000 1000000
    .venv/bin/python bench/ingest_throughput.py --local --rows 1000000   # the running local stack

The store is moto's server in its own process (with infra/local/moto_fixes.py, as in the local
stack), so the ingesting process's memory is the handler's alone. Each size runs in a fresh child
process against a fresh server. The handler runs as Lambda would: a 300 s deadline per invocation,
the continuation messages read back from the settlement-files queue.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / "layers" / "scf" / "python")]

from bench.store import cpu_seconds, start_moto  # noqa: E402  (after the path)

BUCKET = "bench-inbox"
TABLE = "bench-business"
KEY = "platform/bench/documents.csv"
FUNCTION_TIMEOUT_MS = 300_000
HEADER = "supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
# A platform's day: orders, receipts and invoices, some returns and sales, payouts.
KINDS = (
    ("PURCHASE_ORDER", 30),
    ("GOODS_RECEIPT", 25),
    ("INVOICE", 20),
    ("RETURN", 5),
    ("SALE", 15),
    ("PAYMENT", 5),
)


def write_file(path: Path, rows: int, suppliers: int, payments: bool, seed: int = 1) -> None:
    rng = random.Random(seed)
    kinds = [k for k, weight in KINDS for _ in range(weight) if payments or k != "PAYMENT"]
    last: dict[int, str] = {}
    with path.open("w") as out:
        out.write(HEADER)
        for i in range(rows):
            supplier = rng.randrange(suppliers)
            kind = rng.choice(kinds)
            reference = last.get(supplier, "") if kind in ("GOODS_RECEIPT", "INVOICE", "PAYMENT") else ""
            doc_id = f"{kind[:2]}-{i:08d}"
            if kind in ("PURCHASE_ORDER", "GOODS_RECEIPT", "INVOICE"):
                last[supplier] = doc_id
            due = f"2026-12-{1 + rng.randrange(28):02d}" if kind == "INVOICE" else ""
            out.write(
                f"SUP-{supplier:05d},{doc_id},{kind},2026-11-{1 + rng.randrange(27):02d},{due},"
                f"{rng.randrange(100, 5_000_000) / 100:.2f},CNY,"
                f"{'DISPUTED' if rng.random() < 0.02 else 'CONFIRMED'},{reference}\n"
            )


class Countdown:
    """A Lambda context whose remaining time counts down from the function's timeout."""

    function_name = "ingest_settlement"
    memory_limit_in_mb = 1024
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest_settlement"

    def __init__(self, timeout_ms: int) -> None:
        self.deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def one_size(
    rows: int,
    suppliers: int,
    payments: bool,
    profile: bool,
    traced: bool,
    with_floor: bool = True,
) -> dict[str, Any]:
    """In a fresh process: ingest `rows` through the handler, then (unless left out) the floor."""
    server, url = start_moto()
    try:
        work = Path(tempfile.mkdtemp(prefix="scf-bench-ingest-"))
        (work / "today").write_text("2026-11-28")
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            AWS_ENDPOINT_URL=url,
            TABLE_NAME=TABLE,
            INBOX_BUCKET=BUCKET,
            SCF_CLOCK=f"file:{work / 'today'}",
            POWERTOOLS_SERVICE_NAME="ingest_settlement",
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        import boto3

        from tests.support import create_tables, inbox_senders, load_handler, s3_event

        os.environ["INBOX_SENDERS"] = inbox_senders("platform")  # the bench uploads as the platform
        create_tables(TABLE)
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET)
        queue_url = sqs.create_queue(QueueName="bench-settlement-files")["QueueUrl"]
        os.environ["SETTLEMENT_FILES_QUEUE_URL"] = queue_url
        # Made and uploaded by another process, so that this one's peak memory is the handler's
        # (the upload's threads would leave malloc arenas of their own here).
        command = [sys.executable, __file__, "--put-file", "--rows", str(rows), "--suppliers", str(suppliers)]
        command += ["--no-payments"] * (not payments)
        size = int(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()[-1])

        handler = load_handler("ingest_settlement")
        handler.bootstrap()
        rss_wired = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # imports and clients
        template = s3_event(KEY, BUCKET)["Records"][0]
        record: dict[str, Any] | None = template

        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        client_cpu, store_cpu = time.process_time(), cpu_seconds(server.pid)
        invocations = 0
        peaks: list[float] = []  # ru_maxrss (MB) after each invocation: where the peak was reached
        while record is not None:
            invocations += 1
            handler.handler({"Records": [record]}, Countdown(FUNCTION_TIMEOUT_MS))
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            record = None
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", []):
                record = template | {"body": message["Body"]}
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        ingest_seconds = time.perf_counter() - started
        client_cpu, store_cpu = time.process_time() - client_cpu, cpu_seconds(server.pid) - store_cpu
        traced_now, traced_peak = tracemalloc.get_traced_memory() if traced else (0, 0)
        tracemalloc.stop()
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(30)
        rss_after_ingest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        documents = handler.bootstrap().ingest.documents  # the pool cache: live state growing with the pools
        report = json.loads(s3.get_object(Bucket=BUCKET, Key=f"reports/{KEY}.report.json")["Body"].read())

        floor_store_cpu = cpu_seconds(server.pid)
        floor_seconds = floor(boto3.client("dynamodb"), rows) if with_floor else None
        floor_store_cpu = cpu_seconds(server.pid) - floor_store_cpu
        return {
            "rows": rows,
            "bytes": size,
            "status": report["status"],
            "rows_accepted": report["rows_accepted"],
            "rows_rejected": report["rows_rejected"],
            "invocations": invocations,
            "ingest_seconds": ingest_seconds,
            "floor_seconds": floor_seconds,
            "client_cpu": client_cpu,
            "store_cpu": store_cpu,
            "floor_store_cpu": floor_store_cpu,
            "tracemalloc_peak_mb": traced_peak / 2**20,
            "tracemalloc_end_mb": traced_now / 2**20,  # what the ingestion left allocated
            "maxrss_mb": rss_after_ingest / 1024,
            "maxrss_wired_mb": rss_wired / 1024,
            "pool_cache_mb": documents._cached_bytes / 2**20,
            "pool_cache_pools": len(documents._pools),
            "maxrss_by_invocation_mb": peaks,
        }
    finally:
        server.kill()
        server.wait()


def floor(client: Any, rows: int) -> float:
    """BatchWriteItem, 25 items a call, of `rows` document-shaped items (the same attributes as an
    ingested document) into the same table."""
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        batch.append(
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"SUPPLIER#FLOOR-{i % 400:05d}"},
                        "sk": {"S": f"DOC#FL-{i:08d}"},
                        "supplier_id": {"S": f"FLOOR-{i % 400:05d}"},
                        "document_id": {"S": f"FL-{i:08d}"},
                        "document_type": {"S": "PURCHASE_ORDER"},
                        "document_date": {"S": "2026-11-01"},
                        "amount_minor": {"N": str(1000 + i)},
                        "currency": {"S": "CNY"},
                        "status": {"S": "CONFIRMED"},
                        "content_hash": {"S": f"{i:064x}"},
                        "source": {"S": f"{KEY}:{i + 2}"},
                    }
                }
            }
        )
        if len(batch) == 25 or i == rows - 1:
            pending: dict[str, Any] = {TABLE: batch}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
            batch = []
    return time.perf_counter() - started


def upload_file(
    s3: Any, bucket: str, key: str, rows: int, suppliers: int, payments: bool, seed: int = 1
) -> int:
    """Write a generated file to a temporary directory and upload it; its size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "documents.csv"
        write_file(data, rows, suppliers, payments, seed)
        s3.upload_file(str(data), bucket, key)
        return data.stat().st_size


def put_file(rows: int, suppliers: int, payments: bool) -> None:
    """Upload the file to the inbox the environment names; print its size."""
    import boto3

    print(upload_file(boto3.client("s3"), BUCKET, KEY, rows, suppliers, payments))


def local(rows: int, suppliers: int, payments: bool) -> None:
    """Against the running local stack (`make run`): drop the file, wait for its report."""
    from infra.local.emulator import client
    from infra.local.state import read_env

    env = read_env()
    # uploaded as the platform, with its keys (docs/local-stack.md, "Who sends it")
    s3 = client("s3", env["aws_endpoint_url"], env["region"], env["partners"]["platform"]["credentials"])
    key = f"platform/bench/{int(time.time())}/documents.csv"
    upload_file(s3, env["inbox_bucket"], key, rows, suppliers, payments, seed=int(time.time()))
    started = time.perf_counter()
    print(f"dropped {rows:,} rows as {key}; waiting for the report (the stack's log shows the invocations)")
    while True:
        try:
            raw = s3.get_object(Bucket=env["inbox_bucket"], Key=f"reports/{key}.report.json")["Body"].read()
            break
        except s3.exceptions.NoSuchKey:
            time.sleep(2)
    elapsed = time.perf_counter() - started
    report = json.loads(raw)
    print(
        f"{report['status']}: {report['rows_accepted']:,} accepted, {report['rows_rejected']:,} rejected "
        f"in {elapsed:.0f} s = {rows / elapsed:,.0f} rows/s (through the local stack's queue and worker)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--suppliers", type=int, default=400)
    parser.add_argument("--no-payments", action="store_true", help="leave PAYMENT rows (sweeps) out")
    parser.add_argument("--profile", action="store_true", help="cProfile the ingestion")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations (their peak; it slows the ingestion: times not comparable)",
    )
    parser.add_argument("--local", action="store_true", help="against the running local stack")
    parser.add_argument(
        "--no-floor", action="store_true", help="leave the floor out (for memory figures: half the time)"
    )
    parser.add_argument("--one-size", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--put-file", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    payments = not args.no_payments
    if args.local:
        for rows in args.rows:
            local(rows, args.suppliers, payments)
        return
    if args.put_file:
        put_file(args.rows[0], args.suppliers, payments)
        return
    if args.one_size:
        result = one_size(
            args.rows[0],
            args.suppliers,
            payments,
            args.profile,
            args.tracemalloc,
            with_floor=not args.no_floor,
        )
        print(json.dumps(result))
        return
    print(
        f"store: moto server (separate process, moto_fixes); {args.suppliers} suppliers; "
        f"PAYMENT rows: {payments}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores; other work may be running)")
    for rows in args.rows:
        command = [
            sys.executable,
            __file__,
            "--one-size",
            "--rows",
            str(rows),
            "--suppliers",
            str(args.suppliers),
        ]
        command += ["--no-payments"] * (not payments) + ["--profile"] * args.profile
        command += ["--tracemalloc"] * args.tracemalloc + ["--no-floor"] * args.no_floor
        out = subprocess.run(command, check=True, capture_output=not args.profile, text=True)
        if args.profile:
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ingest_rate = rows / r["ingest_seconds"]
        against = "floor left out"
        if r["floor_seconds"] is not None:
            against = (
                f"floor {r['floor_seconds']:.1f} s = {rows / r['floor_seconds']:,.0f} items/s; "
                f"ratio {r['ingest_seconds'] / r['floor_seconds']:.2f}x"
            )
        print(
            f"{rows:>9,} rows ({r['bytes'] / 2**20:.1f} MB, {r['status']}, {r['rows_accepted']:,} accepted, "
            f"{r['invocations']} invocation(s)): "
            f"ingest {r['ingest_seconds']:.1f} s = {ingest_rate:,.0f} rows/s; "
            f"{against}; "
            f"CPU: ingesting process {r['client_cpu']:.1f} s, store {r['store_cpu']:.1f} s"
            + (f" (floor: store {r['floor_store_cpu']:.1f} s)" if r["floor_seconds"] is not None else "")
            + "; "
            f"peak memory (ru_maxrss of the ingesting process) {r['maxrss_mb']:.0f} MB "
            f"(wired, before the file: {r['maxrss_wired_mb']:.0f}; "
            f"after each invocation: {', '.join(f'{mb:.0f}' for mb in r['maxrss_by_invocation_mb'])}; "
            f"pool cache at the end: {r['pool_cache_mb']:.1f} MB of {r['pool_cache_pools']} pools)"
            + (
                f", tracemalloc peak {r['tracemalloc_peak_mb']:.1f} MB, "
                f"at the end {r['tracemalloc_end_mb']:.1f} MB"
                if args.tracemalloc
                else ""
            )
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
