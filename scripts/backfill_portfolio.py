"""One-off backfill for loans written before the portfolio's counters (docs/operations.md,
"Backfills"): each loan without `in_portfolio` is added to its counter shard and given its gsi2 keys
in one transaction (conditional on the loan unchanged and not counted: idempotent, safe while the
service runs). Reads the table with a paginated Scan, the one place a scan is right; resumable.

    python scripts/backfill_portfolio.py --table NAME [--region R] [--endpoint URL]
        [--page-size 100] [--start TOKEN] [--dry-run]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import LoanItem, bind
from scf.adapters.dynamodb.transactions import encode_token
from scf.service.loan_store import ATTEMPTS, StaleWrite


@dataclass(frozen=True)
class Progress:
    """One Scan page done: loans seen, counted now, and where to resume (None: the end)."""

    seen: int
    counted: int
    next_token: str | None


def _count(store: DynamoLoanStore, loan_id: str, now: str) -> bool:
    for _ in range(ATTEMPTS):
        record = store.get_loan(loan_id)
        if record is None:
            return False
        try:
            return store.count_in_portfolio(record, now)
        except StaleWrite:
            continue  # the service moved it meanwhile (and so counted it, or it will be next round)
    raise StaleWrite([f"loan {loan_id} kept moving"])


def backfill(*, page_size: int = 100, start: str | None = None, dry_run: bool = False) -> Iterator[Progress]:
    """Scan pages of loan items not counted yet; count each (unless `dry_run`)."""
    store = DynamoLoanStore()
    last: dict[str, Any] | None = _start_key(start)
    while True:
        scan = LoanItem.scan(
            (LoanItem.sk == "LOAN") & LoanItem.in_portfolio.does_not_exist(),
            page_size=page_size,
            last_evaluated_key=last,
            consistent_read=True,
        )
        page = next(scan.page_iter)
        now = datetime.now(UTC).isoformat()
        loan_ids = [item["loan_id"]["S"] for item in page.get("Items", [])]
        counted = 0 if dry_run else sum(_count(store, loan_id, now) for loan_id in loan_ids)
        last = scan.page_iter.last_evaluated_key
        yield Progress(len(loan_ids), counted, encode_token(last))
        if not last:
            return


def _start_key(token: str | None) -> dict[str, Any] | None:
    """A --start token printed by an earlier run: the Scan's last key (the table's pk and sk)."""
    if not token:
        return None
    key: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
    if key.keys() != {"pk", "sk"} or not all(set(part) == {"S"} for part in key.values()):
        raise SystemExit("--start is not a token this script printed")
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--endpoint", default=None, help="e.g. the local stack's DynamoDB endpoint")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--start", default=None, help="resume from the token an earlier run printed")
    parser.add_argument("--dry-run", action="store_true", help="count what would be backfilled only")
    args = parser.parse_args(argv)
    bind(args.table, args.region, args.endpoint)
    seen = counted = 0
    for progress in backfill(page_size=args.page_size, start=args.start, dry_run=args.dry_run):
        seen, counted = seen + progress.seen, counted + progress.counted
        print(f"loans not counted seen {seen}, counted now {counted}, resume token {progress.next_token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
