"""Hostile and oversized bank files are refused with a located error instead of exhausting the
function's memory (issue 11 point 4; docs/bank-files.md, "Caps"). Each test asserts the refusal,
never timing; bench/parser_memory.py measures the memory."""

from __future__ import annotations

import pytest

from scf.adapters.files.camt import parse_camt
from scf.adapters.files.mt940 import parse_mt940
from scf.adapters.files.pain002 import parse_pain002
from scf.adapters.files.platform_csv import read_rows
from scf.adapters.files.xml_safety import XmlCaps, XmlNode, stream_xml
from scf.adapters.s3 import S3ObjectLines
from scf.domain.files import MAX_LINE_BYTES, CsvSyntaxError

from .test_camt import entry_xml, statement_xml

pytestmark = pytest.mark.unit

NOTIFICATION = (
    '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
    "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>X</MsgId></GrpHdr>\n<Ntfctn><Id>N</Id>"
    "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>\n{body}\n"
    "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
)


def notification(body: str) -> bytes:
    return NOTIFICATION.format(body=body).encode()


def test_a_camt_element_bomb_is_refused_as_too_complex() -> None:
    # The file: empty elements by the hundred thousand (the 4 MB one had a million).
    result = parse_camt(notification("<Ntry>" + "<a/>" * 150_000 + "</Ntry>"))
    assert result.statements == ()
    (error,) = result.errors
    assert (error.line, error.code) == (4, "FILE_TOO_COMPLEX")
    assert "100000 elements" in error.message


def test_elements_outside_entries_count_towards_the_held_cap() -> None:
    result = parse_camt(notification("<a/>" * 150_000))
    assert [e.code for e in result.errors] == ["FILE_TOO_COMPLEX"]


def test_entries_are_forgotten_once_read_so_many_small_ones_fit() -> None:
    entries = [entry_xml() for _ in range(8_000)]  # 10 elements each: 80,000 in all
    caps = XmlCaps(max_held_elements=100)
    seen: list[XmlNode] = []
    root = stream_xml(statement_xml(*entries), caps, frozenset({"Ntry"}), lambda node, _: seen.append(node))
    assert isinstance(root, XmlNode) and len(seen) == 8_000
    assert parse_camt(statement_xml(*entries)).errors == ()


@pytest.mark.parametrize(
    ("document", "caps", "message"),
    [
        (b"<r>" + b"<a/>" * 11 + b"</r>", XmlCaps(max_elements=10), "more than 10 elements"),
        (b"<r>" + b"x" * 101 + b"</r>", XmlCaps(max_text_chars=100), "more than 100 characters"),
        (
            b"<r " + b" ".join(b'a%d="1"' % i for i in range(5)) + b"/>",
            XmlCaps(max_attributes=4),
            "attribute",
        ),
    ],
)
def test_xml_caps_refuse_the_file(document: bytes, caps: XmlCaps, message: str) -> None:
    error = stream_xml(document, caps)
    assert not isinstance(error, XmlNode)
    assert error.code == "FILE_TOO_COMPLEX" and message in error.message


def test_long_text_is_read_in_pieces_up_to_the_cap() -> None:
    root = stream_xml(b"<r>" + b"x" * 200_000 + b"</r>", XmlCaps(max_text_chars=200_000))
    assert isinstance(root, XmlNode) and len(root.value) == 200_000


def test_a_camt_with_more_items_than_the_cap_is_refused_at_the_first_one_over() -> None:
    result = parse_camt(statement_xml(*[entry_xml() for _ in range(3)]), max_items=5)
    assert result.statements == () and result.format == "camt.053"
    # Each entry counts with its transaction (2 + 2), the third one's transaction is the 5th item,
    # the third entry the 6th (the statement would count when it ends).
    assert [(e.line, e.field, e.code) for e in result.errors] == [
        (8, "/Document/BkToCstmrStmt/Stmt/Ntry[3]", "FILE_TOO_COMPLEX")
    ]


def test_a_batch_booking_of_20000_payments_is_read_though_its_xml_is_over_the_held_cap() -> None:
    payment = (
        '<TxDtls><Refs><EndToEndId>E{}</EndToEndId></Refs><Amt Ccy="EUR">1.00</Amt>'
        "<RmtInf><Ustrd>x</Ustrd></RmtInf></TxDtls>"
    )
    details = "".join(payment.format(i) for i in range(20_000))  # 120,000 elements
    entry = (
        '<Ntry><Amt Ccy="EUR">20000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<NtryDtls><Btch><NbOfTxs>20000</NbOfTxs></Btch>{details}</NtryDtls></Ntry>"
    )
    result = parse_camt(notification(entry))
    assert result.errors == ()
    (batch,) = result.entries
    assert (batch.batch, batch.batch_size, len(batch.transactions)) == (True, 20_000, 20_000)
    assert batch.transactions[-1].end_to_end_id == "E19999"


def test_empty_entries_by_the_thousand_are_refused_not_reported_one_by_one() -> None:
    result = parse_camt(notification("<Ntry/>" * 2_000), max_items=1_000)
    assert [e.code for e in result.errors] == ["FILE_TOO_COMPLEX"]


def test_a_pain002_with_more_statuses_than_the_cap_is_refused() -> None:
    status = "<TxInfAndSts><OrgnlEndToEndId>E{}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>"
    transactions = "".join(status.format(i) for i in range(5))
    data = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>R</MsgId></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId>{transactions}</OrgnlPmtInfAndSts>"
        "</CstmrPmtStsRpt></Document>"
    ).encode()
    assert len(parse_pain002(data).statuses) == 5
    assert [e.code for e in parse_pain002(data, max_items=3).errors] == ["FILE_TOO_COMPLEX"]


# ---- MT940 ---------------------------------------------------------------------------------------

STATEMENT = ":20:{ref}\n:25:DE89370400440532013000\n:60F:C240102EUR1000,00\n{body}:62F:C240102EUR1000,00\n-\n"


def mt940_statement(ref: str, body: str = "") -> str:
    return STATEMENT.format(ref=ref, body=body)


def test_an_mt940_line_over_the_cap_refuses_its_statement_only() -> None:
    long_details = ":86:" + "x" * 70_000 + "\n"
    entry = ":61:2401020102C0,00NTRFNONREF\n" + long_details
    data = (mt940_statement("A") + mt940_statement("B", entry)).encode()
    result = parse_mt940(data)
    assert [s.statement_id for s in result.statements] == ["A"]
    assert [(e.line, e.code) for e in result.errors] == [(10, "LINE_TOO_LONG")]


def test_an_mt940_without_line_breaks_is_refused_as_too_long() -> None:
    result = parse_mt940(b":20:A\n:25:X\n:86:" + b"x" * (MAX_LINE_BYTES + 1))
    assert result.rejected and [(e.line, e.code) for e in result.errors] == [(3, "LINE_TOO_LONG")]


def test_an_mt940_statement_over_the_line_cap_is_refused_alone() -> None:
    tiny = ":86:" + "x\n" * 50
    data = (mt940_statement("A", ":61:2401020102C0,00NTRFNONREF\n" + tiny) + mt940_statement("B")).encode()
    result = parse_mt940(data, max_statement_lines=20)
    assert [s.statement_id for s in result.statements] == ["B"]
    assert [(e.line, e.field, e.code) for e in result.errors] == [(1, ":20:", "STATEMENT_TOO_LONG")]


def test_an_mt940_with_more_entries_than_the_cap_is_refused() -> None:
    body = ":61:2401020102C1,00NTRFNONREF\n" * 4
    result = parse_mt940(mt940_statement("A", body).encode(), max_items=3)
    assert result.rejected and [(e.line, e.code) for e in result.errors] == [(7, "FILE_TOO_COMPLEX")]


# ---- the platform CSV ----------------------------------------------------------------------------


def test_a_csv_without_line_breaks_is_refused_as_too_long_without_being_held() -> None:
    header = b"supplier_id,document_id,amount\n"

    def chunks() -> object:
        yield header
        for _ in range(100):  # 6.4 MB without a line break, produced as it is read
            yield b"x" * 65_536

    rows = read_rows(S3ObjectLines(iter(chunks())))  # type: ignore[arg-type]
    with pytest.raises(CsvSyntaxError) as refused:
        list(rows)
    assert (refused.value.line, refused.value.code) == (2, "LINE_TOO_LONG")


def test_a_csv_line_just_under_the_cap_is_read() -> None:
    data = b"supplier_id,reference\nS-1," + b"r" * (MAX_LINE_BYTES - 4) + b"\n"
    (row,) = list(read_rows(S3ObjectLines(iter([data]))))
    assert len(row.values["reference"]) == MAX_LINE_BYTES - 4


def test_indentation_between_many_entries_is_not_text_of_the_statement() -> None:
    entries = ["\n      " + entry_xml() for _ in range(20)]  # 140 characters of whitespace in all
    caps = XmlCaps(max_text_chars=100)
    root = stream_xml(statement_xml(*entries), caps, frozenset({"Ntry"}), lambda node, _: None)
    assert isinstance(root, XmlNode)
