"""Platform CSV parsing, validation and format detection (contract section 6)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.adapters.files.detect import detect
from scf.adapters.files.platform_csv import read_rows
from scf.domain.files import DocumentRecord, SupplierRecord, validate_document, validate_supplier

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)
DOC_HEADER = "supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
SUP_HEADER = "supplier_id,name,status,bank_code,account_number,account_name,account_verified\n"


def lines(text: str) -> list[str]:
    return io.StringIO(text, newline="").readlines()


@pytest.mark.parametrize(
    ("head", "fmt", "usable"),
    [
        (DOC_HEADER.encode(), "documents", True),
        (b"\xef\xbb\xbf" + DOC_HEADER.encode(), "documents", True),
        (b"reference,Extra,AMOUNT,currency,status,due_date,document_date,document_type,document_id,supplier_id\r\n",
         "documents", True),
        (SUP_HEADER.encode(), "suppliers", True),
        (b"supplier_id,document_id,amount\n", "documents", False),
        (b"supplier_id,name,account_number\n", "suppliers", False),
        (b"<?xml version='1.0'?><Document/>", None, False),
        (b":20:STATEMENT\n:25:123\n", None, False),
        (b"", None, False),
        (b"\xff\xfe\x00garbage", None, False),
    ],
)  # fmt: skip
def test_detection_from_content(head, fmt, usable):
    found = detect(head)
    assert found.format == fmt
    assert found.usable is usable
    if not usable:
        assert found.problem


def test_missing_columns_are_named():
    found = detect(b"supplier_id,document_id,document_type,amount\n")
    assert "document_date" in (found.problem or "") and "reference" in (found.problem or "")


def test_columns_in_any_order_extra_ignored_and_lines_counted_from_the_header():
    text = (
        "Extra,reference,amount,currency,status,due_date,document_date,document_type,document_id,supplier_id\n"
        'x,"PO-1;PO-2",1250.50,CNY,CONFIRMED,,2026-11-01,GOODS_RECEIPT,GR-1,S-1\n'
        "\n"
        'x,,"10.00",CNY,CONFIRMED,,2026-11-01,SALE,"SL\n1",S-1\n'
        "x,,5.00,CNY,CONFIRMED,,2026-11-01,SALE,SL-2,S-1\n"
    )
    rows = list(read_rows(lines(text)))
    assert [r.line for r in rows] == [2, 4, 6]
    first = validate_document(rows[0], TODAY)
    assert isinstance(first, DocumentRecord)
    assert first.document.references == ("PO-1", "PO-2")
    assert first.document.amount_minor == 125_050
    assert "extra" not in rows[0].values or rows[0].values["extra"] == "x"
    bad = validate_document(rows[1], TODAY)
    assert isinstance(bad, list) and bad[0].field == "document_id" and bad[0].line == 4


@pytest.mark.parametrize(
    ("row", "field", "code"),
    [
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,,1250.5,CNY,CONFIRMED,", "amount", "INVALID_AMOUNT"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,,0.00,CNY,CONFIRMED,", "amount", "INVALID_AMOUNT"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,,-5.00,CNY,CONFIRMED,", "amount", "INVALID_AMOUNT"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,,5.00,JPY,CONFIRMED,", "currency", "INVALID_CURRENCY"),
        ("S-1,D-1,GOODS_RECIEPT,2026-11-01,,5.00,CNY,CONFIRMED,", "document_type", "INVALID_VALUE"),
        ("S-1,D-1,GOODS_RECEIPT,2026-02-30,,5.00,CNY,CONFIRMED,", "document_date", "INVALID_DATE"),
        ("S-1,D-1,GOODS_RECEIPT,20261101,,5.00,CNY,CONFIRMED,", "document_date", "INVALID_DATE"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-29,,5.00,CNY,CONFIRMED,", "document_date", "FUTURE_DATE"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,tomorrow,5.00,CNY,CONFIRMED,", "due_date", "INVALID_DATE"),
        ("S-1,D-1,GOODS_RECEIPT,2026-11-01,,5.00,CNY,OPEN,", "status", "INVALID_VALUE"),
        (",D-1,GOODS_RECEIPT,2026-11-01,,5.00,CNY,CONFIRMED,", "supplier_id", "REQUIRED"),
        ("S#1,D-1,GOODS_RECEIPT,2026-11-01,,5.00,CNY,CONFIRMED,", "supplier_id", "INVALID_ID"),
        ("S-1,D-1,GOODS_RECEIPT", "document_date", "REQUIRED"),
        ("S-1,D-\ufffd,GOODS_RECEIPT,2026-11-01,,5.00,CNY,CONFIRMED,", "document_id", "INVALID_ENCODING"),
    ],
)
def test_document_row_errors_name_line_field_and_code(row, field, code):
    (raw,) = read_rows(lines(DOC_HEADER + row + "\n"))
    errors = validate_document(raw, TODAY)
    assert isinstance(errors, list)
    assert (field, code) in [(e.field, e.code) for e in errors]
    assert all(e.line == 2 and e.message for e in errors)


def test_supplier_rows():
    text = SUP_HEADER + "S-1,Acme,ACTIVE,ICBC,6222,Acme Ltd,TRUE\nS-2,Bcme,CLOSED,ICBC,1,B,yes\n"
    good, bad = (validate_supplier(r) for r in read_rows(lines(text)))
    assert isinstance(good, SupplierRecord) and good.account_verified is True
    assert isinstance(bad, list)
    assert {(e.field, e.code) for e in bad} == {
        ("status", "INVALID_VALUE"),
        ("account_verified", "INVALID_VALUE"),
    }


def test_content_hash_identifies_content():
    (a,) = read_rows(lines(DOC_HEADER + "S-1,D-1,INVOICE,2026-11-01,,5.00,CNY,CONFIRMED,GR-1\n"))
    (b,) = read_rows(lines(DOC_HEADER + "S-1,D-1,INVOICE,2026-11-01,,5.00,CNY,DISPUTED,GR-1\n"))
    first, second = validate_document(a, TODAY), validate_document(a, TODAY)
    other = validate_document(b, TODAY)
    assert isinstance(first, DocumentRecord) and isinstance(second, DocumentRecord)
    assert isinstance(other, DocumentRecord)
    assert first.content_hash == second.content_hash != other.content_hash


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parsing_arbitrary_text_never_crashes(text):
    detect(text.encode("utf-8", "replace"))
    for raw in read_rows(lines(DOC_HEADER + text)):
        result = validate_document(raw, TODAY)
        assert isinstance(result, (DocumentRecord, list))
        if isinstance(result, list):
            assert result and all(e.line >= 2 for e in result)
