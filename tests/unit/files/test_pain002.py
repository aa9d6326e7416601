"""pain.002 payment status reports: group, payment-info and transaction statuses."""

from __future__ import annotations

from datetime import date

import pytest

from scf.adapters.files.pain002 import parse_pain002
from scf.domain.bank_files import GROUP, PAYMENT_INFO, TRANSACTION

from ._samples import read_sample

pytestmark = pytest.mark.unit

NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"


def test_group_accepted_technically() -> None:
    result = parse_pain002(read_sample("pain002/moov_six_pain002_grp_actc.xml"))
    assert result.format == "pain.002" and result.errors == ()
    (status,) = result.statuses
    assert (status.level, status.status, status.group_status) == (GROUP, "ACTC", "ACTC")
    assert (status.message_id, status.original_message_id) == ("20180315375204222821684", "MsgId-001")
    assert status.end_to_end_id is None and status.path == "/Document/CstmrPmtStsRpt/OrgnlGrpInfAndSts"


def test_partially_accepted_payment_with_one_rejected_transaction() -> None:
    result = parse_pain002(read_sample("pain002/moov_six_pain002_part.xml"))
    assert result.errors == ()
    payment, transaction = result.statuses
    assert (payment.level, payment.status, payment.original_payment_info_id) == (
        PAYMENT_INFO,
        "PART",
        "PmtInfId-001-03",
    )
    assert (transaction.level, transaction.end_to_end_id) == (TRANSACTION, "EndToEndId-001-03-04")
    assert (transaction.status, transaction.reason_code, transaction.group_status) == ("RJCT", "AC01", None)
    assert transaction.original_instruction_id == "InstrId-001-03-04"
    assert transaction.additional_info == "1301813;Konto ungültig"
    assert transaction.original_message_id == "MsgId-001"


def test_rejected_payment_info_and_transaction_with_reasons() -> None:
    result = parse_pain002(read_sample("pain002/moov_six_pain002_tx_rjct_ac01.xml"))
    assert result.errors == ()
    assert [(s.level, s.status, s.reason_code, s.end_to_end_id) for s in result.statuses] == [
        (PAYMENT_INFO, "RJCT", "NARR", None),
        (TRANSACTION, "RJCT", "AC01", "EndToEndId-006-01-01"),
    ]
    assert result.statuses[0].original_message_id == "MsgId-006"


def test_report_without_namespace_is_rejected_at_the_root() -> None:
    result = parse_pain002(read_sample("pain002/moov_invalid_pain002_no_ns.xml"))
    assert result.rejected and result.format == "pain.002"
    assert [(e.line, e.field, e.code) for e in result.errors] == [(1, "/Document", "NAMESPACE_MISSING")]


def test_a_statement_is_not_a_status_report() -> None:
    result = parse_pain002(read_sample("camt054/genkgo_v8_uetr.xml"))
    assert result.rejected and [e.code for e in result.errors] == ["NOT_A_STATUS_REPORT"]


def report(body: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<Document xmlns="{NS}">\n<CstmrPmtStsRpt>\n'
        "<GrpHdr><MsgId>R1</MsgId></GrpHdr>\n"
        f"{body}\n</CstmrPmtStsRpt>\n</Document>"
    ).encode()


def test_transaction_without_own_status_takes_the_payment_status() -> None:
    result = parse_pain002(
        report(
            "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><GrpSts>ACSC</GrpSts></OrgnlGrpInfAndSts>\n"
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>\n"
            "<TxInfAndSts><OrgnlEndToEndId>PAY-1</OrgnlEndToEndId></TxInfAndSts>\n"
            "<TxInfAndSts><OrgnlEndToEndId>PAY-2</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
            "<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></TxInfAndSts>\n"
            "<TxInfAndSts><TxSts>ACSC</TxSts></TxInfAndSts>\n"
            "</OrgnlPmtInfAndSts>"
        )
    )
    assert [(s.level, s.end_to_end_id, s.status, s.reason_code, s.line) for s in result.statuses] == [
        (GROUP, None, "ACSC", None, 5),
        (TRANSACTION, "PAY-1", "ACSC", None, 7),
        (TRANSACTION, "PAY-2", "RJCT", "AM04", 8),
    ]
    assert [(e.line, e.field, e.code) for e in result.errors] == [
        (9, "/Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts/TxInfAndSts[3]/OrgnlEndToEndId", "MISSING_FIELD")
    ]


def test_report_without_original_message_id_or_any_status_is_rejected() -> None:
    result = parse_pain002(
        report("<OrgnlGrpInfAndSts><OrgnlMsgNmId>pain.001</OrgnlMsgNmId></OrgnlGrpInfAndSts>")
    )
    assert result.rejected and [(e.line, e.code) for e in result.errors] == [(5, "MISSING_FIELD")]
    result = parse_pain002(report("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId></OrgnlGrpInfAndSts>"))
    assert result.rejected and [(e.line, e.code) for e in result.errors] == [(5, "NO_STATUSES")]
    result = parse_pain002(
        report("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><GrpSts>ok</GrpSts></OrgnlGrpInfAndSts>")
    )
    assert result.rejected and [(e.line, e.code) for e in result.errors] == [(5, "INVALID_VALUE")]


def test_the_reports_creation_day_and_a_transactions_settlement_or_acceptance_day() -> None:
    # The shared sample carries neither date on its transaction (OrgnlTxRef/IntrBkSttlmDt is the
    # original order's requested date, not the bank's answer): only the creation day.
    _, sample = parse_pain002(read_sample("pain002/moov_six_pain002_part.xml")).statuses
    assert (sample.created_on, sample.settled_on) == (date(2018, 3, 15), None)

    def day_of(tx_extra: str) -> tuple[date | None, date | None]:
        data = f"""<Document xmlns="{NS}"><CstmrPmtStsRpt>
<GrpHdr><MsgId>S</MsgId><CreDtTm>2026-01-12T09:00:00+08:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>E</OrgnlEndToEndId>
<TxSts>ACSC</TxSts>{tx_extra}</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"""
        (status,) = parse_pain002(data.encode()).statuses
        return status.created_on, status.settled_on

    assert day_of("") == (date(2026, 1, 12), None)
    assert day_of("<AccptncDtTm>2026-01-11T17:00:00</AccptncDtTm>") == (date(2026, 1, 12), date(2026, 1, 11))
    settled = "<FctvIntrBkSttlmDt><Dt>2026-01-10</Dt></FctvIntrBkSttlmDt>"
    assert day_of(settled + "<AccptncDtTm>2026-01-11T17:00:00</AccptncDtTm>")[1] == date(2026, 1, 10)
    assert day_of("<AccptncDtTm>yesterday</AccptncDtTm>")[1] is None
