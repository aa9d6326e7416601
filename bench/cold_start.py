"""Cold start of each handler against a bare Powertools + boto3 handler (issue 12, point 7), median
of N fresh processes each: `init` = the handler module imported (Lambda's init phase); `ready` =
init + `bootstrap()` (the services and their clients, which the first invocation builds; the bare
handler makes its client at import). The environment is Lambda's as far as Powertools looks
(`LAMBDA_TASK_ROOT`), so the Tracer is on and patches as in the cloud; a second reference adds
Tracer and Metrics to the bare handler (what any traced Powertools function pays); a third holds
the garbage collector during its import as the project's handlers do. Each handler
runs from its code asset as deployed (infra/assets.py: with its bytecode, as Lambda's read-only code
directories need) and, "(no bytecode)", from the sources as the assets were before. Third-party
packages come from the venv, bytecode included, for every subject alike. Prints figures; asserts
nothing. The ratio is against the first reference.

    .venv/bin/python bench/cold_start.py [--runs 15] [--baseline ../other-checkout]
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
sys.path.insert(0, str(ROOT))
from infra.assets import compiled  # noqa: E402

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
BARE_TRACED = """
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics(namespace="bench")
dynamodb = boto3.client("dynamodb", region_name="us-east-1")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return {"ok": True}
"""
# The bare handler with the collector held as the project's handlers hold it (functions/*/handler.py).
BARE_GC = "import gc\ngc.disable()\n" + BARE.replace(
    "@logger.inject_lambda_context", "gc.freeze()\ngc.enable()\n\n\n@logger.inject_lambda_context"
)
PROBE = """
import sys, time
t0 = time.perf_counter()
sys.path[:0] = [{code!r}, {layer!r}]
import handler
t1 = time.perf_counter()
if hasattr(handler, "bootstrap"):
    handler.bootstrap()
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t0) * 1000, time.process_time() * 1000)
"""


def local_banks() -> str:
    stages = json.loads((ROOT / "cdk.json").read_text())["context"]["scf:stages"]
    return json.dumps(stages["local"]["banks"])


def cold_ms(code_dir: Path, layer: Path = LAYER) -> tuple[float, float, float]:
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
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        # Tracing as in Lambda: on, without a daemon to send to (a segment is never sent at init).
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=str(code_dir), layer=str(layer))],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    init, ready, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(init), float(ready), float(cpu)  # float-ok: milliseconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another commit (git worktree add): its handlers run too, on its own layer",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as bare_dir,
        tempfile.TemporaryDirectory() as traced_dir,
        tempfile.TemporaryDirectory() as gc_dir,
    ):
        (Path(bare_dir) / "handler.py").write_text(BARE)
        (Path(traced_dir) / "handler.py").write_text(BARE_TRACED)
        (Path(gc_dir) / "handler.py").write_text(BARE_GC)
        subjects = {
            "bare (Powertools Logger + boto3 client)": (Path(bare_dir), LAYER),
            "bare + Tracer (botocore) + Metrics": (Path(traced_dir), LAYER),
            "bare, collector held at import": (Path(gc_dir), LAYER),
        }
        for label, root in (("", ROOT), (" (baseline)", args.baseline)):
            if root is None:
                continue
            layer = compiled(root / "layers" / "scf") / "python"
            for code_dir in sorted((root / "functions").iterdir()):
                if (code_dir / "handler.py").is_file():
                    subjects[code_dir.name + label] = (compiled(code_dir), layer)
                    subjects[f"{code_dir.name}{label} (no bytecode)"] = (
                        code_dir,
                        root / "layers" / "scf" / "python",
                    )
        cold_ms(Path(bare_dir))  # warm the file cache once
        # Round robin: a busy machine's slow minute falls on every subject alike.
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in subjects}
        for _ in range(args.runs):
            for name, (code_dir, layer) in subjects.items():
                runs[name].append(cold_ms(code_dir, layer))
        medians = {
            name: tuple(statistics.median(r[i] for r in got) for i in range(3)) for name, got in runs.items()
        }
    _, bare_ready, bare_cpu = next(iter(medians.values()))
    print(f"cold start, median of {args.runs} fresh processes each, round robin (ms)")
    print(f"  {'handler':<42} {'init':>8} {'ready':>8} {'cpu':>8}  ready, cpu vs bare")
    for name, (init, ready, cpu) in medians.items():
        print(
            f"  {name:<42} {init:8.1f} {ready:8.1f} {cpu:8.1f}"
            f"  {ready / bare_ready:5.2f}x {cpu / bare_cpu:5.2f}x"
        )


if __name__ == "__main__":
    main()
