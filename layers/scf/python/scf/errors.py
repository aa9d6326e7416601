"""The one error vocabulary: every error a service lets escape is an `ScfError` of one of the kinds
below, with a `code`, a message and, for bad input, the `field` (docs/architecture.md, "Errors").

Invariant: kinds become HTTP answers in one place, `scf.adapters.http.problem_for`.
"""

from __future__ import annotations

from typing import Any


class ScfError(Exception):
    """Base of every error of the vocabulary. `details` are extra problem members (e.g. `errors`)."""

    default_code = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.details = details or {}


class InvalidInput(ScfError, ValueError):
    """A value the caller sent breaks a rule (422, naming the field)."""

    default_code = "INVALID_FIELD"


class MalformedRequest(ScfError, ValueError):
    """The request cannot be read at all: no JSON object, a missing or malformed header (400)."""

    default_code = "BAD_REQUEST"


class NotFound(ScfError, LookupError):
    """No such object for this caller (another supplier's objects are as absent as unknown ones)."""

    default_code = "NOT_FOUND"


class Conflict(ScfError):
    """The object's state refuses the request (409): it would not succeed if retried as it is."""

    default_code = "CONFLICT"


class Contention(ScfError):
    """Others kept changing the same objects while deciding (409): the same request may be retried."""

    default_code = "CONTENTION"


class IdempotencyKeyReused(ScfError):
    """The same Idempotency-Key came with another request (422)."""

    default_code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, message: str = "this Idempotency-Key was used with another request") -> None:
        super().__init__(message, field="Idempotency-Key")


class Forbidden(ScfError):
    """The caller may not do this (403)."""

    default_code = "FORBIDDEN"


class Unavailable(ScfError):
    """A party we depend on gave no answer (a bank): nothing was decided, try again later (503)."""

    default_code = "UNAVAILABLE"
