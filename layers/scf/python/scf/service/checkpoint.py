"""Checkpoint and continue: a file larger than one invocation can finish is read in several
(docs/ingestion.md, "Files longer than one invocation"). Invariant: one lease holder at a time, and
a checkpoint only moves forward, so a file's rows are applied and counted exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from scf.service.ingest import IngestFile, Report

CONTINUE = "continue"  # the `scf` field of a continuation message
DEADLINE_RESERVE_MS = 20_000  # what stopping needs: a window's writes in AWS, its part, the checkpoint


class PositionedLines(Protocol):
    """Lines with their endings; `position`: byte offset after the last line handed out; `count`:
    lines handed out (the inbox adapter: S3ObjectLines)."""

    position: int
    count: int

    def __iter__(self) -> Iterator[str]: ...

    def __next__(self) -> str: ...


class Continuations(Protocol):
    """Where continuation messages go (the settlement-files queue)."""

    def send(self, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Lease:
    owner: str
    taken_at: float  # float-ok: epoch seconds (an expired lease is one whose `until` is before this)
    until: float  # float-ok: epoch seconds


@dataclass(frozen=True)
class Deadline:
    """Stop starting windows when `time_left_ms()` (the Lambda context's remaining time) is below
    `reserve_ms` plus what the next window is expected to take (as long as the last one did)."""

    time_left_ms: Callable[[], int]
    reserve_ms: int = DEADLINE_RESERVE_MS

    def expired(self, next_window_ms: float = 0) -> bool:  # float-ok: milliseconds
        return self.time_left_ms() < self.reserve_ms + next_window_ms

    def seconds_left(self) -> float:  # float-ok: seconds
        return self.time_left_ms() / 1000


@dataclass
class Checkpoint:
    """Where the next invocation starts, and the report's counters up to there."""

    offset: int  # byte offset of the next unread line
    lines: int  # physical lines read before it (the header included)
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    windows: int = 0

    @classmethod
    def of(cls, report: Report, offset: int, lines: int) -> Checkpoint:
        return cls(
            offset, lines, report.rows_total, report.rows_accepted, report.rows_rejected, report.windows
        )

    def restore(self, report: Report) -> None:
        report.rows_total, report.rows_accepted = self.rows_total, self.rows_accepted
        report.rows_rejected, report.windows = self.rows_rejected, self.windows

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "lines": self.lines,
            "rows_total": self.rows_total,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "windows": self.windows,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Checkpoint:
        return cls(
            offset=int(raw["offset"]),
            lines=int(raw["lines"]),
            rows_total=int(raw["rows_total"]),
            rows_accepted=int(raw["rows_accepted"]),
            rows_rejected=int(raw["rows_rejected"]),
            windows=int(raw.get("windows", 0)),
        )


@dataclass
class CsvSource:
    """The text lines of a CSV from where this invocation starts. Resumed, the header line (read
    again from the file's head) comes first, so columns map as in the first invocation, and
    `line_shift` turns the reader's line numbers back into the file's."""

    lines: PositionedLines
    header: str | None = None  # set when resuming
    lines_before: int = 0  # physical lines of the file before `lines` starts

    def __iter__(self) -> Iterator[str]:
        if self.header is not None:
            yield self.header
        yield from self.lines

    @property
    def line_shift(self) -> int:
        return self.lines_before - 1 if self.header is not None else 0

    def checkpoint(self, report: Report) -> Checkpoint:
        return Checkpoint.of(report, self.lines.position, self.lines_before + self.lines.count)


def continuation_message(command: IngestFile, sha256: str, offset: int) -> dict[str, Any]:
    """The next part of the same file: the same object version, read for the same uploader."""
    return {
        "scf": CONTINUE,
        "bucket": command.bucket,
        "key": command.key,
        "sha256": sha256,
        "offset": offset,
        "version": command.version,
        "uploader": command.uploader,
    }


def header_line(head: bytes) -> str:
    """The first line of a file's head (the CSV header), BOM dropped, ending kept."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    end = text.find(b"\n")
    return (text if end < 0 else text[: end + 1]).decode("utf-8", "replace")
