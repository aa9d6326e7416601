"""The iso20022-file gateway against moto S3: one payment id is one message at
`<bank>/<YYYY-MM-DD>/<MsgId>.xml`, valid against its official XSD, written once and byte-identical
however often or late it is sent; `status` tells a written order (PENDING) from one that never got
to the bucket (UNKNOWN)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import boto3
import pytest
import xmlschema

from scf.adapters.banks.base import PaymentConflict
from scf.adapters.banks.iso20022 import message_id
from scf.adapters.banks.iso20022_file import Iso20022FileGateway
from scf.clock import FixedClock
from scf.service.banks import BankConfig
from scf.service.payments import (
    Account,
    BankUnavailable,
    Direction,
    PaymentOrder,
    PaymentStatus,
    execute,
)
from tests.support import SAMPLES

pytestmark = pytest.mark.integration

BUCKET = "scf-outbound-test"
TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=UTC)
LENDER = Account("FILEBANK", "6222000011112222", "SCF Lending Co., Ltd.")
SUPPLIER = Account("ICBC", "9558800001234567", "Supplier Ltd")
PAYOUT = PaymentOrder("PAYLN0001", Direction.PAYOUT, 10_000_000, "CNY", LENDER, SUPPLIER, "LN0001")
COLLECTION = PaymentOrder(
    "RPABCDEFGHIJKLMNOPQRSTUVWXYZ", Direction.COLLECTION, 50_000, "CNY", SUPPLIER, LENDER, "LN0001"
)


@cache
def schema(version: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SAMPLES / "xsd" / f"{version}.xsd"))


@pytest.fixture
def s3(aws: None) -> Iterator[Any]:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client


def gateway(s3: Any, *, today: date = TODAY, **settings: Any) -> Iso20022FileGateway:
    bank = BankConfig("FILEBANK", "iso20022-file", (LENDER,), settings)
    clock = FixedClock(today, datetime.combine(today, NOW.timetz()))
    return Iso20022FileGateway(bank, bucket=BUCKET, endpoint_url=None, clock=clock, client=s3)


def versions(s3: Any) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    return sorted((v["Key"], v["VersionId"]) for v in listed)


def read(s3: Any, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def test_a_payout_is_a_pain001_at_its_key_and_pending(s3: Any) -> None:
    result = gateway(s3).pay(PAYOUT)

    key = f"FILEBANK/2026-03-02/{message_id('PAYLN0001')}.xml"
    assert (result.status, result.bank_reference) == (PaymentStatus.PENDING, key)
    schema("pain.001.001.03").validate(read(s3, key))


def test_the_message_version_is_the_banks_setting(s3: Any) -> None:
    files = gateway(s3, pain001="pain.001.001.09", pain008="pain.008.001.08")

    payout = files.pay(PAYOUT)
    collection = files.pay(COLLECTION)

    assert payout.bank_reference and collection.bank_reference
    schema("pain.001.001.09").validate(read(s3, payout.bank_reference))
    schema("pain.008.001.08").validate(read(s3, collection.bank_reference))


def test_a_collection_is_a_pain008_under_the_debtors_mandate(s3: Any) -> None:
    result = gateway(s3).pay(COLLECTION)

    assert result.bank_reference is not None
    message = read(s3, result.bank_reference)
    schema("pain.008.001.02").validate(message)
    assert b"<MndtId>SCF-" in message and b"<EndToEndId>RPABCDEFGHIJKLMNOPQRSTUVWXYZ<" in message


def test_a_second_send_writes_nothing_new(s3: Any) -> None:
    files = gateway(s3)
    files.pay(PAYOUT)
    written = versions(s3)

    again = files.pay(PAYOUT)

    assert again.status is PaymentStatus.PENDING
    assert versions(s3) == written
    assert len(written) == 2  # the message and the private marker


def test_a_resend_on_a_later_day_is_the_same_object_and_the_same_bytes(s3: Any) -> None:
    first = gateway(s3).pay(PAYOUT)
    assert first.bank_reference is not None
    original = read(s3, first.bank_reference)
    s3.delete_object(Bucket=BUCKET, Key=first.bank_reference)  # as if it never got there

    later = gateway(s3, today=date(2026, 3, 5)).pay(PAYOUT)

    assert later.bank_reference == first.bank_reference
    assert read(s3, first.bank_reference) == original


def test_the_marker_is_outside_the_banks_prefix_and_names_the_message(s3: Any) -> None:
    result = gateway(s3).pay(PAYOUT)

    marker = json.loads(read(s3, "_sent/FILEBANK/PAYLN0001.json"))
    assert result.bank_reference is not None
    assert marker["key"] == result.bank_reference
    assert marker["created_at"] == "2026-03-02T01:02:03+00:00"
    assert marker["sha256"] == hashlib.sha256(read(s3, result.bank_reference)).hexdigest()


def test_status_is_unknown_before_the_order_was_written_and_pending_after(s3: Any) -> None:
    files = gateway(s3)
    assert files.status("PAYLN0001").status is PaymentStatus.UNKNOWN

    files.pay(PAYOUT)

    assert files.status("PAYLN0001").status is PaymentStatus.PENDING


def test_a_crash_between_marker_and_message_is_sent_by_the_next_attempt(s3: Any) -> None:
    files = gateway(s3)
    crashed = {"once": False}

    def crash_on_the_message(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith(".xml") and not crashed["once"]:
            crashed["once"] = True
            raise ConnectionError("crashed before the message was written")

    s3.meta.events.register("before-parameter-build.s3.PutObject", crash_on_the_message)
    with pytest.raises(ConnectionError):
        files.pay(PAYOUT)
    assert files.status("PAYLN0001").status is PaymentStatus.UNKNOWN

    result = execute(files, PAYOUT, maybe_sent=True)

    assert result.status is PaymentStatus.PENDING and result.bank_reference is not None
    marker = json.loads(read(s3, "_sent/FILEBANK/PAYLN0001.json"))
    assert hashlib.sha256(read(s3, result.bank_reference)).hexdigest() == marker["sha256"]


def test_another_order_under_a_sent_payment_id_is_refused(s3: Any) -> None:
    files = gateway(s3)
    files.pay(PAYOUT)
    written = versions(s3)

    with pytest.raises(PaymentConflict):
        files.pay(PaymentOrder("PAYLN0001", Direction.PAYOUT, 20_000_000, "CNY", LENDER, SUPPLIER, "LN0001"))

    assert versions(s3) == written


def test_a_bucket_that_cannot_be_reached_is_an_unknown_outcome(aws: None) -> None:
    files = gateway(boto3.client("s3"))  # no bucket

    with pytest.raises(BankUnavailable):
        files.pay(PAYOUT)
