"""The correlation id of the work in hand (docs/operations.md, "Correlation ids"): set by the handler
from the API request, the file or the queued event; every outbox item written meanwhile carries it,
so the event's consumer (and its bank call) logs the same id. A ContextVar: one per thread."""

from __future__ import annotations

from contextvars import ContextVar

_CURRENT: ContextVar[str | None] = ContextVar("scf_correlation_id", default=None)


def current() -> str | None:
    return _CURRENT.get()


def set_current(correlation_id: str | None) -> None:
    _CURRENT.set(correlation_id)
