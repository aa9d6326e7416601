"""Ledger postings in the business table: pk LEDGER#<loan_id>, sk POSTING#<posting_id>. Postings are
only ever created (inside the money transaction that moves the money, condition: not there yet);
balances are derived by reading them back (ledger_reader.py). Which loans moved on a business date:
`TouchedItem` markers, written in the same transactions (docs/access-patterns.md, "Loans touched on
a day")."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from scf.adapters.dynamodb.models import PostingItem, TouchedItem
from scf.domain.ledger import Posting

TOUCHED_SHARDS = 8  # partitions per day, so a busy day's marker writes spread over several
TOUCHED_TTL_DAYS = 35  # long enough to rerun any day of the last month


def posting_item(loan_id: str, currency: str, posting: Posting, *, reference: str, now: str) -> PostingItem:
    return PostingItem(
        *PostingItem.key(loan_id, posting.posting_id),
        posting_id=posting.posting_id,
        loan_id=loan_id,
        currency=currency,
        entries=posting.entries_json(),
        reason=posting.reason,
        reference=reference,
        created_at=now,
    )


def touched_shard(loan_id: str) -> int:
    return hashlib.sha256(loan_id.encode()).digest()[0] % TOUCHED_SHARDS


def touched_item(loan_id: str, business_date: date) -> TouchedItem:
    """The marker of a loan moved on `business_date` (a Put: a second one that day is the same item)."""
    return TouchedItem(
        *TouchedItem.key(business_date.isoformat(), touched_shard(loan_id), loan_id),
        loan_id=loan_id,
        expires_at=datetime.now(UTC) + timedelta(days=TOUCHED_TTL_DAYS),
    )
