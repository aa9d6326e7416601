"""Identifiers (contract sections 6 and 7): a loan id is "LN" + 20 Crockford base32 characters (10 of
time, 10 random), 22 in all, so that it and a payout's payment id ("PAY" + loan id) fit an end-to-end
id (<= 35) and are found in free text, where MT940 may join wrapped lines without a space."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_BODY = "[0-9A-HJKMNP-TV-Z]{20}"
LOAN_ID = re.compile(f"LN{_ID_BODY}")
PAYOUT_PAYMENT_ID = re.compile(f"PAY(LN{_ID_BODY})")
# Our payment ids as end-to-end ids (contract section 7): a payout's (PAY + loan id), a collection's
# (the repayment id, RP + 26 base32 characters), a refund's (RF ...); at most 35 characters.
OUR_PAYMENT_ID = re.compile(f"PAYLN{_ID_BODY}|RP[A-Z2-7]{{26}}|RF[0-9A-Z]{{1,33}}")
# A refund's payment id: RF + 26 base32 characters of its business key's digest (28 in all).
REFUND_PAYMENT_ID = re.compile("RF[A-Z2-7]{26}")


def base32(value: int, length: int) -> str:
    """`value` in `length` Crockford base32 characters, most significant first."""
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(CROCKFORD[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """prefix + 10 characters of milliseconds (sortable) + 10 random characters."""
    return prefix + base32(time.time_ns() // 1_000_000, 10) + base32(secrets.randbits(50), 10)


def refund_payment_id(*business_key: str) -> str:
    """The refund's payment id, the same for the same business key (supplier, currency and
    business date; or the bank item it returns), so a second run finds the first order."""
    digest = hashlib.sha256("\x00".join(("REFUND", *business_key)).encode()).digest()
    return "RF" + base64.b32encode(digest).decode()[:26]
