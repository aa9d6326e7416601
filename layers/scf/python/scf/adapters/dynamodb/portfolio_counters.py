"""The portfolio's sharded counters on the business table (docs/access-patterns.md, "The ops
portfolio"): the one helper every loan-changing transaction calls, and the read of a currency's
shards. Other transactions that change a loan (refunds, ...) call `count_loan_change` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from scf.adapters.dynamodb.models import LoanItem, PortfolioShardItem
from scf.domain import portfolio
from scf.domain.loan import Loan


def count_loan_change(
    transaction: TransactWrite, before: Loan | None, after: Loan, *, now: str, overpayment_owed: int = 0
) -> list[Action]:
    """ADD the loan's change (`portfolio.delta`; `before` None: not counted yet) to its shard, in
    `transaction`; returns the action that marks the loan item counted (append it to the loan's
    update). Nothing is written to the shard when nothing changes."""
    return count_loan_changes(transaction, [(before, after, overpayment_owed)], now=now)


def count_loan_changes(
    transaction: TransactWrite, changes: Iterable[tuple[Loan | None, Loan, int]], *, now: str
) -> list[Action]:
    """`count_loan_change` for several loans of one transaction (a refund's): their changes summed
    per shard, one update each (a transaction may not name an item twice); returns the action that
    marks each loan item counted."""
    by_shard: dict[tuple[str, int], portfolio.Counters] = {}
    for before, after, overpayment_owed in changes:
        shard = by_shard.setdefault((after.currency, portfolio.shard_of(after.loan_id)), {})
        for name, value in portfolio.delta(before, after, overpayment_owed=overpayment_owed).items():
            shard[name] = shard.get(name, Decimal(0)) + value
    attributes = PortfolioShardItem.get_attributes()
    for (currency, number), summed in sorted(by_shard.items()):
        summed = {name: value for name, value in summed.items() if value}
        if not summed:
            continue
        actions: list[Action] = [attributes[name].add(value) for name, value in sorted(summed.items())]
        actions += [PortfolioShardItem.currency.set(currency), PortfolioShardItem.updated_at.set(now)]
        transaction.update(PortfolioShardItem(*PortfolioShardItem.key(currency, number)), actions=actions)
    return [LoanItem.in_portfolio.set(True)]


def read_counters(currency: str) -> portfolio.Counters:
    """The currency's shards summed: one Query of `PORTFOLIO#<currency>` (at most SHARDS items)."""
    shards = PortfolioShardItem.query(PortfolioShardItem.partition(currency), consistent_read=True)
    return portfolio.total(
        {name: getattr(shard, name) for name in portfolio.FIELDS if getattr(shard, name) is not None}
        for shard in shards
    )
