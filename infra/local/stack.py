"""The local stack: the synthesized template deployed into an embedded moto, one worker process per
function, queue consumers, outbox pipes, the HTTP gateway, the simulated bank and the clock.

`python -m infra.local` (what `make run` calls) starts it in the foreground, writes
`<state dir>/env.json` once everything is up, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from infra.assets import compiled
from infra.constructs.config import LOCAL_BANK_URL
from infra.local import tokens
from infra.local.bank import Bank, BankServer, Faults
from infra.local.bank_exchange import FileExchange, S3Settings
from infra.local.docs import DOCS_PATH
from infra.local.emulator import (
    FAKE_CREDENTIALS,
    Deployment,
    Emulator,
    client,
    configure_bucket_versioning,
    configure_notifications,
    deploy,
    partner_credentials,
)
from infra.local.events import EVENTS_FILE, BusTarget, EventLog, bus_target
from infra.local.gateway import Gateway
from infra.local.pollers import Activity, PipeTarget, QueueConsumer, StreamPipe
from infra.local.state import (
    CLOCK_FILE,
    ENV_FILE,
    StackNotRunning,
    read_env,
    state_dir,
    today_in,
    write_clock,
    write_json_atomically,
)
from infra.local.template import ROOT, SHARED_LAYER_DIR, FunctionSpec, Template, TemplateError
from infra.local.worker import InvokeResult, Worker
from infra.openapi import DOCUMENT_PATH
from scf.clock import FileClock

log = logging.getLogger("scf.local")
ISSUER_PATH = "/local-user-pool"


@dataclass
class Options:
    # 0: a free port, chosen when the stack starts and written to env.json, so that stacks from
    # two checkouts (or a test run beside `make run`) never collide.
    api_port: int = 0
    moto_port: int = 0
    bank_port: int = 0
    region: str = "us-east-1"
    directory: Path = field(default_factory=state_dir)
    template_file: Path | None = None  # an already synthesized template (cdk.out/*.template.json)
    business_date: date | None = None
    bank_latency_ms: int = 50
    stack_name: str = "scf-local"
    synth_cache: bool = True


TEMPLATE_CACHE = ROOT / "build" / "local-stack"


def synthesis_inputs_digest() -> str:
    """A digest of what the synthesized template depends on: the CDK app's code (not the local
    stack's), cdk.json, what the OpenAPI document reads from the package (infra/openapi.py: the
    currencies and the credit policy documents), the bank directory the stage checks use, the
    pinned CDK versions and the deployment environment variables."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    sources = sorted(
        path
        for path in (ROOT / "infra").rglob("*.py")
        if "local" not in path.relative_to(ROOT / "infra").parts[:1]
    )
    package = ROOT / "layers" / "scf" / "python" / "scf"
    documented = [package / "domain" / "money.py", package / "domain" / "policy.py"]
    documented.append(package / "service" / "banks.py")  # the stage checks (infra/constructs/config.py)
    documented += sorted((package / "policy").glob("*.json"))
    for path in [*sources, *documented, ROOT / "cdk.json"]:
        if path.exists():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("aws-cdk-lib", "cdk-nag"):
        digest.update(f"{package}=={version(package)}".encode())
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON"):
        digest.update(f"{name}={os.environ.get(name, '')}".encode())
    return digest.hexdigest()[:16]


def synthesized_template(directory: Path, use_cache: bool = True) -> Template:
    """The CDK app's template; reused from build/local-stack/ while its inputs are unchanged."""
    cached = TEMPLATE_CACHE / f"template-{synthesis_inputs_digest()}.json"
    if use_cache and cached.exists():
        return Template(json.loads(cached.read_text(encoding="utf-8")))
    body, outdir = synthesize(directory)
    TEMPLATE_CACHE.mkdir(parents=True, exist_ok=True)
    write_json_atomically(cached, body)
    return Template(body, outdir)


def synthesize(directory: Path) -> tuple[dict[str, Any], Path]:
    """The CDK app's template, synthesized in a child process (the jsii runtime leaves with it)."""
    outdir = directory / "cdk.out"
    target = directory / "template.json"
    code = (
        "import json, sys\n"
        "from infra.app import synth_template\n"
        "template = synth_template(outdir=sys.argv[1])\n"
        "open(sys.argv[2], 'w').write(json.dumps(template))\n"
    )
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    finished = subprocess.run(
        [sys.executable, "-c", code, str(outdir), str(target)],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
    )
    if finished.returncode != 0:
        raise TemplateError(f"cdk synth failed:\n{finished.stderr[-4000:]}")
    return json.loads(target.read_text(encoding="utf-8")), outdir


def fill_local_bank_urls(document: dict[str, Any], bank_url: str) -> dict[str, Any]:
    """The `BANKS` document with every URL that starts with the local placeholder (`LOCAL_BANK_URL`,
    the local stage's banks played by the simulated bank) pointing at the simulated bank; a path
    after the placeholder is kept."""
    banks = {}
    for code, bank in document["banks"].items():
        url = bank.get("url")
        if isinstance(url, str) and url.startswith(LOCAL_BANK_URL):
            bank = {**bank, "url": bank_url.rstrip("/") + url[len(LOCAL_BANK_URL) :]}
        banks[code] = bank
    return {**document, "banks": banks}


def bank_overrides(template_environment: dict[str, str], bank_url: str) -> dict[str, str]:
    """The local values of a function's bank settings: BANKS with the simulated bank's address."""
    if "BANKS" not in template_environment:
        return {}
    document = fill_local_bank_urls(json.loads(template_environment["BANKS"]), bank_url)
    return {"BANKS": json.dumps(document, sort_keys=True)}


def describe_banks(document: dict[str, Any]) -> dict[str, Any]:
    """env.json's `banks` (CONTRACT.md section 9): {code: {adapter, url?, accounts}}."""
    described = {}
    for code, bank in sorted(document["banks"].items()):
        entry: dict[str, Any] = {"adapter": bank["adapter"], "accounts": bank["accounts"]}
        if "url" in bank:
            entry["url"] = bank["url"]
        described[code] = entry
    return described


def lambda_environment(spec: FunctionSpec, physical_name: str, arn: str, region: str) -> dict[str, str]:
    """The variables the Lambda runtime itself sets."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": physical_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{physical_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        "SCF_LOCAL_FUNCTION_ARN": arn,
    }


def worker_environment(
    spec: FunctionSpec, deployment: Deployment, local_overrides: dict[str, str]
) -> dict[str, str]:
    """Exactly this function's environment: the process basics, what Lambda sets, the template's
    variables (references resolved to what was deployed) and the local overrides. Nothing else of
    this process's environment leaks in."""
    physical_name = deployment.function_names[spec.logical_id]
    basics = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    return {
        **basics,
        **lambda_environment(spec, physical_name, deployment.function_arn(physical_name), deployment.region),
        **deployment.environment_of(spec),
        **local_overrides,
    }


class LocalStack:
    def __init__(self, options: Options, out: TextIO = sys.stdout) -> None:
        self.options = options
        self.out = out
        self.directory = options.directory
        self.emulator: Emulator | None = None
        self.bank_server: BankServer | None = None
        self.gateway: Gateway | None = None
        self.workers: dict[str, Worker] = {}
        self.consumers: list[QueueConsumer] = []
        self.pipes: list[StreamPipe] = []
        self.env: dict[str, Any] = {}
        self.banks: dict[str, Any] = {}  # the BANKS document as the workers get it
        # {key id: signing secret} of the rest-signed banks, as created in the emulator's Secrets
        # Manager: what the simulated bank checks their signatures with.
        self.bank_secrets: dict[str, bytes] = {}
        # The inbox partners' keys (emulator.partner_credentials).
        self.partners: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}
        self.activity = Activity()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _timed(self, step: str, started: float) -> None:
        self.timings[step] = round(time.monotonic() - started, 3)
        self.say(f"[local] {step}: {self.timings[step]:.2f} s")

    def start(self) -> dict[str, Any]:
        begun = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        refuse_if_running(self.directory)
        (self.directory / ENV_FILE).unlink(missing_ok=True)
        clock_file = self.directory / CLOCK_FILE
        write_clock(clock_file, self.options.business_date or today_in())
        self.event_log = EventLog(self.directory / EVENTS_FILE)
        self.event_log.path.write_text("", encoding="utf-8")  # this run's events only
        private_key, public_key = tokens.generate_keys(self.directory)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            synthesis = pool.submit(self._template)
            self.emulator = Emulator(port=self.options.moto_port)
            endpoint = self.emulator.start()
            template = synthesis.result()
        self._timed("template and emulator", started)

        started = time.monotonic()
        deployment = deploy(template, endpoint, self.options.region, self.options.stack_name)
        configure_notifications(deployment)
        configure_bucket_versioning(deployment)
        self.partners = partner_credentials(deployment)
        self._timed("deployed into moto", started)

        self.bank_server = BankServer(
            Bank(
                FileClock(str(clock_file)),
                self.directory / "bank-journal.jsonl",
                Faults(latency_ms=self.options.bank_latency_ms),
            ),
            port=self.options.bank_port,
        )
        self.bank_server.start()

        started = time.monotonic()
        overrides = {
            "AWS_ENDPOINT_URL": endpoint,
            **FAKE_CREDENTIALS,
            "SCF_CLOCK": f"file:{clock_file}",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        }
        specs = template.functions()
        shared_layer = compiled(SHARED_LAYER_DIR.parent) / SHARED_LAYER_DIR.name  # one for every function
        for spec in specs:
            banks = bank_overrides(deployment.environment_of(spec), self.bank_server.url)
            if banks:
                self.banks = json.loads(banks["BANKS"])
            self.workers[spec.name] = Worker(
                name=spec.name,
                handler=spec.handler,
                # The code and the shared layer as deployed: with their bytecode (infra/assets.py).
                code_dir=compiled(spec.code_dir),
                layers=[shared_layer],
                timeout=spec.timeout,
                environment=worker_environment(spec, deployment, {**overrides, **banks}),
                run_dir=self.directory,
                log=self.out,
            )
        self.bank_secrets = read_bank_secrets(self.banks, deployment)
        if self.banks:
            self._play_banks(deployment, endpoint, specs)
        for worker in self.workers.values():
            worker.start()
        for worker in self.workers.values():
            worker.wait_ready()
        self._timed(f"{len(self.workers)} workers ready", started)

        self._start_consumers(template, deployment)
        self._start_pipes(template, deployment)

        issuer = f"http://127.0.0.1:{self.options.api_port}{ISSUER_PATH}"
        self.gateway = Gateway(
            routes=template.routes(),
            invoke=self._invoke,
            public_key=public_key.read_bytes(),
            issuer=issuer,
            stage=template.stage_name(),
            account_id=deployment.account_id,
            port=self.options.api_port,
            health=self._health,
            timeouts={spec.name: float(spec.timeout) for spec in specs},
            gateway_responses=template.gateway_responses(),
        )
        if self.options.api_port == 0:  # the issuer names the port actually bound
            self.gateway.issuer = f"{self.gateway.url}{ISSUER_PATH}"
        self.gateway.start()

        self.timings["total"] = round(time.monotonic() - begun, 3)
        self.env = self._describe(deployment, specs, clock_file, private_key, public_key)
        write_json_atomically(self.directory / ENV_FILE, self.env)
        self._announce()
        return self.env

    def _template(self) -> Template:
        if self.options.template_file is not None:
            body = json.loads(self.options.template_file.read_text(encoding="utf-8"))
            return Template(body, self.options.template_file.parent)
        return synthesized_template(self.directory, self.options.synth_cache)

    def _invoke(self, function: str, event: dict[str, Any], timeout: float | None = None) -> InvokeResult:
        with self.activity.invocation():
            return self.workers[function].invoke(event, timeout=timeout)

    def _play_banks(self, deployment: Deployment, endpoint: str, specs: list[FunctionSpec]) -> None:
        """The simulated bank plays every configured bank: REST signatures with the secrets the stack
        created, and the file bank's outbound orders answered into the inbox (docs/local-stack.md)."""
        assert self.bank_server is not None
        environments = [deployment.environment_of(spec) for spec in specs]
        inbox = next((env["INBOX_BUCKET"] for env in environments if env.get("INBOX_BUCKET")), None)
        if inbox is None:
            notified = [deployment.resolve(item.bucket_ref) for item in deployment.template.notifications()]
            inbox = notified[0] if notified else None
        outbound = next((env["OUTBOUND_BUCKET"] for env in environments if env.get("OUTBOUND_BUCKET")), None)
        bank = self.bank_server.bank
        bank.configure(self.banks, self.bank_secrets)
        if inbox is not None:
            self.bank_server.attach(
                FileExchange(
                    bank,
                    S3Settings(
                        inbox_bucket=inbox,
                        outbound_bucket=outbound,
                        endpoint_url=endpoint,
                        region=self.options.region,
                        # each bank's files are put with that bank's own keys (the sender check)
                        credentials={code: p["credentials"] for code, p in self.partners.items()},
                    ),
                )
            )

    def _start_consumers(self, template: Template, deployment: Deployment) -> None:
        for trigger in template.queue_triggers():
            if not trigger.enabled:
                continue
            sqs = client("sqs", deployment.endpoint, deployment.region)
            consumer = QueueConsumer(
                name=f"{trigger.function}<-{trigger.queue_logical_id}",
                sqs=sqs,
                queue_url=deployment.queue_url(trigger.queue_logical_id),
                queue_arn=deployment.queue_arn(trigger.queue_logical_id),
                region=deployment.region,
                invoke=lambda event, function=trigger.function: self._invoke(function, event),
                batch_size=trigger.batch_size,
                report_batch_item_failures=trigger.report_batch_item_failures,
                batching_window_seconds=trigger.batching_window_seconds,
            )
            consumer.start()
            self.consumers.append(consumer)

    def _start_pipes(self, template: Template, deployment: Deployment) -> None:
        by_stream: dict[str, list[PipeTarget]] = {}
        buses: dict[str, list[BusTarget]] = {}
        for pipe in template.pipes():
            stream_arn = str(deployment.resolver.getatt(pipe.source_table, pipe.source_attribute))
            by_stream.setdefault(stream_arn, []).append(
                PipeTarget(pipe.logical_id, pipe.patterns, deployment.queue_url(pipe.target_queue))
            )
        for spec in template.bus_pipes():
            stream_arn = str(deployment.resolver.getatt(spec.source_table, spec.source_attribute))
            by_stream.setdefault(stream_arn, [])
            buses.setdefault(stream_arn, []).append(bus_target(spec, self.event_log))
        for stream_arn, targets in by_stream.items():
            pipe = StreamPipe(
                streams=client("dynamodbstreams", deployment.endpoint, deployment.region),
                sqs=client("sqs", deployment.endpoint, deployment.region),
                stream_arn=stream_arn,
                targets=targets,
                activity=self.activity,
                buses=buses.get(stream_arn, []),
            )
            pipe.start()
            self.pipes.append(pipe)

    def _health(self) -> dict[str, Any]:
        workers = {name: worker.alive() for name, worker in self.workers.items()}
        return {"status": "ok" if all(workers.values()) else "degraded", "functions": workers}

    def _describe(
        self,
        deployment: Deployment,
        specs: list[FunctionSpec],
        clock_file: Path,
        private_key: Path,
        public_key: Path,
    ) -> dict[str, Any]:
        environments = {spec.name: self.workers[spec.name].environment for spec in specs}

        def first(variable: str) -> str | None:
            for environment in environments.values():
                if environment.get(variable):
                    return environment[variable]
            return None

        buckets = [deployment.resolve(item.bucket_ref) for item in deployment.template.notifications()]
        lender_account: dict[str, str] = {}
        if self.banks:
            default = self.banks["default_bank"]
            lender_account = {"bank_code": default, **self.banks["banks"][default]["accounts"][0]}
        assert self.gateway is not None and self.bank_server is not None
        return {
            "api_url": self.gateway.url,
            "openapi_url": f"{self.gateway.url}{DOCUMENT_PATH}",
            "docs_url": f"{self.gateway.url}{DOCS_PATH}",
            "aws_endpoint_url": deployment.endpoint,
            "region": deployment.region,
            "stack_name": deployment.stack_name,
            "account_id": deployment.account_id,
            "inbox_bucket": first("INBOX_BUCKET") or (buckets[0] if buckets else None),
            "table_name": first("TABLE_NAME"),
            "bank_url": self.bank_server.url,
            "banks": describe_banks(self.banks) if self.banks else {},
            "default_bank": self.banks.get("default_bank"),
            "lender_account": lender_account,  # the default bank's operating account
            "outbound_bucket": first("OUTBOUND_BUCKET"),
            # {partner: {role_arn, credentials}}: `scf local drop --as` uploads with these keys
            "partners": self.partners,
            "clock_file": str(clock_file),
            "events_file": str(self.event_log.path),
            "queues": deployment.queues(),
            # The daily job's schedules as the template has them (scf local clock set fires them).
            "schedules": [
                {
                    "name": schedule.logical_id,
                    "queue_url": deployment.queue_url(schedule.queue_logical_id),
                    "expression": schedule.expression,
                    "timezone": schedule.timezone,
                    "input": schedule.input,
                }
                for schedule in deployment.template.schedules()
            ],
            "functions": {
                spec.name: {
                    "function_name": deployment.function_names[spec.logical_id],
                    "pid": self.workers[spec.name].process.pid if self.workers[spec.name].process else None,
                }
                for spec in specs
            },
            "routes": [f"{route.method} {route.path}" for route in deployment.template.routes()],
            "stage": deployment.template.stage_name(),
            "token_issuer": self.gateway.issuer,
            "private_key_file": str(private_key),
            "public_key_file": str(public_key),
            "pid": os.getpid(),
            "startup_seconds": self.timings["total"],
        }

    def _announce(self) -> None:
        env = self.env
        banks = ", ".join(f"{code} {bank['adapter']}" for code, bank in env["banks"].items())
        self.say(
            "\n".join(
                [
                    f"[local] scf local stack ready in {env['startup_seconds']:.1f} s",
                    f"  API          {env['api_url']}  (tokens: scf local token --supplier ID | --ops)",
                    f"  API docs     {env['docs_url']}  (OpenAPI document: {env['openapi_url']})",
                    f"  AWS (moto)   {env['aws_endpoint_url']}  region {env['region']}",
                    f"  inbox        s3://{env['inbox_bucket']}",
                    f"  table        {env['table_name']}",
                    f"  bank         {env['bank_url']}  (plays {banks or 'no bank'})",
                    f"  outbound     s3://{env['outbound_bucket']}",
                    f"  clock        {env['clock_file']}  (scf local clock set YYYY-MM-DD)",
                    f"  events       {env['events_file']}  (scf local events --follow)",
                    f"  state        {self.directory / ENV_FILE}",
                    "  Ctrl-C stops it.",
                ]
            )
        )

    def stop(self) -> None:
        if self.env:  # only the env.json this stack wrote (a refused start leaves the other's alone)
            (self.directory / ENV_FILE).unlink(missing_ok=True)
        if self.gateway is not None:
            self.gateway.shutdown()
            self.gateway.server_close()
        for poller in [*self.consumers, *self.pipes]:
            poller.stop()
        for poller in [*self.consumers, *self.pipes]:
            poller.join(timeout=3)
        for worker in self.workers.values():
            worker.stop()
        if self.bank_server is not None:
            self.bank_server.shutdown()
            self.bank_server.server_close()
        if self.emulator is not None and self.emulator.endpoint:
            self.emulator.stop()
            self.say("[local] stopped")


def read_bank_secrets(banks: dict[str, Any], deployment: Deployment) -> dict[str, bytes]:
    """{key id: secret} of the rest-signed banks, read back from the emulator's Secrets Manager
    (infra.local.emulator.create_secrets put them there)."""
    found = {}
    secretsmanager = client("secretsmanager", deployment.endpoint, deployment.region)
    for bank in banks.get("banks", {}).values():
        if bank.get("adapter") == "rest-signed":
            answer = secretsmanager.get_secret_value(SecretId=bank["secret"])
            found[str(bank["key_id"])] = str(answer["SecretString"]).encode("utf-8")
    return found


def refuse_if_running(directory: Path) -> None:
    """A second stack on the same state directory would overwrite the first one's env.json, keys
    and clock while the first keeps running: refuse, and say how to run a second one."""
    try:
        running = read_env(directory)
    except StackNotRunning:
        return
    raise StackAlreadyRunning(
        f"a local stack is already running on {directory} (pid {running.get('pid')}, API "
        f"{running.get('api_url')}); stop it, or start another with --state-dir <another directory>"
    )


class StackAlreadyRunning(RuntimeError):
    pass


def _port(value: str | None, default: int) -> int:
    return int(value) if value else default


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description="run scf on this machine")
    free = "default 0: a free port, written to env.json"
    parser.add_argument(
        "--api-port", type=int, default=_port(os.environ.get("SCF_LOCAL_API_PORT"), 0), help=free
    )
    parser.add_argument(
        "--moto-port", type=int, default=_port(os.environ.get("SCF_LOCAL_MOTO_PORT"), 0), help=free
    )
    parser.add_argument(
        "--bank-port", type=int, default=_port(os.environ.get("SCF_LOCAL_BANK_PORT"), 0), help=free
    )
    parser.add_argument("--region", default=os.environ.get("SCF_LOCAL_REGION", "us-east-1"))
    parser.add_argument("--state-dir", type=Path, default=None, help="default: $SCF_LOCAL_DIR or .scf-local/")
    parser.add_argument(
        "--template", type=Path, default=None, help="an already synthesized template (skips synth)"
    )
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="initial business date")
    parser.add_argument("--bank-latency-ms", type=int, default=50)
    parser.add_argument(
        "--fresh-synth", action="store_true", help="synthesize even if build/local-stack/ holds the template"
    )
    args = parser.parse_args(argv)
    return Options(
        api_port=args.api_port,
        moto_port=args.moto_port,
        bank_port=args.bank_port,
        region=args.region,
        directory=(args.state_dir or state_dir()).resolve(),
        template_file=args.template,
        business_date=args.date,
        bank_latency_ms=args.bank_latency_ms,
        synth_cache=not args.fresh_synth,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[local] %(levelname)s %(message)s", stream=sys.stdout)
    options = parse_options(argv)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(options)
    try:
        stack.start()
        while not stopping.wait(1.0):
            pass
        return 0
    except Exception as exc:
        print(f"[local] the local stack could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
