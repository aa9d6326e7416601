"""Least privilege on the business table (docs/security.md, "Least privilege"): for each function,
the partition-key prefixes each write action may touch (`dynamodb:LeadingKeys`) and the indexes it
queries. The grant (infra/constructs/data.py) and the tests' recorder of every DynamoDB call a
handler makes (tests/table_grants.py) read this one table, so a write outside it fails CI.

Plain Python (no CDK import): the unit and integration tests read it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GET = "dynamodb:GetItem"
BATCH_GET = "dynamodb:BatchGetItem"
QUERY = "dynamodb:Query"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"
PUT = "dynamodb:PutItem"
UPDATE = "dynamodb:UpdateItem"
DELETE = "dynamodb:DeleteItem"
BATCH_WRITE = "dynamodb:BatchWriteItem"
# Reads of any item; ConditionCheckItem (a transaction's check) changes nothing. No Scan, no
# DescribeTable (nothing calls it), no table or stream management.
READ_ACTIONS = (GET, BATCH_GET, QUERY, CONDITION_CHECK)
WRITE_ACTIONS = (PUT, UPDATE, DELETE, BATCH_WRITE)

GSI1 = "gsi1"
GSI2 = "gsi2"  # loans by stored status and maturity (docs/access-patterns.md, "Loans by status")

# Partition-key prefixes (scf/adapters/dynamodb/models.py; docs/access-patterns.md). IAM conditions
# see the partition key only: every item under SUPPLIER#<id> (profile, documents, pool, sweeps,
# exposure, overdue count) or LOAN#<id> (the loan, its refund-owed marker) shares one prefix.
APPLICATION = "APPLICATION#"
BANKENTRY = "BANKENTRY#"
FILE = "FILE#"
LEDGER = "LEDGER#"
LOAN = "LOAN#"
OUTBOX = "OUTBOX#"
PAYMENT = "PAYMENT#"
PORTFOLIO = "PORTFOLIO#"
REPAYMENT = "REPAYMENT#"
TOUCHED = "TOUCHED#"  # the day's markers of loans moved (the daily LEDGER_CHECK)
SUPPLIER = "SUPPLIER#"
PREFIXES = (
    APPLICATION,
    BANKENTRY,
    FILE,
    LEDGER,
    LOAN,
    OUTBOX,
    PAYMENT,
    PORTFOLIO,
    REPAYMENT,
    SUPPLIER,
    TOUCHED,
)


@dataclass(frozen=True)
class TableAccess:
    """One function's writes: IAM write action -> the partition-key prefixes it may write."""

    writes: dict[str, tuple[str, ...]]
    indexes: tuple[str, ...] = field(default=())

    def allows(self, action: str, pk: str | None = None, index: str | None = None) -> bool:
        if index is not None and index not in self.indexes:
            return False
        if action in READ_ACTIONS:
            return True
        return pk is not None and any(pk.startswith(prefix) for prefix in self.writes.get(action, ()))


# The ledger (LEDGER#) is only ever PutItem (with attribute_not_exists): no function may update or
# delete a posting. DeleteItem: the refund-owed marker (LOAN#<id>, sk REFUND) once a refund is
# paid. BatchWriteItem: the supplier master of the platform's files, nothing else.
TABLE_ACCESS: dict[str, TableAccess] = {
    "score_application": TableAccess(
        writes={
            PUT: (APPLICATION, LOAN, OUTBOX),  # the application, the approved loan, LoanApproved
            UPDATE: (PORTFOLIO, SUPPLIER),  # the portfolio shard; the supplier's exposure
        },
        indexes=(GSI1,),  # reviews waiting
    ),
    "disburse": TableAccess(
        writes={
            PUT: (LEDGER, OUTBOX, PAYMENT, TOUCHED),  # payout order, posting, events, day's marker
            UPDATE: (LOAN, OUTBOX, PAYMENT, PORTFOLIO, SUPPLIER),  # OUTBOX#: REPUBLISH of LoanApproved
        },
        indexes=(GSI2,),  # open payouts (the daily inquiry)
    ),
    "apply_repayment": TableAccess(
        writes={
            PUT: (LEDGER, LOAN, OUTBOX, PAYMENT, REPAYMENT, TOUCHED),  # LOAN#: the refund-owed marker
            UPDATE: (LOAN, OUTBOX, PAYMENT, PORTFOLIO, REPAYMENT, SUPPLIER),  # OUTBOX#: REPUBLISH
            DELETE: (LOAN,),  # the refund-owed marker of a refunded loan
        },
        indexes=(GSI1, GSI2),  # a loan's repayments, a supplier's loans; loans by status, open payments
    ),
    "ingest_settlement": TableAccess(
        writes={
            # Files, documents/pools/sweeps, bank entries, sweep repayments; and what a bank's
            # answer in a statement settles (loan, posting, refund-owed marker).
            # PAYMENT#: the refund order of an unmatched credit RETURNed by ops.
            PUT: (BANKENTRY, FILE, LEDGER, LOAN, OUTBOX, PAYMENT, REPAYMENT, SUPPLIER, TOUCHED),
            UPDATE: (BANKENTRY, FILE, LOAN, PAYMENT, PORTFOLIO, REPAYMENT, SUPPLIER),
            DELETE: (LOAN,),  # a refund settled by a statement
            BATCH_WRITE: (SUPPLIER,),  # the supplier master
        },
        indexes=(GSI1,),  # unmatched items, a supplier's loans (sweeps)
    ),
}
