"""Checkpoint and continue: a file larger than one invocation can finish is read in several.

How it stays exactly-once (docs/benchmarks.md, "Settlement ingestion", has the figures):
- Whoever works on a file holds its lease (`Lease`: an owner token and an expiry, in the FileItem).
  A message for a file whose lease is held by someone else is dropped: the holder either finishes,
  or checkpoints and sends a continuation, or dies, and then its own message comes back after the
  queue's visibility timeout (6 x the function timeout, longer than any lease) and takes over.
- Before the invocation's remaining time runs low (`Deadline`), the current chunk is committed and a
  `Checkpoint` is stored: the byte offset of the next row, the physical line count, the report so far.
  The write is conditional on holding the lease and on the offset moving forward, and releases the
  lease; then a continuation message goes to the queue. Any message that takes the lease resumes
  from the stored checkpoint (never from zero), whatever offset it carries.
- A crash between a chunk commit and the checkpoint re-reads rows already applied: documents are
  keyed and each chunk's pool change is in the transaction that writes its documents, so they are
  no-ops and the counters come out as in a clean run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from scf.adapters.files.platform_csv import RowError

if TYPE_CHECKING:
    from scf.service.ingest import Report

CONTINUE = "continue"  # the `scf` field of a continuation message
DEADLINE_RESERVE_MS = 15_000  # what stopping needs: one chunk (with retries), the checkpoint, the message


class PositionedLines(Protocol):
    """Lines with their endings; `position`: byte offset after the last line handed out; `count`:
    lines handed out (scf.adapters.s3.PositionedLines)."""

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
    taken_at: float  # epoch seconds (an expired lease is one whose `until` is before this)
    until: float


@dataclass(frozen=True)
class Deadline:
    """Stop starting chunks when `time_left_ms()` (the Lambda context's remaining time) is below
    `reserve_ms`."""

    time_left_ms: Callable[[], int]
    reserve_ms: int = DEADLINE_RESERVE_MS

    def expired(self) -> bool:
        return self.time_left_ms() < self.reserve_ms

    def seconds_left(self) -> float:
        return self.time_left_ms() / 1000


@dataclass
class Checkpoint:
    """Where the next invocation starts, and the report up to there."""

    offset: int  # byte offset of the next unread line
    lines: int  # physical lines read before it (the header included)
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors_truncated: int = 0
    errors: list[RowError] = field(default_factory=list)
    sweeps: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, report: Report, offset: int, lines: int) -> Checkpoint:
        return cls(
            offset,
            lines,
            report.rows_total,
            report.rows_accepted,
            report.rows_rejected,
            report.errors_truncated,
            list(report.errors),
            list(report.sweeps),
        )

    def restore(self, report: Report) -> None:
        report.rows_total, report.rows_accepted = self.rows_total, self.rows_accepted
        report.rows_rejected, report.errors_truncated = self.rows_rejected, self.errors_truncated
        report.errors = list(self.errors)
        report.sweeps = list(self.sweeps)

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "lines": self.lines,
            "rows_total": self.rows_total,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "errors_truncated": self.errors_truncated,
            "errors": [[e.line, e.field, e.code, e.message] for e in self.errors],
            "sweeps": self.sweeps,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Checkpoint:
        return cls(
            offset=int(raw["offset"]),
            lines=int(raw["lines"]),
            rows_total=int(raw["rows_total"]),
            rows_accepted=int(raw["rows_accepted"]),
            rows_rejected=int(raw["rows_rejected"]),
            errors_truncated=int(raw["errors_truncated"]),
            errors=[RowError(int(line), fld, code, msg) for line, fld, code, msg in raw["errors"]],
            sweeps=list(raw.get("sweeps", [])),
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


def continuation_message(bucket: str, key: str, sha256: str, offset: int) -> dict[str, Any]:
    return {"scf": CONTINUE, "bucket": bucket, "key": key, "sha256": sha256, "offset": offset}


def header_line(head: bytes) -> str:
    """The first line of a file's head (the CSV header), BOM dropped, ending kept."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    end = text.find(b"\n")
    return (text if end < 0 else text[: end + 1]).decode("utf-8", "replace")
