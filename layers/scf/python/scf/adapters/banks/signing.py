"""The REST banks' request signature (contract section 7; docs/bank-gateways.md, "The signature"),
shared by the adapter that signs and the bank that verifies.

Invariant: what is signed is exactly what is sent (the request target as on the request line, the
body's bytes), and a request more than `max_age` seconds from the bank's clock is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from scf.errors import Forbidden

KEY_ID = "X-Key-Id"
TIMESTAMP = "X-Timestamp"
SIGNATURE = "X-Signature"
SIGNED_HEADERS = (KEY_ID, TIMESTAMP, SIGNATURE)
MAX_AGE_SECONDS = 300
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class RejectionReason(StrEnum):
    MISSING_HEADER = "MISSING_HEADER"
    UNKNOWN_KEY_ID = "UNKNOWN_KEY_ID"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    MALFORMED_TIMESTAMP = "MALFORMED_TIMESTAMP"
    STALE_TIMESTAMP = "STALE_TIMESTAMP"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"

    @property
    def clock_skew(self) -> bool:
        """The signature was right but the clocks disagree (only said of an authentic request)."""
        return self in (RejectionReason.STALE_TIMESTAMP, RejectionReason.FUTURE_TIMESTAMP)


class SignatureRejected(Forbidden):
    """The bank refuses the request (401); `reason` says why. Never carries a secret."""

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}", code=reason.value)
        self.reason = reason


class Headers(Protocol):
    """Anything with `items()`: a dict, `requests`' headers, `http.server`'s message."""

    def items(self) -> Iterable[tuple[str, Any]]: ...


def format_timestamp(moment: datetime) -> str:
    """`X-Timestamp` for a moment: UTC, to the second, `Z`."""
    if moment.tzinfo is None:
        raise ValueError("the signing clock must be timezone-aware")
    return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def string_to_sign(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()


def signature(secret: bytes | str, method: str, path: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(_key(secret), string_to_sign(method, path, timestamp, body), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def sign(
    method: str, path: str, body: bytes, *, key_id: str, secret: bytes | str, now: datetime
) -> dict[str, str]:
    """The three headers that sign this request at `now`."""
    stamp = format_timestamp(now)
    return {
        KEY_ID: key_id,
        TIMESTAMP: stamp,
        SIGNATURE: signature(secret, method, path, stamp, body),
    }


def verify(
    headers: Headers,
    method: str,
    path: str,
    body: bytes,
    secrets_by_key_id: Mapping[str, bytes | str],
    now: datetime,
    max_age: int = MAX_AGE_SECONDS,
) -> None:
    """Accept a signed request or raise `SignatureRejected`. The signature is checked before the
    timestamp, so a clock-skew reason is only ever given for an authentic request."""
    present = {str(name).lower(): str(value) for name, value in headers.items()}
    missing = [name for name in SIGNED_HEADERS if not present.get(name.lower())]
    if missing:
        raise SignatureRejected(RejectionReason.MISSING_HEADER, f"missing {', '.join(missing)}")
    key_id, stamp, given = (present[name.lower()] for name in SIGNED_HEADERS)
    secret = secrets_by_key_id.get(key_id)
    if secret is None:
        raise SignatureRejected(RejectionReason.UNKNOWN_KEY_ID, f"no key {key_id!r}")
    expected = signature(secret, method, path, stamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise SignatureRejected(RejectionReason.BAD_SIGNATURE, "the signature does not match")
    try:
        signed_at = datetime.strptime(stamp, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureRejected(
            RejectionReason.MALFORMED_TIMESTAMP, f"{TIMESTAMP} is not YYYY-MM-DDTHH:MM:SSZ"
        ) from exc
    age = now - signed_at
    if age > timedelta(seconds=max_age):
        raise SignatureRejected(RejectionReason.STALE_TIMESTAMP, f"signed {age.total_seconds():.0f} s ago")
    if -age > timedelta(seconds=max_age):
        raise SignatureRejected(
            RejectionReason.FUTURE_TIMESTAMP, f"signed {-age.total_seconds():.0f} s in the future"
        )


def _key(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret
