"""The payment orders the `iso20022-file` adapter sends (contract section 7): pure builders of
pain.001 credit transfers (payouts, refunds) and pain.008 direct debits (collections) from a
`PaymentOrder`; docs/bank-files.md, "Payment orders we send", has the mapping and the choices.

Invariant: one payment per message, its payment id the end-to-end id, the same inputs the same
bytes; account numbers never appear in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree as ET

from scf.config import ConfigError
from scf.domain.money import TWO_DECIMAL_CURRENCIES, format_amount
from scf.service.payments import Account, Direction, PaymentOrder

PAIN_001_001_03 = "pain.001.001.03"
PAIN_001_001_09 = "pain.001.001.09"
PAIN_008_001_02 = "pain.008.001.02"
PAIN_008_001_08 = "pain.008.001.08"
PAIN_001_VERSIONS = (PAIN_001_001_03, PAIN_001_001_09)
PAIN_008_VERSIONS = (PAIN_008_001_02, PAIN_008_001_08)
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"

MAX_ID_LENGTH = 35  # Max35Text: MsgId, PmtInfId, InstrId, EndToEndId, MndtId, FinInstnId/Othr/Id
MAX_ACCOUNT_ID_LENGTH = 34  # Max34Text: Acct/Id/Othr/Id
MAX_REMITTANCE_LENGTH = 140  # Max140Text: RmtInf/Ustrd
# Party names (InitgPty, Dbtr, Cdtr: Nm) are Max140Text in all four generic schemas; 70 is the EPC
# (SEPA) subset's limit, which a bank can ask for with the `max_name_length` setting.
MAX_NAME_LENGTH = 140
MAX_AMOUNT_DIGITS = 18  # ActiveOrHistoricCurrencyAndAmount and DecimalNumber: totalDigits 18

# Characters XML 1.0 cannot carry (C0 controls, lone surrogates, U+FFFE/U+FFFF) and the other
# control characters (tab, line breaks, DEL, C1), which have no place in a name.
_UNFIT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PainSettings:
    """A bank's message versions, from its adapter settings: `{"pain001": "pain.001.001.09",
    "pain008": "pain.008.001.02", "max_name_length": 70}` (each optional; defaults .001.03, .001.02
    and the schema's 140)."""

    pain001: str = PAIN_001_001_03
    pain008: str = PAIN_008_001_02
    max_name_length: int = MAX_NAME_LENGTH

    def __post_init__(self) -> None:
        if self.pain001 not in PAIN_001_VERSIONS:
            raise ConfigError(f"pain001 must be one of {', '.join(PAIN_001_VERSIONS)}, not {self.pain001!r}")
        if self.pain008 not in PAIN_008_VERSIONS:
            raise ConfigError(f"pain008 must be one of {', '.join(PAIN_008_VERSIONS)}, not {self.pain008!r}")
        length = self.max_name_length
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_NAME_LENGTH:
            raise ConfigError(f"max_name_length must be an integer from 1 to {MAX_NAME_LENGTH}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PainSettings:
        """Read from a bank's adapter settings (other keys belong to the adapter and are ignored)."""
        return cls(
            pain001=settings.get("pain001", PAIN_001_001_03),
            pain008=settings.get("pain008", PAIN_008_001_02),
            max_name_length=settings.get("max_name_length", MAX_NAME_LENGTH),
        )


@dataclass(frozen=True)
class MessageMeta:
    """What a message carries besides the order. `created_at` (timezone-aware; written in UTC to
    the second) is an input so that a re-sent message is the same bytes: the caller keeps it."""

    message_id: str
    created_at: datetime
    requested_date: date  # ReqdExctnDt (pain.001) or ReqdColltnDt (pain.008)
    initiating_party: str


@dataclass(frozen=True)
class Mandate:
    """The direct debit mandate a collection is made under (pain.008 `MndtRltdInf`)."""

    mandate_id: str
    signed_on: date

    @classmethod
    def for_account(cls, debtor: Account, signed_on: date) -> Mandate:
        return cls(mandate_id(debtor), signed_on)


def message_id(payment_id: str, attempt: int = 1) -> str:
    """The MsgId of a payment's message: `M` + 26 base32 characters of SHA-256 over the payment id
    and the attempt (27 characters, [A-Z2-7], safe in an object key). The same payment and attempt
    always give the same MsgId; a new attempt (a deliberately new message for the same payment)
    gives another."""
    _identifier(payment_id, MAX_ID_LENGTH, "payment id")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError("attempt must be a positive integer")
    digest = hashlib.sha256(f"scf-pain-msg\x00{payment_id}\x00{attempt}".encode()).digest()
    return "M" + base64.b32encode(digest).decode()[:26]


def mandate_id(debtor: Account) -> str:
    """The mandate id we derive for a debtor's account: `SCF-` + 16 base32 characters of SHA-256
    over its bank code and account number (20 characters; the account number cannot be read back).
    One per supplier account, so a supplier who changes account signs a new mandate; computable at
    onboarding, when the mandate is registered with the bank."""
    _identifier(debtor.bank_code, MAX_ID_LENGTH, "bank code")
    _account_number(debtor)
    digest = hashlib.sha256(f"scf-mandate\x00{debtor.bank_code}\x00{debtor.account_number}".encode()).digest()
    return "SCF-" + base64.b32encode(digest).decode()[:16]


def outbound_key(bank_code: str, business_date: date, message_id: str) -> str:
    """`<bank_code>/<YYYY-MM-DD>/<MsgId>.xml`: the outbound bucket key, under the bank's prefix;
    `business_date` is the business date the message was made."""
    for what, value in (("bank code", bank_code), ("message id", message_id)):
        if not isinstance(value, str) or not _KEY_SEGMENT.match(value) or len(value) > MAX_ID_LENGTH:
            raise ValueError(f"{what} {value!r} is not 1 to 35 of [A-Za-z0-9._-] (a key segment)")
    return f"{bank_code}/{_iso_date(business_date, 'business date')}/{message_id}.xml"


def build_message(
    order: PaymentOrder, meta: MessageMeta, settings: PainSettings, mandate: Mandate | None = None
) -> bytes:
    """The message for an order in the bank's versions: a payout or refund is a pain.001, a
    collection a pain.008 (which needs its mandate)."""
    if order.direction is Direction.PAYOUT:
        if mandate is not None:
            raise ValueError("a credit transfer has no mandate")
        return credit_transfer(
            order, meta, version=settings.pain001, max_name_length=settings.max_name_length
        )
    if mandate is None:
        raise ValueError(f"collection {order.payment_id} needs its direct debit mandate")
    return direct_debit(
        order, meta, mandate, version=settings.pain008, max_name_length=settings.max_name_length
    )


def credit_transfer(
    order: PaymentOrder,
    meta: MessageMeta,
    *,
    version: str = PAIN_001_001_03,
    max_name_length: int = MAX_NAME_LENGTH,
) -> bytes:
    """pain.001 (`.001.03` or `.001.09`): the debtor (the lender's account) pays the creditor."""
    if version not in PAIN_001_VERSIONS:
        raise ValueError(f"not a pain.001 version we send: {version!r}")
    if order.direction is not Direction.PAYOUT:
        raise ValueError(f"{order.payment_id} is a {order.direction.value}, not a credit transfer")
    fields = _Fields.of(order, meta, max_name_length)
    doc = _Document(version)
    body = doc.sub(doc.root, "CstmrCdtTrfInitn")
    _group_header(doc, body, fields)
    info = _payment_info_head(doc, body, fields, "TRF")
    executed = doc.sub(info, "ReqdExctnDt")
    if version == PAIN_001_001_03:
        executed.text = fields.requested_date  # ISODate
    else:
        doc.sub(executed, "Dt", fields.requested_date)  # DateAndDateTime2Choice
    _party(doc, info, "Dbtr", fields.debtor_name, fields.debtor_account, fields.debtor_agent)
    tx = doc.sub(info, "CdtTrfTxInf")
    _payment_id(doc, tx, fields)
    doc.sub(doc.sub(tx, "Amt"), "InstdAmt", fields.amount, Ccy=fields.currency)
    _agent(doc, tx, "CdtrAgt", fields.creditor_agent)
    doc.sub(doc.sub(tx, "Cdtr"), "Nm", fields.creditor_name)
    _account(doc, tx, "CdtrAcct", fields.creditor_account)
    doc.sub(doc.sub(tx, "RmtInf"), "Ustrd", fields.remittance)
    return doc.serialize()


def direct_debit(
    order: PaymentOrder,
    meta: MessageMeta,
    mandate: Mandate,
    *,
    version: str = PAIN_008_001_02,
    max_name_length: int = MAX_NAME_LENGTH,
) -> bytes:
    """pain.008 (`.001.02` or `.001.08`): the creditor (the lender's account) collects from the
    debtor under the mandate. No creditor scheme id: optional in the generic schemas."""
    if version not in PAIN_008_VERSIONS:
        raise ValueError(f"not a pain.008 version we send: {version!r}")
    if order.direction is not Direction.COLLECTION:
        raise ValueError(f"{order.payment_id} is a {order.direction.value}, not a direct debit")
    fields = _Fields.of(order, meta, max_name_length)
    _identifier(mandate.mandate_id, MAX_ID_LENGTH, "mandate id")
    doc = _Document(version)
    body = doc.sub(doc.root, "CstmrDrctDbtInitn")
    _group_header(doc, body, fields)
    info = _payment_info_head(doc, body, fields, "DD")
    doc.sub(info, "ReqdColltnDt", fields.requested_date)  # ISODate in both versions
    _party(doc, info, "Cdtr", fields.creditor_name, fields.creditor_account, fields.creditor_agent)
    tx = doc.sub(info, "DrctDbtTxInf")
    _payment_id(doc, tx, fields)
    doc.sub(tx, "InstdAmt", fields.amount, Ccy=fields.currency)
    signed = doc.sub(doc.sub(tx, "DrctDbtTx"), "MndtRltdInf")
    doc.sub(signed, "MndtId", mandate.mandate_id)
    doc.sub(signed, "DtOfSgntr", _iso_date(mandate.signed_on, "mandate signature date"))
    _agent(doc, tx, "DbtrAgt", fields.debtor_agent)
    doc.sub(doc.sub(tx, "Dbtr"), "Nm", fields.debtor_name)
    _account(doc, tx, "DbtrAcct", fields.debtor_account)
    doc.sub(doc.sub(tx, "RmtInf"), "Ustrd", fields.remittance)
    return doc.serialize()


@dataclass(frozen=True)
class _Fields:
    """An order and its metadata, checked and turned into the strings the message carries."""

    message_id: str
    created_at: str
    requested_date: str
    initiating_party: str
    payment_id: str
    amount: str
    currency: str
    remittance: str
    debtor_name: str
    debtor_account: str
    debtor_agent: str
    creditor_name: str
    creditor_account: str
    creditor_agent: str

    @classmethod
    def of(cls, order: PaymentOrder, meta: MessageMeta, max_name_length: int) -> _Fields:
        if meta.created_at.tzinfo is None or meta.created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")
        if order.currency not in TWO_DECIMAL_CURRENCIES:
            raise ValueError(f"{order.currency!r} is not a 2-decimal ISO 4217 currency")
        amount = format_amount(order.amount_minor)
        if len(amount) - 1 > MAX_AMOUNT_DIGITS:
            raise ValueError(f"amount {amount} has more than {MAX_AMOUNT_DIGITS} digits")
        if isinstance(max_name_length, bool) or not 1 <= max_name_length <= MAX_NAME_LENGTH:
            raise ValueError(f"max_name_length must be 1 to {MAX_NAME_LENGTH}")
        length = max_name_length
        return cls(
            message_id=_identifier(meta.message_id, MAX_ID_LENGTH, "message id"),
            created_at=meta.created_at.astimezone(UTC).replace(microsecond=0).isoformat(),
            requested_date=_iso_date(meta.requested_date, "requested date"),
            initiating_party=_name(meta.initiating_party, length, "initiating party name"),
            payment_id=_identifier(order.payment_id, MAX_ID_LENGTH, "payment id"),
            amount=amount,
            currency=order.currency,
            remittance=_identifier(order.remittance, MAX_REMITTANCE_LENGTH, "remittance"),
            debtor_name=_name(order.debtor.name, length, "debtor name"),
            debtor_account=_account_number(order.debtor),
            debtor_agent=_identifier(order.debtor.bank_code, MAX_ID_LENGTH, "debtor bank code"),
            creditor_name=_name(order.creditor.name, length, "creditor name"),
            creditor_account=_account_number(order.creditor),
            creditor_agent=_identifier(order.creditor.bank_code, MAX_ID_LENGTH, "creditor bank code"),
        )


class _Document:
    """Unqualified tags under a default namespace declared on the root (ElementTree's
    `default_namespace` refuses the unqualified `Ccy` attribute); no global namespace registry."""

    def __init__(self, version: str) -> None:
        self.root = ET.Element("Document", {"xmlns": NAMESPACE_PREFIX + version})

    def sub(self, parent: ET.Element, name: str, text: str | None = None, **attrib: str) -> ET.Element:
        element = ET.SubElement(parent, name, attrib)
        element.text = text
        return element

    def serialize(self) -> bytes:
        ET.indent(self.root, space="  ")
        text = ET.tostring(self.root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()


def _group_header(doc: _Document, body: ET.Element, fields: _Fields) -> None:
    header = doc.sub(body, "GrpHdr")
    doc.sub(header, "MsgId", fields.message_id)
    doc.sub(header, "CreDtTm", fields.created_at)
    doc.sub(header, "NbOfTxs", "1")
    doc.sub(header, "CtrlSum", fields.amount)
    doc.sub(doc.sub(header, "InitgPty"), "Nm", fields.initiating_party)


def _payment_info_head(doc: _Document, body: ET.Element, fields: _Fields, method: str) -> ET.Element:
    info = doc.sub(body, "PmtInf")
    doc.sub(info, "PmtInfId", fields.payment_id)
    doc.sub(info, "PmtMtd", method)
    doc.sub(info, "BtchBookg", "false")
    doc.sub(info, "NbOfTxs", "1")
    doc.sub(info, "CtrlSum", fields.amount)
    return info


def _party(doc: _Document, parent: ET.Element, role: str, name: str, account: str, agent: str) -> None:
    """The party of the payment information level, its account and its agent (Dbtr, DbtrAcct,
    DbtrAgt in a pain.001; Cdtr, CdtrAcct, CdtrAgt in a pain.008)."""
    doc.sub(doc.sub(parent, role), "Nm", name)
    _account(doc, parent, f"{role}Acct", account)
    _agent(doc, parent, f"{role}Agt", agent)


def _account(doc: _Document, parent: ET.Element, tag: str, number: str) -> None:
    doc.sub(doc.sub(doc.sub(doc.sub(parent, tag), "Id"), "Othr"), "Id", number)


def _agent(doc: _Document, parent: ET.Element, tag: str, bank_code: str) -> None:
    doc.sub(doc.sub(doc.sub(doc.sub(parent, tag), "FinInstnId"), "Othr"), "Id", bank_code)


def _payment_id(doc: _Document, tx: ET.Element, fields: _Fields) -> None:
    ids = doc.sub(tx, "PmtId")
    doc.sub(ids, "InstrId", fields.payment_id)
    doc.sub(ids, "EndToEndId", fields.payment_id)


def _name(value: str, max_length: int, what: str) -> str:
    """A name as the schema takes it: NFC, control and non-XML characters and whitespace runs made
    one space, trimmed, cut to `max_length` characters (the schema counts characters, not bytes)."""
    text = " ".join(_UNFIT.sub(" ", unicodedata.normalize("NFC", value)).split())
    text = text[:max_length].rstrip()
    if not text:
        raise ValueError(f"{what} has no printable character")
    return text


def _iso_date(value: date, what: str) -> str:
    if isinstance(value, datetime) or not isinstance(value, date):  # a datetime is a date too
        raise ValueError(f"{what} must be a date, not {type(value).__name__}")
    return value.isoformat()


def _identifier(value: str, max_length: int, what: str) -> str:
    """An identifier travels as it is or not at all: the bank answers with it."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise ValueError(f"{what} must be 1 to {max_length} characters")
    if _UNFIT.search(value) or value != value.strip():
        raise ValueError(f"{what} {value!r} has a control character or surrounding whitespace")
    return value


def _account_number(account: Account) -> str:
    number = account.account_number
    if (
        not isinstance(number, str)
        or not 1 <= len(number) <= MAX_ACCOUNT_ID_LENGTH
        or _UNFIT.search(number)
        or number != number.strip()
    ):  # never quoted: an account number stays out of messages and logs
        raise ValueError(
            f"the account number at {account.bank_code!r} of {account.name!r} must be 1 to "
            f"{MAX_ACCOUNT_ID_LENGTH} characters without control characters or surrounding whitespace"
        )
    return number
