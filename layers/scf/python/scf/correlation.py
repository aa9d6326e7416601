"""The correlation id of the work in hand (docs/operations.md, "Correlation ids"): set by the handler
from the API request, the file or the queued event; every outbox item written meanwhile carries it,
so the event's consumer (and its bank call) logs the same id. One per process, not per thread: Lambda
runs one invocation at a time, and the threads it starts (ingest's writers) do the same work."""

from __future__ import annotations

_current: str | None = None


def current() -> str | None:
    return _current


def set_current(correlation_id: str | None) -> None:
    global _current
    _current = correlation_id
