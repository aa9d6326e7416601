"""Starting the local stack as a child process on free ports with its own state directory: what
the e2e tests and the benchmarks do (`make run` runs it in the foreground instead)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.state import ENV_FILE
from infra.local.template import ROOT


class StackFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, lines: int = 200) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class StackProcess:
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    started_at: float  # time.monotonic() just before the process was started
    env: dict[str, Any]
    ready_seconds: float

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, as Ctrl-C would; StackFailed if it does not stop cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                self.process.kill()
                raise StackFailed(f"the local stack did not stop on SIGTERM:\n{log_tail(self.log)}") from exc
        if self.process.returncode != 0:
            raise StackFailed(f"the local stack exited with {self.process.returncode}:\n{log_tail(self.log)}")
        if (self.directory / ENV_FILE).exists():
            raise StackFailed("the local stack stopped but left env.json behind")


def _without_local_ports(environment: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    """The caller's environment minus SCF_LOCAL_*_PORT, which would pin ports a running stack holds."""
    return {
        name: value
        for name, value in environment.items()
        if not name.endswith("_PORT") or not name.startswith("SCF_LOCAL_")
    }


def start_stack(directory: Path, extra_args: list[str] | None = None, timeout: float = 240.0) -> StackProcess:
    """`python -m infra.local` with SCF_LOCAL_DIR=directory (free ports, the default); returns once
    env.json exists."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "stack.log"
    # The stack's own defaults pick free ports when it binds them (no probe-then-bind race).
    command = [sys.executable, "-m", "infra.local", *(extra_args or [])]
    env_file = directory / ENV_FILE
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**_without_local_ports(os.environ), "SCF_LOCAL_DIR": str(directory)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = started + timeout
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise StackFailed(f"the local stack did not start (exit {process.returncode}):\n{log_tail(log)}")
        time.sleep(0.05)
    ready = time.monotonic() - started
    return StackProcess(process, directory, log, started, json.loads(env_file.read_text()), ready)
