"""The local stack's start time: from starting `python -m infra.local` to env.json being written,
with the stack's own phase timings. Prints figures; asserts nothing.

    .venv/bin/python bench/startup.py [--runs N] [--template cdk.out/Scf.template.json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from infra.local.process import start_stack


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--template", type=Path, default=None, help="skip synth: an already synthesized template"
    )
    args = parser.parse_args()
    extra = ["--template", str(args.template.resolve())] if args.template else []
    totals = []
    for run in range(1, args.runs + 1):
        stack = start_stack(Path(tempfile.mkdtemp(prefix="scf-startup-")), extra)
        try:
            totals.append(stack.ready_seconds)
            phases = [line for line in stack.log.read_text().splitlines() if line.startswith("[local]")]
            print(f"run {run}: env.json after {stack.ready_seconds:.2f} s")
            for line in phases:
                print(f"  {line}")
        finally:
            stack.stop()
    if len(totals) > 1:
        print(f"median {statistics.median(totals):.2f} s, worst {max(totals):.2f} s over {len(totals)} runs")


if __name__ == "__main__":
    main()
