"""The ledger check's reads (scf.service.ledger_check): a loan's postings and the loans touched on a
day, as ledger_repository.py writes them. Apart from the writers, so the loan store's cold start does
not load the daily ledger check."""

from __future__ import annotations

from datetime import date

from scf.adapters.dynamodb.ledger_repository import TOUCHED_SHARDS
from scf.adapters.dynamodb.models import PostingItem, TouchedItem
from scf.domain.ledger import Posting
from scf.service.ledger_check import LedgerReader


class DynamoLedgerReader(LedgerReader):
    def postings_of(self, loan_id: str) -> list[Posting]:
        """Every posting of a loan, in key order (strongly consistent)."""
        query = PostingItem.query(
            f"LEDGER#{loan_id}", PostingItem.sk.startswith("POSTING#"), consistent_read=True
        )
        return [Posting.from_json(item.posting_id, item.reason, item.entries) for item in query]

    def touched_loans(self, business_date: date) -> list[str]:
        """The loans touched on `business_date`: one Query per shard (keys only), sorted."""
        day = business_date.isoformat()
        loans: set[str] = set()
        for shard in range(TOUCHED_SHARDS):
            pk, _ = TouchedItem.key(day, shard, "")
            loans.update(item.sk for item in TouchedItem.query(pk, attributes_to_get=["sk"]))
        return sorted(loans)
