"""Ledger postings in the business table: pk LEDGER#<loan_id>, sk POSTING#<posting_id>. Postings are
only ever created (inside the money transaction that moves the money, condition: not there yet);
balances are derived by reading them back."""

from __future__ import annotations

from scf.adapters.dynamodb.models import PostingItem
from scf.domain.ledger import Posting


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


class LedgerRepository:
    def postings_of(self, loan_id: str) -> list[Posting]:
        """Every posting of a loan, in key order (strongly consistent)."""
        query = PostingItem.query(
            f"LEDGER#{loan_id}", PostingItem.sk.startswith("POSTING#"), consistent_read=True
        )
        return [Posting.from_json(item.posting_id, item.reason, item.entries) for item in query]
