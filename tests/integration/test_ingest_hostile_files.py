"""Hostile files through ingest_settlement end as a REJECTED report (or a report that says from which
line nothing was read), never as an invocation that runs out of memory and leaves the file
PROCESSING (issue 11 point 4; docs/ingestion.md, "Memory")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.statement_world import BANK, IngestWorld, ingest_world

pytestmark = pytest.mark.integration

ELEMENT_BOMB = (
    b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
    b"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>X</MsgId></GrpHdr><Ntfctn><Id>N</Id>"
    b"<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>\n<Ntry>"
    + b"<a/>" * 1_000_000  # the file: 4 MB of empty elements
    + b"</Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
)
HEADER = b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch)


def test_the_camt_element_bomb_is_a_rejected_file_with_the_reason(world: IngestWorld) -> None:
    key = f"{BANK}/bomb.xml"
    world.drop(key, ELEMENT_BOMB)
    report = world.report(key)
    assert (report["status"], report["format"]) == ("REJECTED", "camt.054")
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "FILE_TOO_COMPLEX")]


def test_a_documents_csv_without_line_breaks_is_read_up_to_the_long_line(world: IngestWorld) -> None:
    key = "platform/no-line-breaks.csv"
    world.drop(key, HEADER + b"S-1,D-1," + b"x" * 2_000_000)
    report = world.report(key)
    assert report["status"] == "PROCESSED" and report["rows_accepted"] == 0
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "LINE_TOO_LONG")]
