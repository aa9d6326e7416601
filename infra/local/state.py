"""The local stack's state directory (`.scf-local/` or `$SCF_LOCAL_DIR`) and its env.json."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local.template import ROOT

ENV_FILE = "env.json"
CLOCK_FILE = "clock"
DEFAULT_TIMEZONE = "Asia/Shanghai"


class StackNotRunning(RuntimeError):
    pass


def state_dir() -> Path:
    return Path(os.environ.get("SCF_LOCAL_DIR") or ROOT / ".scf-local").resolve()


def write_json_atomically(path: Path, data: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)


def read_env(directory: Path | None = None) -> dict[str, Any]:
    """env.json of the running stack; StackNotRunning when there is none or its process is gone."""
    directory = directory or state_dir()
    path = directory / ENV_FILE
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StackNotRunning(
            f"the local stack is not running (no {path}); start it with `make run`"
        ) from exc
    pid = env.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        raise StackNotRunning(
            f"the local stack that wrote {path} (pid {pid}) is not running; start it with `make run`"
        )
    return dict(env)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def today_in(timezone: str = DEFAULT_TIMEZONE) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def write_clock(path: Path, business_date: date) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(business_date.isoformat() + "\n", encoding="utf-8")
    temporary.replace(path)


def read_clock(path: Path) -> date:
    return date.fromisoformat(path.read_text(encoding="utf-8").strip())
