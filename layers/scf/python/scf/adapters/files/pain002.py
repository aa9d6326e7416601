"""ISO 20022 pain.002 payment status reports, any .001.NN version (docs/bank-files.md). Each status is
a `Pain002Status` at the level the bank reported it (GROUP, PAYMENT_INFO, TRANSACTION); a transaction
without its own status takes its payment-info's, else the group's. Dates: the report's creation day
(`GrpHdr/CreDtTm`) and, per transaction, the settlement (`FctvIntrBkSttlmDt`) or acceptance
(`AccptncDtTm`) day when the bank gives one; an unreadable date is treated as absent."""

from __future__ import annotations

import re
from datetime import date

from scf.adapters.files.parsing import rejection
from scf.adapters.files.xml_safety import DEFAULT_MAX_BYTES, XmlNode, parse_xml
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


def parse_pain002(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    root = parse_xml(data, max_bytes=max_bytes)
    if isinstance(root, FileError):
        return ParseResult(format=None, errors=(root,))
    body = root.children[0] if root.children else None
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
    return _report(body)


def _report(body: XmlNode) -> ParseResult:
    errors: list[FileError] = []
    statuses: list[Pain002Status] = []
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
    if group_status is not None:
        statuses.append(
            Pain002Status(
                line=group.line,
                path=group.path,
                level=GROUP,
                message_id=message_id,
                original_message_id=original_message_id,
                original_payment_info_id=None,
                end_to_end_id=None,
                status=group_status,
                reason_code=_reason(group),
                group_status=group_status,
                additional_info=_additional_info(group),
                created_on=created_on,
            )
        )
    for payment in body.all("OrgnlPmtInfAndSts"):
        payment_info_id = payment.text_at("OrgnlPmtInfId")
        payment_status = _code(payment, "PmtInfSts", errors)
        if payment_status is not None:
            statuses.append(
                Pain002Status(
                    line=payment.line,
                    path=payment.path,
                    level=PAYMENT_INFO,
                    message_id=message_id,
                    original_message_id=original_message_id,
                    original_payment_info_id=payment_info_id,
                    end_to_end_id=None,
                    status=payment_status,
                    reason_code=_reason(payment),
                    group_status=group_status,
                    additional_info=_additional_info(payment),
                    created_on=created_on,
                )
            )
        for tx in payment.all("TxInfAndSts"):
            end_to_end_id = tx.text_at("OrgnlEndToEndId")
            status = _code(tx, "TxSts", errors) or payment_status or group_status
            if end_to_end_id is None or status is None:
                missing = "OrgnlEndToEndId" if end_to_end_id is None else "TxSts"
                message = f"a transaction status needs {missing}"
                errors.append(FileError(tx.line, f"{tx.path}/{missing}", "MISSING_FIELD", message))
                continue
            statuses.append(
                Pain002Status(
                    line=tx.line,
                    path=tx.path,
                    level=TRANSACTION,
                    message_id=message_id,
                    original_message_id=original_message_id,
                    original_payment_info_id=payment_info_id,
                    end_to_end_id=end_to_end_id,
                    status=status,
                    reason_code=_reason(tx),
                    group_status=group_status,
                    original_instruction_id=tx.text_at("OrgnlInstrId"),
                    additional_info=_additional_info(tx),
                    created_on=created_on,
                    settled_on=_day(
                        tx.text_at("FctvIntrBkSttlmDt", "Dt")
                        or tx.text_at("FctvIntrBkSttlmDt", "DtTm")
                        or tx.text_at("FctvIntrBkSttlmDt")
                        or tx.text_at("AccptncDtTm")
                    ),
                )
            )
    if not statuses and not errors:
        errors.append(
            FileError(
                group.line,
                group.path,
                "NO_STATUSES",
                "the report carries no group, payment or transaction status",
            )
        )
    return ParseResult(format=PAIN_002, statuses=tuple(statuses), errors=tuple(errors))


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
