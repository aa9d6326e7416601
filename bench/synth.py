"""Synth time of the CDK app (cdk-nag included), each run in a fresh process as `cdk synth` does.
Prints figures; asserts nothing.

    .venv/bin/python bench/synth.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PROBE = "from infra.app import synth_template; synth_template()"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    timings = []
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", PROBE], check=True)
        timings.append(time.perf_counter() - started)
        print(f"  run {run}: {timings[-1]:.1f} s", flush=True)
    print(
        f"synth (fresh process, cdk-nag on): median {statistics.median(timings):.1f} s, "
        f"worst {max(timings):.1f} s"
    )


if __name__ == "__main__":
    main()
