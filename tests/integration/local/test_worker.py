"""A function's worker process: its own environment only, a Lambda-like context, errors, timeouts
and crashes replace the execution environment."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
import requests

from infra.local.worker import SECRET_HEADER, Worker

HANDLER = """
import os, time

import shared_thing  # from the layer

COLD = {"count": 0}


def handler(event, context):
    COLD["count"] += 1
    if event.get("raise"):
        raise ValueError("boom")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    if event.get("allocate_mb"):
        held = b"x" * (event["allocate_mb"] * 1024 * 1024)  # touched, so resident
        del held
    return {
        "env": {name: os.environ.get(name) for name in event.get("names", [])},
        "invocations": COLD["count"],
        "layer": shared_thing.VALUE,
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
"""


@pytest.fixture
def code(tmp_path: Path) -> tuple[Path, Path]:
    code_dir = tmp_path / "fn"
    code_dir.mkdir()
    (code_dir / "handler.py").write_text(HANDLER)
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "shared_thing.py").write_text("VALUE = 'from the layer'\n")
    return code_dir, layer


def started_worker(
    code: tuple[Path, Path],
    tmp_path: Path,
    *,
    memory_mb: int = 128,
    timeout: int = 2,
    log: TextIO | None = None,
) -> Worker:
    environment = {
        "PATH": os.environ["PATH"],
        "TABLE_NAME": "tbl",
        "AWS_LAMBDA_FUNCTION_NAME": "stack-fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "SCF_LOCAL_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:stack-fn",
    }
    handle = Worker(
        "fn", "handler.handler", code[0], [code[1]], timeout, environment, tmp_path, log or io.StringIO()
    )
    handle.start()
    handle.wait_ready()
    return handle


@pytest.fixture
def worker(code: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    monkeypatch.setenv("SCF_SUPERVISOR_ONLY", "leak?")
    handle = started_worker(code, tmp_path)
    yield handle
    handle.stop()


def test_the_handler_sees_only_its_environment_and_a_lambda_context(worker: Worker) -> None:
    result = worker.invoke(
        {"names": ["TABLE_NAME", "SCF_SUPERVISOR_ONLY", "AWS_ENDPOINT_URL"]}, request_id="r-1"
    )
    assert result.ok, result.error
    assert result.payload["env"] == {
        "TABLE_NAME": "tbl",
        "SCF_SUPERVISOR_ONLY": None,
        "AWS_ENDPOINT_URL": None,
    }
    assert result.payload["layer"] == "from the layer"
    context = result.payload["context"]
    assert context["function_name"] == "stack-fn" and context["aws_request_id"] == "r-1"
    assert context["memory_limit_in_mb"] == "128"
    assert context["invoked_function_arn"].endswith(":function:stack-fn")
    assert 1000 < context["remaining"] <= 2000


def test_the_module_stays_loaded_between_invocations(worker: Worker) -> None:
    assert worker.invoke({}).payload["invocations"] == 1
    assert worker.invoke({}).payload["invocations"] == 2


def test_an_exception_is_reported_as_lambda_reports_it(worker: Worker) -> None:
    result = worker.invoke({"raise": True})
    assert not result.ok and not result.timed_out
    assert result.error is not None
    assert (result.error["errorType"], result.error["errorMessage"]) == ("ValueError", "boom")
    assert any("boom" in line for line in result.error["stackTrace"])
    assert worker.invoke({}).ok  # the environment survives a handled error


def test_a_timeout_replaces_the_environment(worker: Worker) -> None:
    pid = worker.process.pid if worker.process else None
    result = worker.invoke({"sleep": 5})
    assert result.timed_out and not result.ok
    assert worker.process is not None and worker.process.pid != pid
    assert worker.invoke({}).payload["invocations"] == 1  # a cold start


def test_a_crash_replaces_the_environment(worker: Worker) -> None:
    result = worker.invoke({"exit": True})
    assert not result.ok and result.error is not None and result.error["errorType"] == "Runtime.ExitError"
    assert worker.invoke({}).payload["invocations"] == 1


def test_memory_over_the_function_memory_size_ends_the_environment(
    code: tuple[Path, Path], tmp_path: Path
) -> None:
    worker = started_worker(code, tmp_path, timeout=60)  # a loaded machine is slow to allocate
    try:
        assert worker.invoke({"allocate_mb": 40}).ok  # within 128 MB with the runtime's own
        pid = worker.process.pid if worker.process else None
        result = worker.invoke({"allocate_mb": 200})
        assert not result.ok and result.error is not None
        assert result.error["errorType"] == "Runtime.OutOfMemory"
        assert worker.process is not None and worker.process.pid != pid
        assert worker.invoke({}).payload["invocations"] == 1  # a new environment
    finally:
        worker.stop()


def test_the_report_line_says_the_memory_used(code: tuple[Path, Path], tmp_path: Path) -> None:
    log = io.StringIO()
    worker = started_worker(code, tmp_path, memory_mb=256, log=log)
    try:
        assert worker.invoke({}).ok
        deadline = time.monotonic() + 5
        while "Max Memory Used" not in log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert "Memory Size: 256 MB Max Memory Used: " in log.getvalue()


def test_an_import_error_is_reported_on_every_invocation(code: tuple[Path, Path], tmp_path: Path) -> None:
    (code[0] / "handler.py").write_text("import not_installed_anywhere\n")
    broken = Worker(
        "broken", "handler.handler", code[0], [], 3, {"PATH": os.environ["PATH"]}, tmp_path, io.StringIO()
    )
    broken.start()
    try:
        broken.wait_ready()
        for _ in range(2):
            result = broken.invoke({})
            assert not result.ok and result.error is not None
            assert result.error["errorType"].startswith("Runtime.ImportModuleError")
    finally:
        broken.stop()


def test_a_worker_does_not_outlive_a_killed_stack(code: tuple[Path, Path], tmp_path: Path) -> None:
    parent = f"""
import io, sys, time
from pathlib import Path
from infra.local.worker import Worker
worker = Worker("orphan", "handler.handler", Path({str(code[0])!r}), [Path({str(code[1])!r})], 3,
                {{"PATH": {os.environ["PATH"]!r}}}, Path({str(tmp_path)!r}), io.StringIO())
worker.start()
worker.wait_ready()
print(worker.process.pid, flush=True)
time.sleep(60)
"""
    supervisor = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    worker_pid = int(supervisor.stdout.readline())
    supervisor.kill()
    supervisor.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(worker_pid):
        time.sleep(0.1)
    assert not _alive(worker_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie that its (dead) parent never reaped counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # any local process, or a browser page posting text/plain
        {"Content-Type": "text/plain"},
        {SECRET_HEADER: "guessed"},
        {SECRET_HEADER: ""},
    ],
)
def test_only_the_supervisor_may_invoke_a_worker(worker: Worker, headers: dict[str, str]) -> None:
    forged = {"event": {"requestContext": {"authorizer": {"claims": {"cognito:groups": "ops"}}}}}
    response = requests.post(
        f"http://127.0.0.1:{worker.port}/invoke", data=json.dumps(forged), headers=headers, timeout=5
    )
    assert response.status_code == 403
    assert worker.invoke({}).payload["invocations"] == 1  # the forged event never reached the handler


def test_a_restarted_worker_gets_a_new_secret_and_the_old_one_is_refused(worker: Worker) -> None:
    old = worker._secret
    worker.invoke({"exit": True})  # replaced
    response = requests.post(
        f"http://127.0.0.1:{worker.port}/invoke",
        data=json.dumps({"event": {}, "request_id": "r"}),
        headers={SECRET_HEADER: old},
        timeout=5,
    )
    assert response.status_code == 403 and worker._secret != old
    assert worker.invoke({}).ok
