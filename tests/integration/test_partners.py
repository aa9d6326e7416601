"""Who may drop what (contract section 6): `platform/` only platform CSVs, a bank's prefix only that
bank's statements about accounts it holds; anything else is REJECTED with a report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scf.adapters.dynamodb.models import BankEntryItem, FileItem
from tests.integration.statement_world import (
    BANK,
    BUCKET,
    LENDER_ACCOUNT,
    IngestWorld,
    camt054,
    camt_entry,
    ingest_world,
    mt940,
)
from tests.support import EVENTS

pytestmark = pytest.mark.integration

OTHER_BANK = "OTHERBANK"
OTHER_ACCOUNT = "DE89370400440532013000"
SUPPLIERS = (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
ENTRY = camt_entry("10.00", "CRDT", reference="P-1", remittance="hello")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch, {BANK: [LENDER_ACCOUNT], OTHER_BANK: [OTHER_ACCOUNT]})


def assert_rejected(world: IngestWorld, key: str, reason: str) -> dict:
    report = world.report(key)
    assert report["status"] == "REJECTED", report
    assert reason in report["reason"], report["reason"]
    assert report["matches"] == [] and report["sweeps"] == []
    assert FileItem.get(*FileItem.key(report["sha256"])).status == "REJECTED"
    return report


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("platform/statement.xml", camt054([ENTRY]), "may not send camt.054"),
        (f"{BANK}/suppliers.csv", SUPPLIERS, "may not send suppliers"),
        ("UNKNOWNBANK/statement.xml", camt054([ENTRY], message_id="U"), "may not send camt.054"),
        ("loose.xml", camt054([ENTRY], message_id="L"), "may not send"),
    ],
)
def test_a_sender_may_only_drop_its_own_kind_of_file(
    world: IngestWorld, key: str, data: bytes, reason: str
) -> None:
    assert world.drop(key, data) == {"batchItemFailures": []}
    report = assert_rejected(world, key, reason)
    assert report["errors"][0]["code"] == "FILE_REJECTED"
    assert list(BankEntryItem.scan(BankEntryItem.entry_id.exists())) == []


def test_a_statement_about_an_account_the_bank_does_not_hold_is_rejected(world: IngestWorld) -> None:
    # OTHER_ACCOUNT is the lender's account at OTHERBANK, not at TESTBANK.
    key = f"{BANK}/foreign.xml"
    world.drop(key, camt054([ENTRY], account=OTHER_ACCOUNT))
    report = assert_rejected(world, key, "holds")
    (error,) = report["errors"]
    assert (error["code"], error["line"]) == ("ACCOUNT_NOT_HELD", 5)  # the <Ntfctn> start tag
    assert OTHER_ACCOUNT in error["message"]
    assert list(BankEntryItem.scan(BankEntryItem.entry_id.exists())) == []
    # The same statement from the bank that holds the account is processed.
    world.drop(f"{OTHER_BANK}/mine.xml", camt054([ENTRY], account=OTHER_ACCOUNT, message_id="OWN"))
    assert world.report(f"{OTHER_BANK}/mine.xml")["status"] == "PROCESSED"


def test_only_the_foreign_statement_of_a_file_is_rejected(world: IngestWorld) -> None:
    line = [":61:2601110111C5,00NTRFNONREF//R-1", ":86:nothing of ours"]
    data = mt940(line) + mt940(line, account=OTHER_ACCOUNT, statement="STMT-X")
    key = f"{BANK}/mixed.sta"
    world.drop(key, data)
    report = world.report(key)
    assert report["status"] == "PROCESSED"
    assert [e["code"] for e in report["errors"]] == ["ACCOUNT_NOT_HELD"]
    assert (report["rows_accepted"], report["rows_rejected"]) == (1, 1)
    assert [m["amount"] for m in report["matches"]] == ["5.00"]


def test_reports_are_never_ingested_and_get_no_report(world: IngestWorld) -> None:
    key = "reports/TESTBANK/x.xml.report.json"
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    assert world.deliver(key) == {"batchItemFailures": []}
    keys = [o["Key"] for o in world.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == [key]
    assert list(FileItem.scan(FileItem.sha256.exists())) == []
