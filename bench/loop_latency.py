"""Application to money: the time from `POST /v1/applications` to the loan being ACTIVE (the bank
has paid out), measured 20 times against the local stack. Prints figures; asserts nothing.

    .venv/bin/python bench/loop_latency.py            # starts its own stack on free ports
    .venv/bin/python bench/loop_latency.py --running  # uses the stack `make run` started
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from infra.local.loop import LocalClient, Timeline, apply_until_active, onboard
from infra.local.process import start_stack
from infra.local.state import read_env


def measure(env: dict, runs: int, amount: str) -> list[float]:
    local = LocalClient(env)
    supplier_id = f"BENCH-{int(time.time())}"
    onboard(local, supplier_id, Timeline())
    token = local.token(supplier_id=supplier_id)
    timings = []
    for run in range(1, runs + 1):
        seen: list[str] = []
        _, loan, elapsed = apply_until_active(local, token, amount, 30, seen)
        timings.append(elapsed)
        print(f"  run {run:2d}: {elapsed:7.1f} ms  {' -> '.join(seen)}  {loan['loan_id']}", flush=True)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--running", action="store_true", help="use the running stack (env.json)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--amount", default="1000.00")
    args = parser.parse_args()
    stack = None
    if args.running:
        env = read_env()
    else:
        stack = start_stack(Path(tempfile.mkdtemp(prefix="scf-bench-")))
        env = stack.env
        print(f"local stack started in {stack.ready_seconds:.1f} s ({stack.directory})")
    try:
        timings = measure(env, args.runs, args.amount)
    finally:
        if stack is not None:
            stack.stop()
    ordered = sorted(timings)
    print(f"application -> ACTIVE over {len(timings)} runs (bank latency as configured, default 50 ms):")
    print(f"  median {statistics.median(timings):.1f} ms")
    print(f"  p90    {ordered[max(0, int(len(ordered) * 0.9) - 1)]:.1f} ms")
    print(f"  worst  {ordered[-1]:.1f} ms (run {timings.index(ordered[-1]) + 1})")
    print(f"  best   {ordered[0]:.1f} ms")


if __name__ == "__main__":
    main()
