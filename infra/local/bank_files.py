"""The simulated file bank's messages (docs/local-stack.md, "The simulated bank plays three banks").

In: the pain.001 credit transfers (`.001.03`, `.001.09`) and pain.008 direct debits (`.001.02`,
`.001.08`) the `iso20022-file` adapter writes to the outbound bucket, parsed with defusedxml (no
DTD, no entities) into the same order dicts the HTTP API takes. Out: a pain.002.001.11 status report
per message, a camt.054.001.02 notification of what was booked, a camt.053.001.02 statement per
account and day. Every message id and statement id is derived from its inputs (no randomness).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
CREDIT_TRANSFERS = ("pain.001.001.03", "pain.001.001.09")
DIRECT_DEBITS = ("pain.008.001.02", "pain.008.001.08")
PAIN_002 = "pain.002.001.11"
CAMT_054 = "camt.054.001.02"
CAMT_053 = "camt.053.001.02"
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
MAX_ID = 35


class UnreadableMessage(ValueError):
    """Not a payment order we can read; `message_id` when the group header still said it."""

    def __init__(self, message: str, message_id: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.name = name


@dataclass(frozen=True)
class Instruction:
    """One transaction of a payment order message: the order (the HTTP API's shape) or why it
    cannot be read (`problem`, answered RJCT with `reason`)."""

    payment_info_id: str
    end_to_end_id: str
    instruction_id: str | None
    order: dict[str, Any] | None
    problem: str | None = None
    reason: str = "FF01"


@dataclass(frozen=True)
class PaymentMessage:
    name: str  # pain.001.001.03, ...
    message_id: str
    created_at: str | None
    instructions: tuple[Instruction, ...]

    @property
    def lender_is_debtor(self) -> bool:
        """A credit transfer is paid from the initiating (lender's) account; a direct debit credits it."""
        return self.name.startswith("pain.001")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip(root: ET.Element) -> str:
    """The namespace of the root; every tag made local, so paths read the same in every version."""
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    for element in root.iter():
        element.tag = _local(element.tag)
    return namespace


def _text(node: ET.Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _account(node: ET.Element | None, tag: str) -> str | None:
    return _text(node, f"{tag}/Id/Othr/Id") or _text(node, f"{tag}/Id/IBAN")


def _agent(node: ET.Element | None, tag: str) -> str | None:
    return (
        _text(node, f"{tag}/FinInstnId/Othr/Id")
        or _text(node, f"{tag}/FinInstnId/BICFI")
        or _text(node, f"{tag}/FinInstnId/BIC")
    )


def parse_payment_message(data: bytes, bank_code: str) -> PaymentMessage:
    """A pain.001 or pain.008 as orders; parties without an agent are at `bank_code`."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise UnreadableMessage(f"larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except Exception as exc:  # defusedxml's refusals and ParseError alike
        raise UnreadableMessage(f"not well-formed XML: {type(exc).__name__}") from None
    namespace = _strip(root)
    name = namespace.removeprefix(NAMESPACE_PREFIX)
    body = root[0] if len(root) else None
    message_id = _text(body, "GrpHdr/MsgId")
    if name not in CREDIT_TRANSFERS + DIRECT_DEBITS or body is None:
        raise UnreadableMessage(f"namespace {namespace!r} is not a pain.001 or pain.008 we read", message_id)
    if message_id is None:
        raise UnreadableMessage("no GrpHdr/MsgId", None, name)
    transfer = name in CREDIT_TRANSFERS
    instructions: list[Instruction] = []
    for info in body.findall("PmtInf"):
        instructions.extend(_instructions(info, transfer, bank_code))
    if not instructions:
        raise UnreadableMessage("no transaction", message_id, name)
    return PaymentMessage(name, message_id, _text(body, "GrpHdr/CreDtTm"), tuple(instructions))


def _instructions(info: ET.Element, transfer: bool, bank_code: str) -> Iterable[Instruction]:
    payment_info_id = _text(info, "PmtInfId") or ""
    own_role, tx_tag = ("Dbtr", "CdtTrfTxInf") if transfer else ("Cdtr", "DrctDbtTxInf")
    other_role = "Cdtr" if transfer else "Dbtr"
    own = {
        "bank_code": _agent(info, f"{own_role}Agt") or bank_code,
        "account_number": _account(info, f"{own_role}Acct"),
        "name": _text(info, f"{own_role}/Nm") or "",
    }
    for tx in info.findall(tx_tag):
        end_to_end_id = _text(tx, "PmtId/EndToEndId") or ""
        instruction_id = _text(tx, "PmtId/InstrId")
        amount_path = "Amt/InstdAmt" if transfer else "InstdAmt"
        amount_node = tx.find(amount_path)
        other = {
            "bank_code": _agent(tx, f"{other_role}Agt") or bank_code,
            "account_number": _account(tx, f"{other_role}Acct"),
            "name": _text(tx, f"{other_role}/Nm") or "",
        }
        amount = _amount(amount_node.text if amount_node is not None else None)
        currency = amount_node.get("Ccy") if amount_node is not None else None
        problem = None
        if not end_to_end_id or len(end_to_end_id) > MAX_ID:
            problem = "EndToEndId is 1 to 35 characters"
        elif amount is None:
            problem = "the amount is not a positive amount with at most two decimals"
        elif not currency or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            problem = "the currency is not an ISO 4217 code"
        elif not own["account_number"] or not other["account_number"]:
            problem = "an account is missing"
        order = None
        if problem is None:
            debtor, creditor = (own, other) if transfer else (other, own)
            order = {
                "payment_id": end_to_end_id,
                "direction": "PAYOUT" if transfer else "COLLECTION",
                "amount": amount,
                "currency": currency,
                "debtor": dict(debtor),
                "creditor": dict(creditor),
                "remittance": _text(tx, "RmtInf/Ustrd"),
            }
        yield Instruction(payment_info_id, end_to_end_id, instruction_id, order, problem)


def _amount(text: str | None) -> str | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return f"{value.quantize(Decimal('0.01')):.2f}"


def derived_id(prefix: str, *parts: object) -> str:
    """`prefix` (a few letters) + 26 base32 characters of SHA-256 over the parts, [A-Z2-7]."""
    digest = hashlib.sha256("\x00".join(str(part) for part in parts).encode()).digest()
    return (prefix + base64.b32encode(digest).decode()[:26])[:MAX_ID]


class _Doc:
    def __init__(self, name: str) -> None:
        self.root = ET.Element("Document", {"xmlns": NAMESPACE_PREFIX + name})

    def sub(self, parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
        element = ET.SubElement(parent, tag, attrib)
        element.text = text
        return element

    def path(self, parent: ET.Element, tags: str, text: str | None = None) -> ET.Element:
        """`A/B/C`: nested new elements, the text on the last."""
        node = parent
        for tag in tags.split("/"):
            node = self.sub(node, tag)
        node.text = text
        return node

    def bytes(self) -> bytes:
        ET.indent(self.root, space="  ")
        text = ET.tostring(self.root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TransactionStatus:
    payment_info_id: str
    end_to_end_id: str
    instruction_id: str | None
    status: str  # ACSC or RJCT
    reason: str | None = None  # AC01, AM05, FF01
    detail: str | None = None
    bank_reference: str | None = None
    accepted_on: date | None = None  # ACSC: the booking's value date, the bank's business date


def status_report(
    message_id: str,
    created_at: datetime,
    original: tuple[str, str],  # (MsgId, message name) of the order message
    statuses: Sequence[TransactionStatus],
    group_reason: str | None = None,
) -> bytes:
    """pain.002.001.11: a group status (ACSC, RJCT or PART) and one status per end-to-end id,
    grouped by the original payment information; with no transactions, the group is rejected. A
    settled transaction carries its value date as `AccptncDtTm` (the day of the bank's business
    date, at `created_at`'s time): the reader's settlement date, which the report's `CreDtTm`, a
    wall-clock moment, is not when the business date is elsewhere."""
    doc = _Doc(PAIN_002)
    body = doc.sub(doc.root, "CstmrPmtStsRpt")
    header = doc.sub(body, "GrpHdr")
    doc.sub(header, "MsgId", message_id)
    doc.sub(header, "CreDtTm", _timestamp(created_at))
    group = doc.sub(body, "OrgnlGrpInfAndSts")
    doc.sub(group, "OrgnlMsgId", original[0])
    doc.sub(group, "OrgnlMsgNmId", original[1])
    doc.sub(group, "OrgnlNbOfTxs", str(len(statuses)))
    codes = {status.status for status in statuses}
    group_status = "RJCT" if not codes else codes.pop() if len(codes) == 1 else "PART"
    doc.sub(group, "GrpSts", group_status)
    if not statuses:
        reason = doc.sub(group, "StsRsnInf")
        doc.path(reason, "Rsn/Cd", group_reason or "FF01")
    by_info: dict[str, list[TransactionStatus]] = {}
    for status in statuses:
        by_info.setdefault(status.payment_info_id, []).append(status)
    for info_id, members in by_info.items():
        info = doc.sub(body, "OrgnlPmtInfAndSts")
        doc.sub(info, "OrgnlPmtInfId", info_id or "NOTPROVIDED")
        for status in members:
            tx = doc.sub(info, "TxInfAndSts")
            if status.instruction_id:
                doc.sub(tx, "OrgnlInstrId", status.instruction_id)
            doc.sub(tx, "OrgnlEndToEndId", status.end_to_end_id or "NOTPROVIDED")
            doc.sub(tx, "TxSts", status.status)
            if status.reason:
                reason = doc.sub(tx, "StsRsnInf")
                doc.path(reason, "Rsn/Cd", status.reason)
                if status.detail:
                    doc.sub(reason, "AddtlInf", status.detail[:105])
            if status.accepted_on is not None:
                moment = datetime.combine(status.accepted_on, created_at.astimezone(UTC).time(), UTC)
                doc.sub(tx, "AccptncDtTm", _timestamp(moment))
            if status.bank_reference:
                doc.sub(tx, "AcctSvcrRef", status.bank_reference)
    return doc.bytes()


@dataclass(frozen=True)
class Booking:
    """One booking on one account, as the account holder sees it."""

    payment_id: str
    amount: Decimal
    currency: str
    credit: bool  # money in (CRDT) or out (DBIT)
    booking_date: date
    bank_reference: str
    remittance: str | None
    counterparty: dict[str, str]
    direct_debit: bool  # a collection (pain.008 / COLLECTION) or a credit transfer


@dataclass(frozen=True)
class AccountReport:
    """What one statement or notification says about one account in one currency."""

    bank_code: str
    account: str
    currency: str
    bookings: tuple[Booking, ...]
    opening: Decimal = Decimal("0.00")
    closing: Decimal = Decimal("0.00")
    day: date | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _account_element(doc: _Doc, parent: ET.Element, report: AccountReport) -> None:
    account = doc.sub(parent, "Acct")
    doc.path(account, "Id/Othr/Id", report.account)
    doc.sub(account, "Ccy", report.currency)
    doc.path(account, "Svcr/FinInstnId/Othr/Id", report.bank_code)


def _entry(doc: _Doc, parent: ET.Element, booking: Booking) -> None:
    entry = doc.sub(parent, "Ntry")
    doc.sub(entry, "Amt", f"{booking.amount:.2f}", Ccy=booking.currency)
    doc.sub(entry, "CdtDbtInd", "CRDT" if booking.credit else "DBIT")
    doc.sub(entry, "Sts", "BOOK")
    doc.path(entry, "BookgDt/Dt", booking.booking_date.isoformat())
    doc.path(entry, "ValDt/Dt", booking.booking_date.isoformat())
    doc.sub(entry, "AcctSvcrRef", booking.bank_reference)
    domain = doc.path(entry, "BkTxCd/Domn")
    doc.sub(domain, "Cd", "PMNT")
    family = doc.sub(domain, "Fmly")
    issued = not booking.credit  # the holder's own orders: a payout debits, a collection credits
    if booking.direct_debit:
        doc.sub(family, "Cd", "IDDT" if booking.credit else "RDDT")
        doc.sub(family, "SubFmlyCd", "ESDD")
    else:
        doc.sub(family, "Cd", "ICDT" if issued else "RCDT")
        doc.sub(family, "SubFmlyCd", "DMCT")
    tx = doc.path(entry, "NtryDtls/TxDtls")
    references = doc.sub(tx, "Refs")
    doc.sub(references, "AcctSvcrRef", booking.bank_reference)
    doc.sub(references, "EndToEndId", booking.payment_id)
    doc.sub(doc.path(tx, "AmtDtls/TxAmt"), "Amt", f"{booking.amount:.2f}", Ccy=booking.currency)
    other = booking.counterparty
    parties = doc.sub(tx, "RltdPties")
    role = "Dbtr" if booking.credit else "Cdtr"
    doc.path(parties, f"{role}/Nm", other.get("name") or "NOTPROVIDED")
    doc.path(parties, f"{role}Acct/Id/Othr/Id", other["account_number"])
    doc.path(tx, f"RltdAgts/{role}Agt/FinInstnId/Othr/Id", other["bank_code"])
    if booking.remittance:
        doc.path(tx, "RmtInf/Ustrd", booking.remittance[:140])


def notification(message_id: str, created_at: datetime, reports: Sequence[AccountReport]) -> bytes:
    """camt.054.001.02: one `Ntfctn` per account and currency, one booked entry per payment."""
    doc = _Doc(CAMT_054)
    body = doc.sub(doc.root, "BkToCstmrDbtCdtNtfctn")
    header = doc.sub(body, "GrpHdr")
    doc.sub(header, "MsgId", message_id)
    doc.sub(header, "CreDtTm", _timestamp(created_at))
    for number, report in enumerate(reports, 1):
        record = doc.sub(body, "Ntfctn")
        doc.sub(record, "Id", derived_id("N", message_id, number))
        doc.sub(record, "CreDtTm", _timestamp(created_at))
        _account_element(doc, record, report)
        for booking in report.bookings:
            _entry(doc, record, booking)
    return doc.bytes()


def _balance(doc: _Doc, parent: ET.Element, code: str, amount: Decimal, currency: str, day: date) -> None:
    balance = doc.sub(parent, "Bal")
    doc.path(balance, "Tp/CdOrPrtry/Cd", code)
    doc.sub(balance, "Amt", f"{abs(amount):.2f}", Ccy=currency)
    doc.sub(balance, "CdtDbtInd", "DBIT" if amount < 0 else "CRDT")
    doc.path(balance, "Dt/Dt", day.isoformat())


def statement(message_id: str, created_at: datetime, report: AccountReport, sequence: int) -> bytes:
    """camt.053.001.02: the day's statement of one account in one currency, opening (OPBD) and
    closing (CLBD) booked balances, every booking of the day."""
    assert report.day is not None
    doc = _Doc(CAMT_053)
    body = doc.sub(doc.root, "BkToCstmrStmt")
    header = doc.sub(body, "GrpHdr")
    doc.sub(header, "MsgId", message_id)
    doc.sub(header, "CreDtTm", _timestamp(created_at))
    record = doc.sub(body, "Stmt")
    doc.sub(record, "Id", derived_id("S", report.bank_code, report.account, report.currency, report.day))
    doc.sub(record, "ElctrncSeqNb", str(sequence))
    doc.sub(record, "CreDtTm", _timestamp(created_at))
    period = doc.sub(record, "FrToDt")
    doc.sub(period, "FrDtTm", f"{report.day.isoformat()}T00:00:00")
    doc.sub(period, "ToDtTm", f"{report.day.isoformat()}T23:59:59")
    _account_element(doc, record, report)
    _balance(doc, record, "OPBD", report.opening, report.currency, report.day)
    _balance(doc, record, "CLBD", report.closing, report.currency, report.day)
    for booking in report.bookings:
        _entry(doc, record, booking)
    return doc.bytes()
