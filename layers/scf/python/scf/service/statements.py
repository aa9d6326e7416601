"""Bank files after parsing (docs/ingestion.md, "Bank statement entries"): which statements the
sender may report on, and what each entry or pain.002 status means for the platform. A booking or
status about one of our payment ids is a `PaymentReport` handed to `PaymentOutcomes` (never new
money); other credits naming a loan are BANK_CREDIT repayments. Invariant: an entry is recorded
once, with its effect, per entry id; nothing is guessed (else UNMATCHED, ops list)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from scf.clock import Clock
from scf.domain.bank_files import (
    BOOKED,
    CREDIT,
    DEBIT,
    GROUP,
    PAIN_002,
    PAYMENT_INFO,
    TRANSACTION,
    Entry,
    FileError,
    Pain002Status,
    ParseResult,
    Statement,
    Transaction,
)
from scf.domain.ids import LOAN_ID, OUR_PAYMENT_ID
from scf.domain.loan import Repayment, RepaymentSource, RepaymentStatus
from scf.domain.money import format_amount
from scf.events import UNMATCHED_BANK_ITEM, OutboxEvent
from scf.service.loan_store import Effect
from scf.service.metrics import NO_METRICS, UNMATCHED_ITEMS, Metrics
from scf.service.payments import PaymentReport, PaymentStatus

OUTGOING_PREFIXES = ("PAY", "RF")  # payouts and refunds leave the lender's account; collections arrive
BANK_CREDIT_PREFIX = "RB"

UNMATCHED = "UNMATCHED"
REPAYMENT = "REPAYMENT"
PAYMENT = "PAYMENT"  # a booking of one of our payments
NOT_BOOKED = "NOT_BOOKED"
PAYMENT_STATUS = "PAYMENT_STATUS"
REJECTED_ENTRY = "REJECTED"  # not recorded: the entry is in the report's errors
_WHOLE_MESSAGE = ""  # a group status naming no payment: our MsgId cannot be read back to one
REVIEW = "REVIEW"

# pain.002 transaction statuses as reports; anything else (PART, CANC, ...) is never applied itself.
PAIN_002_STATUSES = {
    "ACSC": PaymentStatus.SETTLED,
    "ACCC": PaymentStatus.SETTLED,
    "RJCT": PaymentStatus.REJECTED,
    **dict.fromkeys(("ACCP", "ACSP", "ACTC", "ACWC", "ACWP", "ACFC", "PDNG", "RCVD"), PaymentStatus.PENDING),
}


def our_payment_id(end_to_end_ids: tuple[str, ...]) -> str | None:
    """The first end-to-end id that is one of our payment ids (whole, as sent)."""
    return next((e.strip() for e in end_to_end_ids if OUR_PAYMENT_ID.fullmatch(e.strip())), None)


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


def shown_amount(amount_minor: int | None, exact: str | None) -> str | None:
    """A bank amount as reports and lists show it: two-decimal money (contract section 2) from its
    minor units ("8.850" -> "8.85"); the exact text only when it has no minor units (too precise
    for its currency: it is on the ops list for that reason), None when the bank gave none."""
    return format_amount(amount_minor) if amount_minor is not None else exact


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
    sender: dict[str, str] | None = None  # a credit's debtor {account, bic?}: where RETURN pays back


class PaymentOutcomes(Protocol):
    """What a bank's answer about one of our payments does (scf.service.outcomes): an `Effect`.
    Keeps every report."""

    def apply(self, report: PaymentReport) -> str: ...


class StatementStore(Protocol):
    def get_loan_ref(self, loan_id: str) -> LoanRef | None: ...
    def get_payment_ref(self, payment_id: str) -> PaymentRef | None:
        """A payout or refund order, or a collection (its repayment); None if unknown."""
        ...

    def recorded_match(self, entry_id: str) -> dict[str, Any] | None:
        """The stored `matched` of an entry recorded before, else None."""
        ...

    def record_entry(
        self,
        entry: BankEntry,
        now: datetime,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
    ) -> dict[str, Any] | None:
        """Write the entry once (with its repayment and event) in one transaction. None when
        written; the first stored `matched` when this entry id was recorded before (nothing is
        written then)."""
        ...


def _digest_id(*parts: object) -> str:
    digest = hashlib.sha256("\x00".join("" if p is None else str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode()[:26]


def normalise_account(account: str) -> str:
    return re.sub(r"\s+", "", account).upper()


def held_accounts(bank_accounts: dict[str, list[str]], bank: str) -> set[str]:
    return {normalise_account(a) for a in bank_accounts.get(bank, [])}


def unmatched_event(entry: BankEntry) -> OutboxEvent:
    """`UnmatchedBankItem`, once per entry id: ids, code, amount and date; never the account or
    the bank's free-text references (docs/events.md)."""
    return OutboxEvent(
        f"{UNMATCHED_BANK_ITEM}-{entry.entry_id}",
        UNMATCHED_BANK_ITEM,
        {
            "entry_id": entry.entry_id,
            "bank_code": entry.bank,
            "code": entry.code or UNMATCHED,
            "direction": entry.direction,
            "currency": entry.currency,
            "amount": format_amount(entry.amount_minor) if entry.amount_minor is not None else None,
            "booking_date": entry.booking_date,
            "file_key": entry.file_key,
        },
    )


@dataclass
class BankFileOutcome:
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors: list[FileError] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    rejected_statements: int = 0
    rejected_entries: int = 0  # entries rejected by the matcher (NOT_SENDERS_PAYMENT)
    usable: bool = True


@dataclass
class StatementMatcher:
    store: StatementStore
    clock: Clock
    bank_accounts: dict[str, list[str]]
    outcomes: PaymentOutcomes
    metrics: Metrics = NO_METRICS

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
        for status, about in self._statuses(result.statuses):
            self._status(bank, file_key, status, about, outcome)
        entry_errors = [e for e in result.errors if e.code not in _FILE_LEVEL]
        outcome.rows_rejected = (
            len(entry_errors)
            + outcome.rejected_entries
            + sum(len(s.entries) for s in result.statements if normalise_account(s.account) not in held)
        )
        outcome.rows_total = outcome.rows_accepted + outcome.rows_rejected
        outcome.usable = (
            bool(outcome.matches)
            or outcome.rejected_entries > 0
            or (bool(result.statements) and outcome.rejected_statements < len(result.statements))
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
        returned = (
            tx.return_reason
            if tx is not None
            else next((t.return_reason for t in entry.transactions if t.return_reason), None)
        )
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
                **({"return_reason": returned} if returned else {}),
            },
            file_key=file_key,
            line=tx.line if tx is not None else entry.line,
            sender=_sender(tx, entry) if direction == CREDIT else None,
        )
        shown_reference = (e2e[0] if e2e else None) or entry.bank_reference or remittance[:140] or None
        matched = self._match(record, text, e2e, statement.format, returned)
        path = tx.path if tx is not None else entry.path
        self._report(outcome, record, matched, path, entry.status, shown_reference)

    def _report(
        self,
        outcome: BankFileOutcome,
        record: BankEntry,
        matched: dict[str, Any],
        path: str,
        status: str,
        reference: str | None,
    ) -> None:
        """The entry in the file report: a match (recorded), or an error (rejected, not recorded)."""
        if matched.get("type") == REJECTED_ENTRY:
            outcome.rejected_entries += 1
            outcome.errors.append(FileError(record.line, path or None, matched["code"], matched["message"]))
            return
        outcome.rows_accepted += 1
        outcome.matches.append(
            {
                "line": record.line,
                "amount": shown_amount(record.amount_minor, record.amount),
                "currency": record.currency,
                "direction": record.direction,
                "status": status,
                "reference": reference,
                "matched": UNMATCHED if matched.get("type") == UNMATCHED else matched,
                **({"code": matched["code"]} if matched.get("code") else {}),
            }
        )

    def _match(
        self, record: BankEntry, text: str, e2e: tuple[str, ...], source: str, returned: str | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        if record.status != BOOKED:
            return {"type": NOT_BOOKED, "status": record.status}  # never applied, nothing stored
        if record.amount is None:
            return self._unmatched(
                record, "AMOUNT_MISSING", "a transaction of a batch without its own amount", now
            )
        if record.amount_minor is None:
            return self._unmatched(record, "AMOUNT_PRECISION", "the amount is not exact in its currency", now)
        payment_id = our_payment_id(e2e)
        if payment_id is not None:
            return self._booking(record, payment_id, source, returned, now)
        loan_ids = list(dict.fromkeys(LOAN_ID.findall(text)))
        if record.reversal:
            return self._unmatched(
                record,
                "REVERSAL_NEEDS_REVIEW",
                "a reversal: what it reverses is not undone automatically",
                now,
                extra={"original": {"loan_ids": loan_ids, "payment_ids": []}},
            )
        if record.direction == CREDIT:
            return self._credit(record, loan_ids, now)
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
            # The day the money moved, not the day the statement was read (contract section 3).
            value_date=date.fromisoformat(record.booking_date) if record.booking_date else None,
        )
        event = repayment.requested_event()
        record.matched = {"type": REPAYMENT, "loan_id": loan.loan_id, "repayment_id": repayment_id}
        return self._record(record, now, repayment=repayment, event=event)

    def _booking(
        self, record: BankEntry, payment_id: str, source: str, returned: str | None, now: datetime
    ) -> dict[str, Any]:
        """A booking of one of our payments: SETTLED, or REJECTED when it is a reversal or a return."""
        first = self.store.recorded_match(record.entry_id)
        if first is not None:
            return {**first, "already_recorded": True}
        undone = record.reversal or returned is not None
        outgoing = payment_id.startswith(OUTGOING_PREFIXES)
        expected = (DEBIT if outgoing else CREDIT) if not undone else (CREDIT if outgoing else DEBIT)
        if record.direction != expected:
            return self._unmatched(
                record,
                "DIRECTION_MISMATCH",
                f"a {record.direction} booking cannot {'undo' if undone else 'settle'} payment {payment_id}",
                now,
                extra={"payment_id": payment_id},
            )
        payment = self.store.get_payment_ref(payment_id)
        if payment is not None and (payment.amount_minor, payment.currency) != (
            record.amount_minor,
            record.currency,
        ):
            return self._unmatched(
                record,
                "AMOUNT_MISMATCH",
                f"payment {payment_id} was {format_amount(payment.amount_minor)} {payment.currency}",
                now,
                extra={"payment_id": payment_id},
            )
        status = PaymentStatus.REJECTED if undone else PaymentStatus.SETTLED
        report = PaymentReport(
            payment_id=payment_id,
            bank_code=record.bank,
            status=status,
            source=source,
            value_date=date.fromisoformat(record.booking_date) if record.booking_date else None,
            reason=returned or ("REVERSAL" if record.reversal else None),
            reference=record.file_key,
        )
        return self._answer(record, report, now)

    def _answer(self, record: BankEntry, report: PaymentReport, now: datetime) -> dict[str, Any]:
        """Hand the report to the outcome service and record the entry with its effect."""
        effect = self.outcomes.apply(report)
        if effect == Effect.NOT_SENDERS_PAYMENT:
            return {
                "type": REJECTED_ENTRY,
                "code": Effect.NOT_SENDERS_PAYMENT.value,
                "message": f"payment {report.payment_id} was not sent through bank {record.bank}; "
                "its answer changes nothing",
            }
        if effect == Effect.UNKNOWN_PAYMENT:
            return self._unmatched(
                record,
                Effect.UNKNOWN_PAYMENT.value,
                f"{report.payment_id} has the form of our payment ids but no such payment exists",
                now,
                extra={"payment_id": report.payment_id},
            )
        record.matched = {
            "type": PAYMENT if report.source != PAIN_002 else PAYMENT_STATUS,
            "payment_id": report.payment_id,
            "report": report.status.value,
            "effect": effect,
            **({"reason_code": report.reason} if report.reason else {}),
            **({"value_date": report.value_date.isoformat()} if report.value_date else {}),
            **({"status": record.status} if report.source == PAIN_002 else {}),
        }
        if effect in (Effect.PAYOUT_RETURNED, Effect.OUTCOME_CONFLICT):
            record.code = effect  # money came back after the loan started, or answers disagree: ops decide
        elif (
            report.status is PaymentStatus.REJECTED
            and report.source != PAIN_002
            and effect != Effect.REJECTED
        ):
            record.code = "REVERSAL_NEEDS_REVIEW"  # money went back on a payment that stays as it was
        return self._record(record, now)

    # ---- pain.002 ---------------------------------------------------------------------------------

    def _statuses(self, statuses: tuple[Pain002Status, ...]) -> list[tuple[Pain002Status, str | None]]:
        """Each status with the payment it is about: a transaction's end-to-end id; a payment-info
        status without transaction statuses, its PmtInfId (our payment id); a group status without
        either, the whole message (`_WHOLE_MESSAGE`). None: a summary of the statuses listed with it."""
        with_tx = {
            (s.original_message_id, s.original_payment_info_id) for s in statuses if s.level == TRANSACTION
        }
        detailed = {s.original_message_id for s in statuses if s.level != GROUP}
        chosen: list[tuple[Pain002Status, str | None]] = []
        for status in statuses:
            if status.level == TRANSACTION:
                chosen.append((status, status.end_to_end_id))
            elif status.level == PAYMENT_INFO:
                if (status.original_message_id, status.original_payment_info_id) not in with_tx:
                    chosen.append((status, status.original_payment_info_id))
                else:
                    chosen.append((status, None))
            else:
                chosen.append((status, None if status.original_message_id in detailed else _WHOLE_MESSAGE))
        return chosen

    def _status(
        self, bank: str, file_key: str, status: Pain002Status, about: str | None, outcome: BankFileOutcome
    ) -> None:
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
                "original_payment_info_id": status.original_payment_info_id,
                "reason_code": status.reason_code,
            },
            file_key=file_key,
            line=status.line,
        )
        matched = self._status_match(record, status, about, now)
        self._report(
            outcome,
            record,
            matched,
            status.path,
            status.status,
            status.end_to_end_id or status.original_message_id,
        )

    def _status_match(
        self, record: BankEntry, status: Pain002Status, about: str | None, now: datetime
    ) -> dict[str, Any]:
        if about is None:  # a summary of the statuses listed with it: nothing of its own to apply
            return {"type": PAYMENT_STATUS, "level": status.level, "status": status.status}
        if about == _WHOLE_MESSAGE:
            if PAIN_002_STATUSES.get(status.status) is PaymentStatus.PENDING:
                return {"type": PAYMENT_STATUS, "level": status.level, "status": status.status}
            return self._unmatched(
                record,
                "MESSAGE_STATUS_NEEDS_REVIEW",
                f"status {status.status} of message {status.original_message_id} as a whole, "
                "which lists none of its payments",
                now,
            )
        payment_id = about.strip()
        if not OUR_PAYMENT_ID.fullmatch(payment_id):
            return self._unmatched(record, "NO_REFERENCE", "no payment id of ours in the status", now)
        report_status = PAIN_002_STATUSES.get(status.status)
        if report_status is None:
            return self._unmatched(
                record,
                "STATUS_NEEDS_REVIEW",
                f"status {status.status} of {payment_id} is not a payment's answer (applied per transaction)",
                now,
                extra={"payment_id": payment_id},
            )
        first = self.store.recorded_match(record.entry_id)
        if first is not None:
            return {**first, "already_recorded": True}
        settled = report_status is PaymentStatus.SETTLED
        report = PaymentReport(
            payment_id=payment_id,
            bank_code=record.bank,
            status=report_status,
            source=PAIN_002,
            value_date=(status.settled_on or status.created_on) if settled else None,
            reason=status.reason_code if report_status is PaymentStatus.REJECTED else None,
            reference=record.file_key,
        )
        return self._answer(record, report, now)

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
        recorded = self._record(record, now, event=unmatched_event(record))
        if not recorded.get("already_recorded"):
            self.metrics.put(UNMATCHED_ITEMS, 1, code=code)
        return recorded

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


def _sender(tx: Transaction | None, entry: Entry) -> dict[str, str] | None:
    """Who paid a credit, as the bank named them (kept for a RETURN; never logged in full): the
    transaction's debtor, or the only transaction's of an entry that is not a batch."""
    if tx is None and len(entry.transactions) == 1:
        tx = entry.transactions[0]
    if tx is None or not tx.counterparty_account:
        return None
    return {
        "account": tx.counterparty_account,
        **({"bic": tx.counterparty_bic} if tx.counterparty_bic else {}),
    }
