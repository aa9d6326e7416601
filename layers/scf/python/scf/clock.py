"""The clock port: the business date ("today" in the policy time zone) and UTC timestamps.

In AWS the business date is the wall clock in the policy time zone. The local stack sets
`SCF_CLOCK=file:<path>`; that file holds `YYYY-MM-DD` and `scf local clock set` rewrites it, so
every worker process sees the same settable date.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def today(self) -> date: ...

    def now(self) -> datetime: ...


@dataclass
class SystemClock:
    timezone: str = "Asia/Shanghai"

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FileClock:
    """Business date read from a file (re-read when the file changes); timestamps stay real."""

    path: str
    timezone: str = "Asia/Shanghai"
    _mtime: float = -1.0  # float-ok: the clock file's modification time
    _date: date | None = None

    def today(self) -> date:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return SystemClock(self.timezone).today()
        if mtime != self._mtime or self._date is None:
            with open(self.path, encoding="utf-8") as handle:
                self._date = date.fromisoformat(handle.read().strip())
            self._mtime = mtime
        return self._date

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """For tests: a business date that only moves when told to."""

    current: date
    instant: datetime | None = None

    def today(self) -> date:
        return self.current

    def now(self) -> datetime:
        return self.instant or datetime.now(UTC)


def clock_from_spec(spec: str, timezone: str = "Asia/Shanghai") -> Clock:
    """`system` or `file:<path>` (the SCF_CLOCK setting)."""
    if spec.startswith("file:"):
        return FileClock(spec[len("file:") :], timezone)
    if spec in ("", "system"):
        return SystemClock(timezone)
    raise ValueError(f"unknown clock spec {spec!r}")


def iso_utc(moment: datetime) -> str:
    """A timestamp as the contract writes them: ISO 8601, UTC as `Z`."""
    return moment.isoformat().replace("+00:00", "Z")
