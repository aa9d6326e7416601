"""Double-entry ledger (contract section 3; the accounts and postings are in docs/money.md, "Ledger").

Invariant: every money movement is one balanced posting, written once under its business key;
balances are derived from the postings, never stored beside them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scf.domain.waterfall import Allocation
from scf.errors import InvalidInput

LOANS_RECEIVABLE = "loans_receivable"
BANK_OPERATING = "bank_operating"
INTEREST_INCOME = "interest_income"
PENALTY_INCOME = "penalty_income"
SUPPLIER_OVERPAYMENT = "supplier_overpayment"
ACCOUNTS = frozenset(
    {LOANS_RECEIVABLE, BANK_OPERATING, INTEREST_INCOME, PENALTY_INCOME, SUPPLIER_OVERPAYMENT}
)


class Side(StrEnum):
    DEBIT = "D"
    CREDIT = "C"


class UnbalancedPosting(InvalidInput):
    """A posting whose debits and credits differ, or with an unknown account: never written."""

    default_code = "UNBALANCED_POSTING"


@dataclass(frozen=True)
class Entry:
    account: str
    side: Side
    amount_minor: int

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "side": self.side.value, "amount_minor": self.amount_minor}


@dataclass(frozen=True)
class Posting:
    """A balanced set of entries. `posting_id` is the business key of the movement
    (`DISBURSEMENT#<payment_id>`, `REPAYMENT#<repayment_id>`): one movement, one posting."""

    posting_id: str
    reason: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise UnbalancedPosting(f"{self.posting_id}: a posting has entries")
        for entry in self.entries:
            if entry.account not in ACCOUNTS:
                raise UnbalancedPosting(f"{self.posting_id}: unknown account {entry.account!r}")
            if entry.amount_minor <= 0:
                raise UnbalancedPosting(f"{self.posting_id}: entry amounts are positive")
        debits = sum(e.amount_minor for e in self.entries if e.side is Side.DEBIT)
        credits = sum(e.amount_minor for e in self.entries if e.side is Side.CREDIT)
        if debits != credits:
            raise UnbalancedPosting(f"{self.posting_id}: debits {debits} != credits {credits}")

    def entries_json(self) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.entries]

    @classmethod
    def from_json(cls, posting_id: str, reason: str, entries: Iterable[dict[str, Any]]) -> Posting:
        return cls(
            posting_id=posting_id,
            reason=reason,
            entries=tuple(
                Entry(str(e["account"]), Side(str(e["side"])), int(e["amount_minor"])) for e in entries
            ),
        )


def disbursement_posting(payment_id: str, principal_minor: int) -> Posting:
    return Posting(
        posting_id=f"DISBURSEMENT#{payment_id}",
        reason="DISBURSEMENT",
        entries=(
            Entry(LOANS_RECEIVABLE, Side.DEBIT, principal_minor),
            Entry(BANK_OPERATING, Side.CREDIT, principal_minor),
        ),
    )


def repayment_posting(repayment_id: str, allocation: Allocation) -> Posting:
    credits = (
        (PENALTY_INCOME, allocation.penalty),
        (INTEREST_INCOME, allocation.interest),
        (LOANS_RECEIVABLE, allocation.principal),
        (SUPPLIER_OVERPAYMENT, allocation.overpayment),
    )
    return Posting(
        posting_id=f"REPAYMENT#{repayment_id}",
        reason="REPAYMENT",
        entries=(
            Entry(BANK_OPERATING, Side.DEBIT, allocation.total),
            *(Entry(account, Side.CREDIT, amount) for account, amount in credits if amount > 0),
        ),
    )


def refund_posting(refund_id: str, loan_id: str, amount_minor: int) -> Posting:
    """A loan's part of a refund the bank paid: the overpayment owed leaves the bank account."""
    return Posting(
        posting_id=f"REFUND#{refund_id}#{loan_id}",
        reason="REFUND",
        entries=(
            Entry(SUPPLIER_OVERPAYMENT, Side.DEBIT, amount_minor),
            Entry(BANK_OPERATING, Side.CREDIT, amount_minor),
        ),
    )


def extension_posting(loan_id: str, penalty_reclassified_minor: int) -> Posting:
    """Penalty interest received for days that an extension turned into normal days is interest."""
    return Posting(
        posting_id=f"EXTENSION#{loan_id}",
        reason="EXTENSION_RECLASSIFICATION",
        entries=(
            Entry(PENALTY_INCOME, Side.DEBIT, penalty_reclassified_minor),
            Entry(INTEREST_INCOME, Side.CREDIT, penalty_reclassified_minor),
        ),
    )


def balances(postings: Iterable[Posting]) -> dict[str, int]:
    """Balance per account as debits minus credits (an income or liability account is negative)."""
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        for entry in posting.entries:
            totals[entry.account] += entry.amount_minor if entry.side is Side.DEBIT else -entry.amount_minor
    return {account: totals.get(account, 0) for account in sorted(ACCOUNTS)}


def differences(stored: dict[str, int], postings: Iterable[Posting]) -> dict[str, tuple[int, int]]:
    """Each account of `stored` whose balance from the postings differs: {account: (stored, posted)}.
    Empty when the loan's stored balances and its ledger agree (the daily LEDGER_CHECK)."""
    posted = balances(postings)
    return {
        account: (amount, posted[account])
        for account, amount in sorted(stored.items())
        if posted.get(account, 0) != amount
    }
