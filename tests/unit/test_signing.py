"""The REST banks' request signature (CONTRACT.md section 7) against fixed vectors, and what the
verifying bank refuses, each with its own reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scf.adapters.banks.signing import (
    RejectionReason,
    SignatureRejected,
    format_timestamp,
    sign,
    signature,
    verify,
)

pytestmark = pytest.mark.unit

SECRET = b"s3cr3t-key"
KEYS = {"K1": SECRET}
NOW = datetime(2026, 12, 3, 5, 55, 0, tzinfo=UTC)
BODY = b'{"payment_id":"PAYL1","amount":"1234.56"}'
SHA256_OF_NOTHING = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_a_get_signature_matches_the_pinned_vector() -> None:
    # Pinned once with `printf 'GET\n/payments/PAYL1\n2026-12-03T05:55:00Z\ne3b0...b855' |
    # openssl dgst -sha256 -hmac 's3cr3t-key' -binary | base64`.
    headers = sign("GET", "/payments/PAYL1", b"", key_id="K1", secret=SECRET, now=NOW)
    assert headers == {
        "X-Key-Id": "K1",
        "X-Timestamp": "2026-12-03T05:55:00Z",
        "X-Signature": "QNCwzm3g5Tcj+76vI+83a4ybDAb/vHcTD6Y4gCfE7NA=",
    }


def test_a_post_signature_is_hmac_sha256_over_the_contracts_string() -> None:
    text = (
        "POST\n/v1/payments\n2026-12-03T05:55:00Z\n"
        "41ec64ad36fe7fa4821b5c1208994e4b094e738506aa9ea41d50a09f07c760a7"
    )
    assert hashlib.sha256(BODY).hexdigest() == text.rsplit("\n", 1)[1]
    expected = base64.b64encode(hmac.new(SECRET, text.encode(), hashlib.sha256).digest()).decode()
    assert expected == "dF+KpADvlwf0HibvFgBnt54S1EOpNNGxcsVP5SmHBzg="
    assert sign("POST", "/v1/payments", BODY, key_id="K1", secret=SECRET, now=NOW)["X-Signature"] == expected


def test_a_get_signs_the_hash_of_an_empty_body() -> None:
    text = f"GET\n/payments/PAYL1\n2026-12-03T05:55:00Z\n{SHA256_OF_NOTHING}"
    expected = base64.b64encode(hmac.new(SECRET, text.encode(), hashlib.sha256).digest()).decode()
    assert signature(SECRET, "get", "/payments/PAYL1", "2026-12-03T05:55:00Z", b"") == expected


def test_a_text_secret_is_its_utf8_bytes() -> None:
    assert signature("s3cr3t-key", "GET", "/p", "2026-12-03T05:55:00Z", b"") == signature(
        SECRET, "GET", "/p", "2026-12-03T05:55:00Z", b""
    )


def test_the_timestamp_is_utc_to_the_second() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert format_timestamp(datetime(2026, 12, 3, 13, 55, 0, 987_654, tzinfo=shanghai)) == (
        "2026-12-03T05:55:00Z"
    )


def test_a_naive_clock_cannot_sign() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 12, 3, 5, 55))


def test_the_query_string_is_part_of_the_signed_path() -> None:
    assert signature(SECRET, "GET", "/payments?x=1", "t", b"") != signature(
        SECRET, "GET", "/payments", "t", b""
    )


def signed(method: str = "POST", path: str = "/v1/payments", body: bytes = BODY) -> dict[str, str]:
    return sign(method, path, body, key_id="K1", secret=SECRET, now=NOW)


def reason_for(
    headers: dict[str, str], *, path: str = "/v1/payments", body: bytes = BODY, now: datetime = NOW
) -> str:
    with pytest.raises(SignatureRejected) as refused:
        verify(headers, "POST", path, body, KEYS, now)
    assert "s3cr3t" not in str(refused.value)
    return refused.value.reason.value


def test_a_signed_request_is_accepted() -> None:
    verify(signed(), "POST", "/v1/payments", BODY, KEYS, NOW)


def test_header_names_are_case_insensitive() -> None:
    lowered = {name.lower(): value for name, value in signed().items()}
    verify(lowered, "POST", "/v1/payments", BODY, KEYS, NOW)


def test_a_tampered_body_is_a_bad_signature() -> None:
    assert reason_for(signed(), body=BODY.replace(b"1234.56", b"9234.56")) == "BAD_SIGNATURE"


def test_a_changed_path_is_a_bad_signature() -> None:
    assert reason_for(signed(), path="/v1/payments?amount=1") == "BAD_SIGNATURE"


def test_another_secret_is_a_bad_signature() -> None:
    forged = sign("POST", "/v1/payments", BODY, key_id="K1", secret=b"guess", now=NOW)
    assert reason_for(forged) == "BAD_SIGNATURE"


def test_an_unknown_key_id_is_refused_as_such() -> None:
    headers = sign("POST", "/v1/payments", BODY, key_id="K9", secret=SECRET, now=NOW)
    assert reason_for(headers) == "UNKNOWN_KEY_ID"


@pytest.mark.parametrize("header", ["X-Key-Id", "X-Timestamp", "X-Signature"])
def test_a_missing_header_is_refused_as_such(header: str) -> None:
    headers = signed()
    del headers[header]
    assert reason_for(headers) == "MISSING_HEADER"


def test_a_request_signed_more_than_300_s_ago_is_stale() -> None:
    assert reason_for(signed(), now=NOW + timedelta(seconds=301)) == "STALE_TIMESTAMP"


def test_a_request_signed_exactly_300_s_ago_is_accepted() -> None:
    verify(signed(), "POST", "/v1/payments", BODY, KEYS, NOW + timedelta(seconds=300))


def test_a_request_signed_more_than_300_s_ahead_is_from_the_future() -> None:
    assert reason_for(signed(), now=NOW - timedelta(seconds=301)) == "FUTURE_TIMESTAMP"


def test_a_malformed_timestamp_is_refused_as_such() -> None:
    stamp = "2026-12-03 05:55:00"
    headers = {
        "X-Key-Id": "K1",
        "X-Timestamp": stamp,
        "X-Signature": signature(SECRET, "POST", "/v1/payments", stamp, BODY),
    }
    assert reason_for(headers) == "MALFORMED_TIMESTAMP"


def test_a_stale_request_with_a_wrong_signature_is_a_bad_signature() -> None:
    forged = sign("POST", "/v1/payments", BODY, key_id="K1", secret=b"guess", now=NOW)
    assert reason_for(forged, now=NOW + timedelta(hours=1)) == "BAD_SIGNATURE"


def test_only_timestamp_reasons_are_clock_skew() -> None:
    assert {reason for reason in RejectionReason if reason.clock_skew} == {
        RejectionReason.STALE_TIMESTAMP,
        RejectionReason.FUTURE_TIMESTAMP,
    }
