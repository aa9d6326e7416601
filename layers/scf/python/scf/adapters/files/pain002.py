"""ISO 20022 pain.002 payment status reports, any .001.NN version (docs/bank-files.md). Each status is
a `Pain002Status` at the level the bank reported it (GROUP, PAYMENT_INFO, TRANSACTION); a transaction
without its own status takes its payment-info's, else the group's. Dates: the report's creation day
(`GrpHdr/CreDtTm`) and, per transaction, the settlement (`FctvIntrBkSttlmDt`) or acceptance
(`AccptncDtTm`) day when the bank gives one; an unreadable date is treated as absent. Read as a
stream: each payment and transaction status is built when its element ends, then forgotten."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from scf.adapters.files.parsing import MAX_ITEMS, rejection
from scf.adapters.files.xml_safety import DEFAULT_CAPS, DEFAULT_MAX_BYTES, XmlNode, stream_xml
from scf.domain.bank_files import (
    GROUP,
    PAIN_002,
    PAYMENT_INFO,
    TRANSACTION,
    FileError,
    Pain002Status,
    ParseResult,
)

PAIN_002_NAMESPACE = re.compile(r"pain\.002\.001\.(\d{2})")
MESSAGE = "CstmrPmtStsRpt"
_STATUS_CODE = re.compile(r"^[A-Z]{4}$")
STREAMED = frozenset({"OrgnlPmtInfAndSts", "TxInfAndSts"})


class _Stop(Exception):
    def __init__(self, result: ParseResult) -> None:
        super().__init__()
        self.result = result


class _Reader:
    """Statuses as the XML streams past: a `TxInfAndSts` becomes a status when it ends, its
    payment's own status is taken at the first of them (PmtInfSts comes before them)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self.errors: list[FileError] = []
        self.statuses: list[Pain002Status] = []
        self.group: _Group | None = None
        self.payment: XmlNode | None = None  # the OrgnlPmtInfAndSts whose status was taken
        self.payment_status: str | None = None

    def on_record(self, node: XmlNode, ancestors: list[XmlNode]) -> None:
        group = self._group(ancestors)
        if len(self.statuses) + len(self.errors) >= self.max_items:
            message = f"more than {self.max_items} statuses and errors in one file: the bank should split it"
            error = FileError(node.line, node.path, "FILE_TOO_COMPLEX", message)
            raise _Stop(ParseResult(format=PAIN_002, errors=(error,)))
        if node.name == "OrgnlPmtInfAndSts" and len(ancestors) == 2:
            if self.payment is not node:
                self._payment(node, group)
            self.payment = None
        elif node.name == "TxInfAndSts" and len(ancestors) == 3 and ancestors[2].name == "OrgnlPmtInfAndSts":
            payment = ancestors[2]
            if self.payment is not payment:
                self._payment(payment, group)
            self._transaction(node, payment, group)

    def _group(self, ancestors: list[XmlNode]) -> _Group:
        if self.group is None:
            root = ancestors[0]
            body = root.children[0] if root.children else ancestors[1]
            found = _start(root, body, self.errors, self.statuses)
            if isinstance(found, ParseResult):
                raise _Stop(found)
            self.group = found
        return self.group

    def _payment(self, payment: XmlNode, group: _Group) -> None:
        self.payment = payment
        self.payment_status = _code(payment, "PmtInfSts", self.errors)
        if self.payment_status is not None:
            payment_info_id = payment.text_at("OrgnlPmtInfId")
            status = group.status_of(payment, PAYMENT_INFO, self.payment_status, payment_info_id)
            self.statuses.append(status)

    def _transaction(self, tx: XmlNode, payment: XmlNode, group: _Group) -> None:
        end_to_end_id = tx.text_at("OrgnlEndToEndId")
        status = _code(tx, "TxSts", self.errors) or self.payment_status or group.status
        if end_to_end_id is None or status is None:
            missing = "OrgnlEndToEndId" if end_to_end_id is None else "TxSts"
            message = f"a transaction status needs {missing}"
            self.errors.append(FileError(tx.line, f"{tx.path}/{missing}", "MISSING_FIELD", message))
            return
        settled_on = _day(
            tx.text_at("FctvIntrBkSttlmDt", "Dt")
            or tx.text_at("FctvIntrBkSttlmDt", "DtTm")
            or tx.text_at("FctvIntrBkSttlmDt")
            or tx.text_at("AccptncDtTm")
        )
        payment_info_id = payment.text_at("OrgnlPmtInfId")
        self.statuses.append(
            group.status_of(
                tx,
                TRANSACTION,
                status,
                payment_info_id,
                end_to_end_id=end_to_end_id,
                original_instruction_id=tx.text_at("OrgnlInstrId"),
                settled_on=settled_on,
            )
        )


@dataclass(frozen=True)
class _Group:
    node: XmlNode
    message_id: str | None
    original_message_id: str
    status: str | None
    created_on: date | None

    def status_of(
        self,
        node: XmlNode,
        level: str,
        status: str,
        payment_info_id: str | None = None,
        *,
        end_to_end_id: str | None = None,
        original_instruction_id: str | None = None,
        settled_on: date | None = None,
    ) -> Pain002Status:
        """The status `node` reports at `level`, with what the report's group says."""
        return Pain002Status(
            line=node.line,
            path=node.path,
            level=level,
            message_id=self.message_id,
            original_message_id=self.original_message_id,
            original_payment_info_id=payment_info_id,
            end_to_end_id=end_to_end_id,
            status=status,
            reason_code=_reason(node),
            group_status=self.status,
            original_instruction_id=original_instruction_id,
            additional_info=_additional_info(node),
            created_on=self.created_on,
            settled_on=settled_on,
        )


def parse_pain002(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_items: int = MAX_ITEMS
) -> ParseResult:
    reader = _Reader(max_items)
    try:
        root = stream_xml(data, replace(DEFAULT_CAPS, max_bytes=max_bytes), STREAMED, reader.on_record)
    except _Stop as stop:
        return stop.result
    if isinstance(root, FileError):
        return ParseResult(format=None, errors=(root,))
    group = reader.group
    if group is None:  # no payment came past: the group alone
        found = _start(root, root.children[0] if root.children else None, reader.errors, reader.statuses)
        if isinstance(found, ParseResult):
            return found
        group = found
    if not reader.statuses and not reader.errors:
        message = "the report carries no group, payment or transaction status"
        reader.errors.append(FileError(group.node.line, group.node.path, "NO_STATUSES", message))
    return ParseResult(format=PAIN_002, statuses=tuple(reader.statuses), errors=tuple(reader.errors))


def _start(
    root: XmlNode, body: XmlNode | None, errors: list[FileError], statuses: list[Pain002Status]
) -> _Group | ParseResult:
    """The report's group (its status added to `statuses`), or the rejection of the document."""
    structure = PAIN_002 if body is not None and body.name == MESSAGE else None
    namespace = root.namespace or (body.namespace if body is not None else None)
    if not namespace:
        return rejection(
            structure,
            root.line,
            root.path,
            "NAMESPACE_MISSING",
            "a payment status report needs the ISO 20022 pain.002 namespace; this document has none",
        )
    if PAIN_002_NAMESPACE.search(namespace) is None:
        return rejection(
            structure, root.line, root.path, "NOT_A_STATUS_REPORT", f"namespace {namespace} is not pain.002"
        )
    if body is None or body.name != MESSAGE:
        found = body.name if body is not None else "nothing"
        return rejection(
            PAIN_002,
            root.line,
            root.path,
            "UNEXPECTED_ELEMENT",
            f"pain.002 must hold {MESSAGE}, found {found}",
        )
    message_id = body.text_at("GrpHdr", "MsgId")
    created_on = _day(body.text_at("GrpHdr", "CreDtTm"))
    group = body.child("OrgnlGrpInfAndSts")
    if group is None or group.text_at("OrgnlMsgId") is None:
        where = group or body
        return rejection(
            PAIN_002,
            where.line,
            f"{where.path}/OrgnlMsgId" if group else f"{body.path}/OrgnlGrpInfAndSts",
            "MISSING_FIELD",
            "the report does not say which message it answers (OrgnlGrpInfAndSts/OrgnlMsgId)",
        )
    original_message_id = group.text_at("OrgnlMsgId") or ""
    group_status = _code(group, "GrpSts", errors)
    report = _Group(group, message_id, original_message_id, group_status, created_on)
    if group_status is not None:
        statuses.append(report.status_of(group, GROUP, group_status))
    return report


def _code(node: XmlNode, name: str, errors: list[FileError]) -> str | None:
    holder = node.child(name)
    if holder is None:
        return None
    code = holder.text_at("Cd") or holder.value  # .10+ may wrap codes; earlier versions hold the code
    if not _STATUS_CODE.match(code):
        errors.append(
            FileError(holder.line, holder.path, "INVALID_VALUE", f"{name} {code!r} is not a status code")
        )
        return None
    return code


def _reason(node: XmlNode) -> str | None:
    for info in node.all("StsRsnInf"):
        code = info.text_at("Rsn", "Cd") or info.text_at("Rsn", "Prtry")
        if code:
            return code
    return None


def _additional_info(node: XmlNode) -> str:
    return " ".join(n.value for info in node.all("StsRsnInf") for n in info.all("AddtlInf") if n.value)


def _day(text: str | None) -> date | None:
    """The calendar day of an ISO date or date-time as written (no time zone conversion)."""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None
