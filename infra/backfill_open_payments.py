"""One-time backfill of the open-payment index (docs/access-patterns.md, "Open payments"): payment
orders written SENT before the index existed get `gsi2pk`/`gsi2sk` as the SENT builder writes them,
so the daily status inquiry sees them. Idempotent: each update is conditional on the payment still
being SENT without the keys, so a second run (or one racing a bank answer) changes nothing more.

    python -m infra.backfill_open_payments --table <business table> [--region R] [--endpoint-url U]

A maintenance Scan of the table (filtered to unindexed SENT payments), run once per table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import UpdateError

from scf.adapters.dynamodb.models import PaymentItem, bind
from scf.adapters.dynamodb.transactions import is_condition_failure
from scf.service.loan_store import SENT
from scf.service.payments import payment_kind


@dataclass(frozen=True)
class Backfilled:
    found: int
    indexed: int  # the rest closed or were indexed meanwhile


def backfill() -> Backfilled:
    """Index every SENT payment without index keys (the models bound to the table)."""
    unindexed = (
        PaymentItem.pk.startswith("PAYMENT#")
        & (PaymentItem.status == SENT)
        & PaymentItem.gsi2pk.does_not_exist()
    )
    found = indexed = 0
    for item in PaymentItem.scan(filter_condition=unindexed):
        found += 1
        sent_at = datetime.fromisoformat(item.created_at)
        try:
            item.update(
                actions=[
                    PaymentItem.gsi2pk.set(PaymentItem.open_index_pk(payment_kind(item.payment_id).value)),
                    PaymentItem.gsi2sk.set(PaymentItem.open_index_sk(sent_at, item.payment_id)),
                ],
                condition=(PaymentItem.status == SENT) & PaymentItem.gsi2pk.does_not_exist(),
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            continue  # closed or indexed since the scan read it
        indexed += 1
    return Backfilled(found, indexed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args(argv)
    bind(args.table, args.region, args.endpoint_url)
    done = backfill()
    print(f"open payments without index keys: {done.found}, indexed now: {done.indexed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
