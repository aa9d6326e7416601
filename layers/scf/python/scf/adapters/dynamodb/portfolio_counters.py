"""The portfolio's sharded counters on the business table (docs/access-patterns.md, "The ops
portfolio"): the one helper every loan-changing transaction calls, and the read of a currency's
shards. Other transactions that change a loan (refunds, ...) call `count_loan_change` too.
"""

from __future__ import annotations

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
    changes = portfolio.delta(before, after, overpayment_owed=overpayment_owed)
    if changes:
        attributes = PortfolioShardItem.get_attributes()
        actions: list[Action] = [attributes[name].add(value) for name, value in sorted(changes.items())]
        actions += [PortfolioShardItem.currency.set(after.currency), PortfolioShardItem.updated_at.set(now)]
        shard = PortfolioShardItem(*PortfolioShardItem.key(after.currency, portfolio.shard_of(after.loan_id)))
        transaction.update(shard, actions=actions)
    return [LoanItem.in_portfolio.set(True)]


def read_counters(currency: str) -> portfolio.Counters:
    """The currency's shards summed: one Query of `PORTFOLIO#<currency>` (at most SHARDS items)."""
    shards = PortfolioShardItem.query(PortfolioShardItem.partition(currency), consistent_read=True)
    return portfolio.total(
        {name: getattr(shard, name) for name in portfolio.FIELDS if getattr(shard, name) is not None}
        for shard in shards
    )
