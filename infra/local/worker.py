"""One function's execution environment: a process that imports `functions/<name>/handler.py` with
the shared layer on sys.path and calls `handler(event, context)`, one invocation at a time.

The process is started by the local stack with exactly that function's environment (from the
template plus the local overrides). It listens on 127.0.0.1 (a free port, written to a port file)
for `POST /invoke` `{"event": ..., "request_id": ...}` and answers `{"result": ...}` or
`{"error": {"errorType", "errorMessage", "stackTrace"}}`, as the Lambda runtime API reports them.
Only its supervisor may invoke it: each start gets a fresh secret on stdin (never in argv or the
environment) and a request without it in SECRET_HEADER is refused (403) before any event is read, so
neither another local process nor a browser page can post an event with forged claims.

The supervisor side (`Worker`) starts the process, forwards its output to the stack's log with the
function's name, serializes invocations, and replaces the process after a timeout or a crash, as
Lambda replaces an execution environment.

Memory: the process is held to its function's `MemorySize` (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) as
Lambda holds an environment: a watchdog and a check after each invocation end it when its peak
resident memory is over (exit OUT_OF_MEMORY_EXIT), and the invocation fails with
`Runtime.OutOfMemory`. The REPORT line gives "Max Memory Used" as Lambda's does.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import http.client
import importlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TextIO

SECRET_HEADER = "X-Scf-Worker-Secret"
INVOKE_PATH = "/invoke"

# --- inside the worker process -------------------------------------------------------------------


class LambdaContext:
    """The attributes of the Python runtime's context object."""

    def __init__(self, request_id: str, timeout_seconds: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["SCF_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]  # a string, as in Lambda
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


OUT_OF_MEMORY_EXIT = 137  # as if killed (128 + SIGKILL), which is what Lambda does
WATCHDOG_SECONDS = 0.05


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM), in MB; 0 where /proc does not tell."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 0


def _out_of_memory(limit_mb: int) -> None:
    """End the environment as Lambda does when it goes over its memory."""
    message = f"Runtime exited: {peak_rss_mb()} MB used, over the function's MemorySize of {limit_mb} MB"
    print(f"{message} (Runtime.OutOfMemory)", file=sys.stderr, flush=True)
    os._exit(OUT_OF_MEMORY_EXIT)


def _memory_watchdog(limit_mb: int) -> None:
    def watch() -> None:
        while peak_rss_mb() <= limit_mb:
            time.sleep(WATCHDOG_SECONDS)
        _out_of_memory(limit_mb)

    threading.Thread(target=watch, name="memory-watchdog", daemon=True).start()


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


class _Runtime:
    def __init__(self, handler_spec: str, timeout: int, memory_mb: int | None = None) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        module_name, _, function_name = handler_spec.rpartition(".")
        self.handler: Any = None
        self.init_error: dict[str, Any] | None = None
        try:
            module = importlib.import_module(module_name)
            self.handler = getattr(module, function_name)
        except Exception as exc:  # reported on every invocation, as Lambda reports an init error
            self.init_error = {**_error(exc), "errorType": f"Runtime.ImportModuleError: {type(exc).__name__}"}
            traceback.print_exc()

    def invoke(self, event: Any, request_id: str) -> dict[str, Any]:
        if self.init_error is not None:
            return {"error": self.init_error}
        started = time.monotonic()
        print(f"START RequestId: {request_id}", file=sys.stderr, flush=True)
        try:
            result = self.handler(event, LambdaContext(request_id, self.timeout))
            answer: dict[str, Any] = {"result": json.loads(json.dumps(result))}
        except Exception as exc:
            traceback.print_exc()
            answer = {"error": _error(exc)}
        duration = (time.monotonic() - started) * 1000
        if self.memory_mb is not None and peak_rss_mb() > self.memory_mb:
            _out_of_memory(self.memory_mb)  # no answer: the supervisor sees the environment end
        memory = (
            f" Memory Size: {self.memory_mb} MB Max Memory Used: {peak_rss_mb()} MB" if self.memory_mb else ""
        )
        print(
            f"REPORT RequestId: {request_id} Duration: {duration:.1f} ms{memory}", file=sys.stderr, flush=True
        )
        return answer


def _serve(runtime: _Runtime, port_file: Path, secret: str) -> None:
    expected = secret.encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            given = (self.headers.get(SECRET_HEADER) or "").encode()
            if self.path != INVOKE_PATH or not hmac.compare_digest(given, expected):
                self.close_connection = True
                self.send_error(403, "only the local stack invokes this function")
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = json.loads(raw)
            answer = json.dumps(runtime.invoke(request["event"], request["request_id"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = HTTPServer(("127.0.0.1", 0), Handler)  # one invocation at a time, like one Lambda environment
    temporary = port_file.with_suffix(".tmp")
    temporary.write_text(str(server.server_address[1]))
    temporary.replace(port_file)
    server.serve_forever()


def _exit_with_parent() -> None:
    """A worker never outlives the local stack, even one that was killed."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one function's local execution environment")
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--layer", action="append", default=[])
    parser.add_argument("--handler", required=True)
    parser.add_argument("--timeout", type=int, required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group: the local stack stops its workers itself (SIGTERM).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    # The code root and the layers, and nothing of the repository, as Lambda lays out /var/task and /opt.
    here = Path(__file__).resolve()
    foreign = {"", ".", str(here.parent), str(here.parents[2]), os.getcwd()}
    sys.path[:] = [entry for entry in sys.path if entry not in foreign]
    sys.path[0:0] = [args.code_dir, *args.layer]
    os.chdir(args.code_dir)
    secret = sys.stdin.readline().strip()  # the supervisor's, for this start only
    if not secret:
        raise SystemExit("no invocation secret on stdin")
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    memory_mb = int(memory) if memory and memory.isdigit() else None
    if memory_mb is not None:
        _memory_watchdog(memory_mb)
    _serve(_Runtime(args.handler, args.timeout, memory_mb), Path(args.port_file), secret)


# --- in the local stack (the supervisor) ---------------------------------------------------------


@dataclass
class InvokeResult:
    ok: bool
    payload: Any = None  # the handler's return value
    error: dict[str, Any] | None = None
    timed_out: bool = False
    duration_ms: float = 0.0


class Worker:
    """The supervisor's handle on one function's worker process."""

    def __init__(
        self,
        name: str,
        handler: str,
        code_dir: Path,
        layers: list[Path],
        timeout: int,
        environment: dict[str, str],
        run_dir: Path,
        log: TextIO,
    ) -> None:
        self.name = name
        self.handler = handler
        self.code_dir = code_dir
        self.layers = layers
        self.timeout = timeout
        self.environment = environment
        self.port_file = run_dir / f"worker-{name}.port"
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._secret = ""

    def start(self) -> None:
        if not (self.code_dir / "handler.py").is_file():
            raise FileNotFoundError(f"{self.code_dir}/handler.py does not exist")
        self.port_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            __file__,  # as a script: the worker imports nothing of the repository but the function
            "--code-dir",
            str(self.code_dir),
            *[item for layer in self.layers for item in ("--layer", str(layer))],
            "--handler",
            self.handler,
            "--timeout",
            str(self.timeout),
            "--port-file",
            str(self.port_file),
        ]
        self._secret = secrets.token_urlsafe(32)
        self.process = subprocess.Popen(
            command,
            env=self.environment,
            cwd=str(Path(__file__).resolve().parents[2]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(self._secret + "\n")
        self.process.stdin.close()
        threading.Thread(target=self._forward_output, args=(self.process,), daemon=True).start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists():
                self.port = int(self.port_file.read_text())
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.process.returncode} while starting")
            time.sleep(0.02)
        raise TimeoutError(f"worker {self.name} did not start within {timeout} s")

    def _forward_output(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.log.write(f"[{self.name}] {line}")
            self.log.flush()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def invoke(self, event: Any, request_id: str | None = None, timeout: float | None = None) -> InvokeResult:
        request_id = request_id or str(uuid.uuid4())
        limit = min(timeout, self.timeout) if timeout else self.timeout
        with self._lock:
            if not self.alive() and not self._stopping:
                self._restart("the process had exited")
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=limit + 1.0)
            try:
                body = json.dumps({"event": event, "request_id": request_id})
                headers = {"Content-Type": "application/json", SECRET_HEADER: self._secret}
                connection.request("POST", INVOKE_PATH, body=body, headers=headers)
                answer = json.loads(connection.getresponse().read())
            except TimeoutError:
                self._restart(f"Task timed out after {limit} seconds")
                return InvokeResult(
                    ok=False,
                    timed_out=True,
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {limit} seconds",
                    },
                    duration_ms=(time.monotonic() - started) * 1000,
                )
            except (ConnectionError, http.client.HTTPException, json.JSONDecodeError) as exc:
                error = self._exit_error(exc)
                self._restart(f"the invocation failed: {error['errorMessage']}")
                return InvokeResult(ok=False, error=error, duration_ms=(time.monotonic() - started) * 1000)
            finally:
                connection.close()
        duration = (time.monotonic() - started) * 1000
        if "error" in answer:
            return InvokeResult(ok=False, error=answer["error"], duration_ms=duration)
        return InvokeResult(ok=True, payload=answer.get("result"), duration_ms=duration)

    def _exit_error(self, exc: BaseException) -> dict[str, Any]:
        """What Lambda reports when the environment ended during the invocation."""
        code = None
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # alive: not a memory stop
                code = self.process.wait(timeout=2)
        if code == OUT_OF_MEMORY_EXIT:
            memory = self.environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            message = f"Runtime exited with error: signal: killed (over MemorySize {memory} MB)"
            return {"errorType": "Runtime.OutOfMemory", "errorMessage": message}
        return {"errorType": "Runtime.ExitError", "errorMessage": repr(exc)}

    def _restart(self, reason: str) -> None:
        if self._stopping:
            return
        self.log.write(f"[{self.name}] replacing the execution environment: {reason}\n")
        self._terminate()
        self.start()
        self.wait_ready()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        self._stopping = True
        self._terminate()
        self.port_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
