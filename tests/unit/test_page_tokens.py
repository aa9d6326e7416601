"""Page tokens (CONTRACT.md section 8: forged page tokens get a 4xx, never a 5xx): a token must be
one this API issued for this list, or it is refused as INVALID_TOKEN before any store call."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from scf.adapters.dynamodb.transactions import BadPageToken, decode_token, encode_token

pytestmark = pytest.mark.unit

LIST = "REVIEW#PENDING"
ISSUED = {
    "pk": {"S": "APPLICATION#AP1"},
    "sk": {"S": "APPLICATION"},
    "gsi1pk": {"S": LIST},
    "gsi1sk": {"S": "2026-12-01T00:00:00Z#AP1"},
}


def forged(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_a_token_this_list_issued_reads_back() -> None:
    token = encode_token(ISSUED)

    start = decode_token(token, gsi1pk=LIST)

    assert start == ISSUED


@pytest.mark.parametrize(
    "value",
    [
        [],
        "text",
        {},
        {"pk": {"S": "x"}},  # missing keys: DynamoDB would refuse it as a 500
        {**ISSUED, "extra": {"S": "x"}},
        {**ISSUED, "sk": {"N": "1"}},
        {**ISSUED, "sk": {"S": 1}},
        {**ISSUED, "sk": {"S": ""}},
        {**ISSUED, "sk": {"S": "x" * 1025}},
        {**ISSUED, "sk": {"S": "x", "N": "1"}},
        {**ISSUED, "sk": "APPLICATION"},
    ],
)
def test_valid_json_of_the_wrong_shape_is_refused(value: Any) -> None:
    token = forged(value)

    with pytest.raises(BadPageToken) as refused:
        decode_token(token, gsi1pk=LIST)

    assert (refused.value.code, refused.value.field) == ("INVALID_TOKEN", "next_token")


def test_a_token_of_another_list_is_refused() -> None:
    token = encode_token({**ISSUED, "gsi1pk": {"S": "UNMATCHED#OPEN"}})

    with pytest.raises(BadPageToken):
        decode_token(token, gsi1pk=LIST)


NESTED = base64.urlsafe_b64encode(b"[" * 100_000).decode()  # deeper than the JSON parser goes


@pytest.mark.parametrize("token", ["not base64!", "W" * 4, NESTED])
def test_a_token_that_is_not_json_is_refused(token: str) -> None:
    with pytest.raises(BadPageToken):
        decode_token(token, gsi1pk=LIST)
