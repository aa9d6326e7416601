"""The money invariants a load run checks once the system is quiet (bench/load.py, issue 12), as
pure functions over what was read back: the table's items (plain values, as a scan deserializes
them), the simulated bank's payments and journal, the inbox's files and reports, the dead-letter
queues. Each answers a `Verdict`: how many things it checked and one line per failure."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scf.domain.ledger import (
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    PENALTY_INCOME,
    Posting,
    UnbalancedPosting,
    balances,
)
from scf.domain.money import parse_amount

PAID_OUT = frozenset({"ACTIVE", "OVERDUE", "REPAID"})
RESERVING = frozenset({"APPROVED", "DISBURSING"})  # the whole principal is reserved
OUTSTANDING = frozenset({"ACTIVE", "OVERDUE"})  # the outstanding principal counts
FINAL_FILE_STATUSES = frozenset({"PROCESSED", "DUPLICATE", "REJECTED"})

Item = Mapping[str, Any]


@dataclass
class Verdict:
    name: str
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self, limit: int = 20) -> str:
        word = "PASS" if self.passed else "FAIL"
        lines = [f"{word}  {self.name}: {self.checked} checked, {len(self.failures)} failing"]
        if not self.passed:
            lines[0] = f"!!!! {lines[0]} !!!!"
        lines += [f"      - {failure}" for failure in self.failures[:limit]]
        if len(self.failures) > limit:
            lines.append(f"      ... and {len(self.failures) - limit} more")
        lines += [f"      note: {note}" for note in self.notes]
        return "\n".join(lines)


def loans_of(items: Iterable[Item]) -> dict[str, Item]:
    return {str(item["loan_id"]): item for item in items if item.get("sk") == "LOAN"}


def ledger_matches_loans(items: Iterable[Item]) -> Verdict:
    """(a) For every loan its postings balance and sum to its stored state (docs/money.md, "Ledger"):
    loans_receivable = outstanding principal once paid out (else 0), -interest_income = interest
    paid, -penalty_income = penalty paid. Postings of no loan fail too."""
    items = list(items)
    verdict = Verdict("(a) ledger balances = loan balances")
    loans = loans_of(items)
    postings: dict[str, list[Posting]] = defaultdict(list)
    for item in items:
        if not str(item.get("pk", "")).startswith("LEDGER#"):
            continue
        loan_id = str(item["pk"]).removeprefix("LEDGER#")
        try:
            entries = item["entries"]  # a JSON attribute: a string as the table holds it
            entries = json.loads(entries) if isinstance(entries, str) else entries
            postings[loan_id].append(Posting.from_json(str(item["posting_id"]), str(item["reason"]), entries))
        except (UnbalancedPosting, KeyError, TypeError, ValueError) as exc:
            verdict.failures.append(
                f"loan {loan_id}: posting {item.get('sk')} is not a balanced posting: {exc}"
            )
    for loan_id in sorted(set(postings) - set(loans)):
        verdict.failures.append(f"postings under LEDGER#{loan_id} but no loan {loan_id}")
    for loan_id, loan in sorted(loans.items()):
        verdict.checked += 1
        ledger = balances(postings.get(loan_id, []))
        status = str(loan["status"])
        wanted = {
            LOANS_RECEIVABLE: int(loan["outstanding_principal_minor"]) if status in PAID_OUT else 0,
            INTEREST_INCOME: -int(loan.get("interest_paid_minor") or 0),
            PENALTY_INCOME: -int(loan.get("penalty_paid_minor") or 0),
        }
        differ = [
            f"{account} ledger {ledger[account]} stored {amount}"
            for account, amount in wanted.items()
            if ledger[account] != amount
        ]
        if sum(ledger.values()) != 0:
            differ.append(f"accounts sum to {sum(ledger.values())}, not 0")
        if differ:
            verdict.failures.append(f"loan {loan_id} ({status}): " + "; ".join(differ))
    return verdict


def reservations_within_limits(items: Iterable[Item], caps: Mapping[str, int] | None = None) -> Verdict:
    """(b) Every supplier's exposure item equals what its loans hold (the whole principal of
    APPROVED/DISBURSING loans, the outstanding principal of ACTIVE/OVERDUE ones; its `open_loans`
    are exactly the ACTIVE/OVERDUE ones) and never exceeds its facility cap (`caps`, minor units,
    by supplier id), nor goes negative."""
    items = list(items)
    verdict = Verdict("(b) no reservation over a supplier's limit")
    held: dict[tuple[str, str], int] = defaultdict(int)
    open_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    overdue: dict[tuple[str, str], int] = defaultdict(int)
    for loan in loans_of(items).values():
        key = (str(loan["supplier_id"]), str(loan["currency"]))
        status = str(loan["status"])
        if status in RESERVING:
            held[key] += int(loan["principal_minor"])
        elif status in OUTSTANDING:
            held[key] += int(loan["outstanding_principal_minor"])
            open_ids[key].add(str(loan["loan_id"]))
            overdue[key] += status == "OVERDUE"
    exposures = {
        (str(item["supplier_id"]), str(item["currency"])): item
        for item in items
        if str(item.get("sk", "")).startswith("EXPOSURE#")
    }
    for key in sorted(set(held) - set(exposures)):
        if held[key]:
            verdict.failures.append(
                f"supplier {key[0]} {key[1]}: loans hold {held[key]} but no exposure item"
            )
    for (supplier_id, currency), item in sorted(exposures.items()):
        verdict.checked += 1
        key = (supplier_id, currency)
        stored = int(item.get("principal_minor") or 0)
        listed = {entry.rsplit("#", 1)[0] for entry in item.get("open_loans") or ()}
        differ = []
        if stored != held[key]:
            differ.append(f"exposure {stored} but its loans hold {held[key]}")
        if stored < 0:
            differ.append(f"exposure {stored} is negative")
        cap = (caps or {}).get(supplier_id)
        if cap is not None and stored > cap:
            differ.append(f"exposure {stored} over the facility cap {cap} by {stored - cap}")
        if listed != open_ids[key]:
            differ.append(f"open_loans {sorted(listed)} but ACTIVE/OVERDUE loans {sorted(open_ids[key])}")
        if int(item.get("overdue_loans") or 0) != overdue[key]:
            differ.append(f"overdue_loans {item.get('overdue_loans')} but {overdue[key]} OVERDUE loans")
        if differ:
            verdict.failures.append(f"supplier {supplier_id} {currency}: " + "; ".join(differ))
    if caps is None:
        verdict.notes.append("no facility caps given: exposure checked against the loans only")
    return verdict


def payments_moved_once(
    bank_payments: Iterable[Item], journal: Iterable[Item] | None, items: Iterable[Item]
) -> Verdict:
    """(c) No payment id moved money twice at the bank (at one bank or across banks, in its
    journal), and the bank agrees with the table: a loan whose payout SETTLED at the bank is paid
    out for that amount, a paid-out loan's payout SETTLED there, a FAILED loan's did not."""
    verdict = Verdict("(c) no payment id moved twice at the bank")
    payments = list(bank_payments)
    settled_at: dict[str, list[Item]] = defaultdict(list)
    for payment in payments:
        if payment.get("status") == "SETTLED":
            settled_at[str(payment["payment_id"])].append(payment)
    for payment_id, found in sorted(settled_at.items()):
        if len(found) > 1:
            banks = ", ".join(str(item.get("bank_code")) for item in found)
            verdict.failures.append(f"payment {payment_id} SETTLED at {len(found)} banks: {banks}")
    if journal is not None:
        booked = Counter(
            str(line["order"]["payment_id"]) for line in journal if line["result"].get("status") == "SETTLED"
        )
        for payment_id, count in sorted(booked.items()):
            if count > 1:
                verdict.failures.append(f"payment {payment_id} booked {count} times in the bank's journal")
    verdict.checked = len(settled_at)
    for loan_id, loan in sorted(loans_of(items).items()):
        payout = loan.get("payment_id")
        status = str(loan["status"])
        moved = settled_at.get(str(payout), []) if payout else []
        if status in PAID_OUT and not moved:
            verdict.failures.append(f"loan {loan_id} is {status} but its payout {payout} never SETTLED")
        if status in ("FAILED", "APPROVED") and moved:
            verdict.failures.append(f"loan {loan_id} is {status} but its payout {payout} SETTLED at the bank")
        for payment in moved:
            amount = parse_amount(str(payment["amount"]))
            if amount != int(loan["principal_minor"]):
                verdict.failures.append(
                    f"loan {loan_id}: payout {payout} moved {amount}, principal {loan['principal_minor']}"
                )
    verdict.notes += unanswered(payments, items)
    return verdict


def unanswered(bank_payments: Iterable[Item], items: Iterable[Item]) -> list[str]:
    """Payments still SENT in the table that the bank has decided: its answer never reached the
    system (not a double move, but a loan or repayment left waiting, and its money held)."""
    at_bank = {(str(p["bank_code"]), str(p["payment_id"])): p for p in bank_payments}
    found = []
    for item in items:
        if str(item.get("pk", "")).startswith("PAYMENT#") and item.get("status") == "SENT":
            decided = at_bank.get((str(item.get("bank_code")), str(item["payment_id"])))
            if decided is not None:
                found.append(
                    f"{item.get('direction')} {item['payment_id']} (loan {item.get('loan_id')}) via "
                    f"{item.get('bank_code')} is SENT in the table but {decided.get('status')} at the bank"
                    + (f" ({decided['reason']})" if decided.get("reason") else "")
                )
    return sorted(found)


def files_reported(
    uploaded: Iterable[str], reports: Mapping[str, Item | None], items: Iterable[Item]
) -> Verdict:
    """(d) Every file dropped into the inbox has a final report (PROCESSED, DUPLICATE or REJECTED),
    and no file item is left PROCESSING. `reports` maps each key to its report (None: none)."""
    verdict = Verdict("(d) every dropped file has a final report")
    for key in sorted(set(uploaded)):
        verdict.checked += 1
        report = reports.get(key)
        if report is None:
            verdict.failures.append(f"{key}: no report")
        elif report.get("status") not in FINAL_FILE_STATUSES:
            verdict.failures.append(f"{key}: report status {report.get('status')!r}")
    for item in items:
        if str(item.get("pk", "")).startswith("FILE#") and item.get("status") not in FINAL_FILE_STATUSES:
            verdict.failures.append(f"file item {item['pk']} ({item.get('key')}) is {item.get('status')}")
    return verdict


def dead_letters(queues: Mapping[str, Iterable[str]]) -> Verdict:
    """(e) Every message in a dead-letter queue, counted and classified (by queue and by what the
    message is about); any one is a finding."""
    verdict = Verdict("(e) dead-letter queues empty (every message accounted for)")
    for queue, bodies in sorted(queues.items()):
        kinds = Counter(classify_message(body) for body in bodies)
        verdict.checked += 1
        for kind, count in sorted(kinds.items()):
            verdict.failures.append(f"{queue}: {count} x {kind}")
    return verdict


def classify_message(body: str) -> str:
    """What a queued message is about: an outbox event's type and id, an S3 notification's key."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return f"unparsable body {body[:60]!r}"
    if not isinstance(message, dict):
        return f"JSON {type(message).__name__}"
    if "Records" in message:
        keys = [
            str(r.get("s3", {}).get("object", {}).get("key"))
            for r in message["Records"]
            if isinstance(r, dict)
        ]
        return "S3 notification " + ", ".join(keys)
    image = message.get("dynamodb", {}).get("NewImage", {})
    if image:
        event = image.get("event_type", {}).get("S") or image.get("pk", {}).get("S")
        return f"outbox {event} {image.get('pk', {}).get('S', '')}"
    for name in ("detail-type", "event_type", "type", "kind"):
        if name in message:
            return f"{message[name]} {json.dumps(message)[:120]}"
    return "message " + json.dumps(message, sort_keys=True)[:120]
