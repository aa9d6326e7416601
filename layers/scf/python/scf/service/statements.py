"""Bank files after parsing (docs/ingestion.md, "Bank statement entries"): which statements the
sender may report on, and what each entry or pain.002 status means for the platform. Invariant: an
entry is recorded once, with its effect, per entry id; nothing is guessed (else UNMATCHED, ops list)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scf.clock import Clock
from scf.domain.bank_files import (
    BOOKED,
    CREDIT,
    DEBIT,
    TRANSACTION,
    Entry,
    FileError,
    Pain002Status,
    ParseResult,
    Statement,
    Transaction,
)
from scf.domain.ids import LOAN_ID, PAYOUT_PAYMENT_ID
from scf.domain.loan import Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.events import OutboxEvent

BANK_CREDIT_PREFIX = "RB"

UNMATCHED = "UNMATCHED"
REPAYMENT = "REPAYMENT"
DISBURSEMENT = "DISBURSEMENT"
NOT_BOOKED = "NOT_BOOKED"
PAYMENT_STATUS = "PAYMENT_STATUS"
REVIEW = "REVIEW"


@dataclass(frozen=True)
class LoanRef:
    loan_id: str
    supplier_id: str
    currency: str
    status: str


@dataclass(frozen=True)
class PaymentRef:
    payment_id: str
    loan_id: str
    direction: str
    amount_minor: int
    currency: str
    status: str


@dataclass
class BankEntry:
    """What is stored per entry (BankEntryItem): its facts, and what it was matched to."""

    entry_id: str
    bank: str
    account: str | None
    amount: str | None
    amount_minor: int | None
    currency: str | None
    direction: str | None
    status: str
    reversal: bool
    booking_date: str | None
    references: dict[str, Any]
    file_key: str
    line: int
    matched: dict[str, Any] = field(default_factory=dict)
    code: str | None = None  # set: on the ops list (unmatched or to review)


class StatementStore(Protocol):
    def get_loan_ref(self, loan_id: str) -> LoanRef | None: ...
    def get_payment_ref(self, payment_id: str) -> PaymentRef | None: ...
    def record_entry(
        self,
        entry: BankEntry,
        now: datetime,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
        payment_update: tuple[str, str, dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """Write the entry once (with its repayment and event, or the payment's new record
        `(payment_id, attribute, value)`) in one transaction. None when written; the first stored
        `matched` when this entry id was recorded before (nothing is written then)."""
        ...


def _digest_id(*parts: object) -> str:
    digest = hashlib.sha256("\x00".join("" if p is None else str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode()[:26]


def normalise_account(account: str) -> str:
    return re.sub(r"\s+", "", account).upper()


def held_accounts(bank_accounts: dict[str, list[str]], bank: str) -> set[str]:
    return {normalise_account(a) for a in bank_accounts.get(bank, [])}


@dataclass
class BankFileOutcome:
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors: list[FileError] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    rejected_statements: int = 0
    usable: bool = True


@dataclass
class StatementMatcher:
    store: StatementStore
    clock: Clock
    bank_accounts: dict[str, list[str]]

    def process(self, bank: str, file_key: str, result: ParseResult) -> BankFileOutcome:
        outcome = BankFileOutcome(errors=list(result.errors))
        held = held_accounts(self.bank_accounts, bank)
        for statement in result.statements:
            if normalise_account(statement.account) not in held:
                outcome.rejected_statements += 1
                outcome.errors.append(
                    FileError(
                        statement.line,
                        statement.path or None,
                        "ACCOUNT_NOT_HELD",
                        f"statement {statement.statement_id} is about account {statement.account}, "
                        f"which bank {bank} does not hold for the lender; rejected",
                    )
                )
                continue
            for entry in statement.entries:
                self._entry(bank, file_key, statement, entry, outcome)
        for status in result.statuses:
            self._status(bank, file_key, status, outcome)
        entry_errors = [e for e in result.errors if e.code not in _FILE_LEVEL]
        outcome.rows_rejected = len(entry_errors) + sum(
            len(s.entries) for s in result.statements if normalise_account(s.account) not in held
        )
        outcome.rows_total = outcome.rows_accepted + outcome.rows_rejected
        outcome.usable = bool(outcome.matches) or (
            bool(result.statements) and outcome.rejected_statements < len(result.statements)
        )
        return outcome

    # ---- statements -------------------------------------------------------------------------------

    def _entry(
        self, bank: str, file_key: str, statement: Statement, entry: Entry, outcome: BankFileOutcome
    ) -> None:
        base = entry.bank_reference or _digest_id(
            statement.statement_id,
            entry.booking_date,
            entry.direction,
            entry.amount,
            entry.currency,
            ",".join(entry.end_to_end_ids),
            entry.remittance,
            entry.line,
        )
        if entry.batch and entry.transactions:
            for index, tx in enumerate(entry.transactions):
                self._item(bank, file_key, statement, entry, tx, f"{base}#{index}", outcome)
        else:
            self._item(bank, file_key, statement, entry, None, base, outcome)

    def _item(
        self,
        bank: str,
        file_key: str,
        statement: Statement,
        entry: Entry,
        tx: Transaction | None,
        reference: str,
        outcome: BankFileOutcome,
    ) -> None:
        amount_minor = tx.amount_minor if tx is not None else entry.amount_minor
        amount = tx.amount if tx is not None else entry.amount
        direction = (tx.direction if tx is not None else None) or entry.direction
        e2e = (tx.end_to_end_id,) if tx is not None and tx.end_to_end_id else entry.end_to_end_ids
        remittance = tx.remittance if tx is not None else entry.remittance
        text = " ".join(
            [*e2e, remittance, entry.owner_reference or "", entry.additional_info if tx is None else ""]
        ).upper()
        record = BankEntry(
            entry_id=_digest_id(bank, normalise_account(statement.account), reference),
            bank=bank,
            account=statement.account,
            amount=None if amount is None else str(amount),
            amount_minor=amount_minor,
            currency=(tx.currency if tx is not None and tx.currency else entry.currency),
            direction=direction,
            status=entry.status,
            reversal=entry.reversal,
            booking_date=entry.booking_date.isoformat() if entry.booking_date else None,
            references={
                "bank_reference": entry.bank_reference,
                "end_to_end_ids": list(e2e),
                "remittance": remittance[:500],
                "statement_id": statement.statement_id,
            },
            file_key=file_key,
            line=tx.line if tx is not None else entry.line,
        )
        shown_reference = (e2e[0] if e2e else None) or entry.bank_reference or remittance[:140] or None
        matched = self._match(record, text, e2e)
        outcome.rows_accepted += 1
        outcome.matches.append(
            {
                "line": record.line,
                "amount": record.amount,
                "currency": record.currency,
                "direction": direction,
                "status": entry.status,
                "reference": shown_reference,
                "matched": UNMATCHED if matched.get("type") == UNMATCHED else matched,
                **({"code": matched["code"]} if matched.get("code") else {}),
            }
        )

    def _match(self, record: BankEntry, text: str, e2e: tuple[str, ...]) -> dict[str, Any]:
        now = self.clock.now()
        if record.status != BOOKED:
            return {"type": NOT_BOOKED, "status": record.status}  # never applied, nothing stored
        if record.amount is None:
            return self._unmatched(
                record, "AMOUNT_MISSING", "a transaction of a batch without its own amount", now
            )
        if record.amount_minor is None:
            return self._unmatched(record, "AMOUNT_PRECISION", "the amount is not exact in its currency", now)
        loan_ids = list(dict.fromkeys(LOAN_ID.findall(text)))
        payment_loans = list(dict.fromkeys(PAYOUT_PAYMENT_ID.findall(" ".join(e2e).upper())))
        if record.reversal:
            original = {"loan_ids": loan_ids, "payment_ids": [f"PAY{x}" for x in payment_loans]}
            return self._unmatched(
                record,
                "REVERSAL_NEEDS_REVIEW",
                "a reversal: what it reverses is not undone automatically",
                now,
                extra={"original": original},
            )
        if record.direction == CREDIT:
            return self._credit(record, loan_ids, now)
        if record.direction == DEBIT and payment_loans:
            return self._debit(record, payment_loans, now)
        return self._unmatched(
            record, "NO_REFERENCE", "no known loan id or payment id in its references", now
        )

    def _bank_credit_id(self, record: BankEntry) -> str:
        return BANK_CREDIT_PREFIX + _digest_id("BANK_CREDIT", record.entry_id)

    def _credit(self, record: BankEntry, loan_ids: list[str], now: datetime) -> dict[str, Any]:
        loans = [loan for loan in (self.store.get_loan_ref(i) for i in loan_ids) if loan is not None]
        if not loans:
            return self._unmatched(record, "NO_REFERENCE", "no known loan id in the remittance", now)
        if len(loans) > 1:
            return self._unmatched(
                record, "AMBIGUOUS_REFERENCE", "several loan ids in one credit: never guessed", now
            )
        loan = loans[0]
        assert record.amount_minor is not None
        if loan.currency != record.currency:
            return self._unmatched(
                record, "CURRENCY_MISMATCH", f"loan {loan.loan_id} is in {loan.currency}", now
            )
        if record.amount_minor <= 0:
            return self._unmatched(record, "ZERO_AMOUNT", "nothing to apply", now)
        repayment_id = self._bank_credit_id(record)
        repayment = Repayment(
            repayment_id=repayment_id,
            loan_id=loan.loan_id,
            supplier_id=loan.supplier_id,
            status=RepaymentStatus.PENDING,
            source=RepaymentSource.BANK_CREDIT,
            amount_minor=record.amount_minor,
            currency=loan.currency,
        )
        event = repayment.requested_event()
        record.matched = {"type": REPAYMENT, "loan_id": loan.loan_id, "repayment_id": repayment_id}
        return self._record(record, now, repayment=repayment, event=event)

    def _debit(self, record: BankEntry, payment_loans: list[str], now: datetime) -> dict[str, Any]:
        payments = [
            p for p in (self.store.get_payment_ref(f"PAY{x}") for x in payment_loans) if p is not None
        ]
        payouts = [p for p in payments if p.direction == "PAYOUT"]
        if len(payouts) != 1:
            return self._unmatched(
                record, "NO_REFERENCE", "no single known payout for its end-to-end id", now
            )
        payout = payouts[0]
        if (payout.amount_minor, payout.currency) != (record.amount_minor, record.currency):
            return self._unmatched(
                record,
                "AMOUNT_MISMATCH",
                f"payout {payout.payment_id} was {format_amount(payout.amount_minor)} {payout.currency}",
                now,
            )
        loan = self.store.get_loan_ref(payout.loan_id)
        loan_status = loan.status if loan else None
        record.matched = {
            "type": DISBURSEMENT,
            "payment_id": payout.payment_id,
            "loan_id": payout.loan_id,
            "loan_status": loan_status,
        }
        if loan_status == "DISBURSING":
            # The bank's answer was lost: the disbursement's redelivery asks the bank and activates
            # the loan; ops see the confirmation meanwhile.
            record.code = "CONFIRMED_WHILE_DISBURSING"
        confirmation = {
            "file_key": record.file_key,
            "line": record.line,
            "entry_id": record.entry_id,
            "booking_date": record.booking_date,
            "bank_reference": record.references.get("bank_reference"),
        }
        return self._record(
            record, now, payment_update=(payout.payment_id, "statement_confirmation", confirmation)
        )

    # ---- pain.002 ---------------------------------------------------------------------------------

    def _status(self, bank: str, file_key: str, status: Pain002Status, outcome: BankFileOutcome) -> None:
        now = self.clock.now()
        record = BankEntry(
            entry_id=_digest_id(
                bank,
                "pain.002",
                status.message_id,
                status.original_message_id,
                status.level,
                status.original_payment_info_id,
                status.end_to_end_id,
                status.status,
            ),
            bank=bank,
            account=None,
            amount=None,
            amount_minor=None,
            currency=None,
            direction=None,
            status=status.status,
            reversal=False,
            booking_date=now.date().isoformat(),
            references={
                "end_to_end_ids": [status.end_to_end_id] if status.end_to_end_id else [],
                "original_message_id": status.original_message_id,
                "reason_code": status.reason_code,
            },
            file_key=file_key,
            line=status.line,
        )
        matched: dict[str, Any]
        found = PAYOUT_PAYMENT_ID.fullmatch((status.end_to_end_id or "").upper())
        payment = self.store.get_payment_ref(f"PAY{found.group(1)}") if found else None
        if status.level != TRANSACTION:
            matched = {"type": PAYMENT_STATUS, "level": status.level, "status": status.status}
        elif payment is None:
            matched = self._unmatched(record, "NO_REFERENCE", "no known payout for its end-to-end id", now)
        else:
            loan = self.store.get_loan_ref(payment.loan_id)
            record.matched = {
                "type": PAYMENT_STATUS,
                "payment_id": payment.payment_id,
                "loan_id": payment.loan_id,
                "status": status.status,
                "reason_code": status.reason_code,
                "loan_status": loan.status if loan else None,
            }
            if status.status == "RJCT" and loan is not None and loan.status != "FAILED":
                record.code = "DISBURSEMENT_REJECTED_NEEDS_REVIEW"
            update = {"status": status.status, "reason_code": status.reason_code, "file_key": file_key}
            matched = self._record(record, now, payment_update=(payment.payment_id, "status_report", update))
        outcome.rows_accepted += 1
        outcome.matches.append(
            {
                "line": status.line,
                "amount": None,
                "direction": None,
                "status": status.status,
                "reference": status.end_to_end_id or status.original_message_id,
                "matched": UNMATCHED if matched.get("type") == UNMATCHED else matched,
                **({"code": matched["code"]} if matched.get("code") else {}),
            }
        )

    # ---- storing ----------------------------------------------------------------------------------

    def _unmatched(
        self,
        record: BankEntry,
        code: str,
        message: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        record.matched = {"type": UNMATCHED, "code": code, "message": message, **(extra or {})}
        record.code = code
        return self._record(record, now)

    def _record(self, record: BankEntry, now: datetime, **writes: Any) -> dict[str, Any]:
        first = self.store.record_entry(record, now, **writes)
        if first is None:
            return {**record.matched, **({"code": record.code} if record.code else {})}
        return {**first, "already_recorded": True}


_FILE_LEVEL = frozenset(
    {"FILE_TOO_LARGE", "EMPTY_FILE", "MALFORMED_XML", "INVALID_ENCODING", "DOCTYPE_FORBIDDEN",
     "ENTITY_FORBIDDEN", "EXTERNAL_REFERENCE_FORBIDDEN", "TOO_DEEP", "NAMESPACE_MISSING",
     "NOT_A_STATEMENT", "NOT_A_STATUS_REPORT", "UNEXPECTED_ELEMENT", "UNSUPPORTED_VERSION",
     "UNKNOWN_FORMAT", "NO_STATEMENTS", "NO_STATUSES"}
)  # fmt: skip
