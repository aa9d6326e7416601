"""Cold start of each handler against a bare Powertools + boto3 handler (issue 12, point 7), median
of N fresh processes each: `init` = the handler module imported (Lambda's init phase); `ready` =
init + `bootstrap()` (the services and their clients, which the first invocation builds; the bare
handler makes its client at import). Prints figures; asserts nothing.

    .venv/bin/python bench/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "scf" / "python"
BARE = """
import boto3
from aws_lambda_powertools import Logger

logger = Logger()
dynamodb = boto3.client("dynamodb", region_name="us-east-1")


@logger.inject_lambda_context
def handler(event, context):
    return {"ok": True}
"""
PROBE = """
import sys, time
t0 = time.perf_counter()
sys.path[:0] = [{code!r}, {layer!r}]
import handler
t1 = time.perf_counter()
if hasattr(handler, "bootstrap"):
    handler.bootstrap()
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t0) * 1000)
"""


def local_banks() -> str:
    stages = json.loads((ROOT / "cdk.json").read_text())["context"]["scf:stages"]
    return json.dumps(stages["local"]["banks"])


def cold_ms(code_dir: Path) -> tuple[float, float]:
    env = {
        **os.environ,
        "TABLE_NAME": "bench",
        "BANKS": local_banks(),
        "OUTBOUND_BUCKET": "bench-outbound",
        "INBOX_BUCKET": "bench-inbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=str(code_dir), layer=str(LAYER))],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    init, ready = out.stdout.strip().splitlines()[-1].split()
    return float(init), float(ready)  # float-ok: milliseconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as bare_dir:
        (Path(bare_dir) / "handler.py").write_text(BARE)
        subjects = {"bare (Powertools Logger + boto3 client)": Path(bare_dir)}
        for code_dir in sorted((ROOT / "functions").iterdir()):
            if (code_dir / "handler.py").is_file():
                subjects[code_dir.name] = code_dir
        cold_ms(Path(bare_dir))  # warm the file cache once
        medians = {}
        for name, code_dir in subjects.items():
            runs = [cold_ms(code_dir) for _ in range(args.runs)]
            medians[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    _, bare_ready = next(iter(medians.values()))
    print(f"cold start, median of {args.runs} fresh processes (ms)")
    print(f"  {'handler':<42} {'init':>8} {'ready':>8}  ready vs bare")
    for name, (init, ready) in medians.items():
        print(f"  {name:<42} {init:8.1f} {ready:8.1f}  {ready / bare_ready:5.2f}x")


if __name__ == "__main__":
    main()
