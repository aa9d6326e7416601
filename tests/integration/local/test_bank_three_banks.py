"""The simulated bank plays SIMBANK, FILEBANK and RESTBANK (issue 9 point 4): signed REST requests,
file orders read from the outbound bucket and answered in the inbox (pain.002, camt.054), one
journal for all, and a camt.053 per bank and account when the business date moves on. Against
moto's S3 server; every wait is bounded, fault randomness seeded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import xmlschema

from infra.local.bank import Bank, BankServer, Faults
from infra.local.bank_exchange import FileExchange, S3Settings
from infra.local.state import write_clock
from scf.adapters.banks import iso20022, signing
from scf.adapters.banks.rest_signed import RestSignedBankGateway
from scf.adapters.files.readers import FormatParsers
from scf.adapters.secrets import StaticSecrets
from scf.clock import FileClock
from scf.domain.bank_files import CREDIT, DEBIT, ParseResult
from scf.service.payments import Account, Direction, PaymentOrder, PaymentStatus

XSD = Path(__file__).parents[2] / "fixtures" / "bank-answers-xsd"
TODAY = date(2026, 3, 2)
KEY_ID, SECRET = "restbank-key-1", "s3cr3t-value"
OUTBOUND, INBOX = "scf-outbound", "scf-inbox"
BANKS = {
    "default_bank": "SIMBANK",
    "banks": {
        "SIMBANK": {
            "adapter": "simulated",
            "url": "local:simulated-bank",
            "accounts": [{"account_number": "LENDER-S", "name": "Lender"}],
        },
        "FILEBANK": {
            "adapter": "iso20022-file",
            "accounts": [{"account_number": "LENDER-F", "name": "Lender"}],
            "pain001": "pain.001.001.03",
        },
        "RESTBANK": {
            "adapter": "rest-signed",
            "url": "local:simulated-bank",
            "accounts": [{"account_number": "LENDER-R", "name": "Lender"}],
            "key_id": KEY_ID,
            "secret": "arn:aws:secretsmanager:us-east-1:000000000000:secret:restbank",
        },
    },
}
LENDER_F = Account("FILEBANK", "LENDER-F", "Lender Co")
SUPPLIER_F = Account("FILEBANK", "SUP-F-1", "Supplier One")
WAIT_SECONDS = 10.0


@dataclass
class World:
    server: BankServer
    bank: Bank
    exchange: FileExchange
    s3: Any
    clock_file: Path
    journal: Path

    def inbox_keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=INBOX, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def wait_for(self, prefix: str, count: int, seconds: float = WAIT_SECONDS) -> list[str]:
        """The inbox keys under `prefix` once there are `count` of them (bounded wait)."""
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.05) + 1):
            keys = self.inbox_keys(prefix)
            if len(keys) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(keys) >= count, f"{len(keys)} of {count} files under {prefix} after {seconds} s: {keys}"
        return keys

    def read(self, key: str) -> tuple[bytes, ParseResult]:
        data = self.s3.get_object(Bucket=INBOX, Key=key)["Body"].read()
        parsers = FormatParsers()
        detection = parsers.detect(data[: parsers.head_bytes])
        assert detection.format is not None, detection
        result = parsers.bank_file(detection.format, data)
        assert not result.errors, result.errors
        return data, result

    def journal_lines(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines()]


@pytest.fixture
def world(moto_endpoint: str, tmp_path: Path) -> Iterator[World]:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for bucket in (OUTBOUND, INBOX):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    clock_file = tmp_path / "clock"
    write_clock(clock_file, TODAY)
    journal = tmp_path / "journal.jsonl"
    bank = Bank(
        FileClock(str(clock_file)),
        journal,
        Faults(latency_ms=0, seed=11),
        banks=BANKS,
        rest_secrets={KEY_ID: SECRET, "other-key": "other-secret"},
    )
    settings = S3Settings(inbox_bucket=INBOX, outbound_bucket=OUTBOUND, endpoint_url=moto_endpoint)
    exchange = FileExchange(bank, settings, poll_seconds=0.1)
    server = BankServer(bank, exchange=exchange)
    server.start()
    yield World(server, bank, exchange, s3, clock_file, journal)
    server.shutdown()
    server.server_close()


# -- REST: signatures ---------------------------------------------------------------------------


def rest_order(payment_id: str = "PAYREST1", account: str = "SUP-R-1") -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "direction": "PAYOUT",
        "amount": "250.00",
        "currency": "CNY",
        "debtor": {"bank_code": "RESTBANK", "account_number": "LENDER-R", "name": "Lender"},
        "creditor": {"bank_code": "RESTBANK", "account_number": account, "name": "Supplier"},
        "remittance": "L-REST-1",
    }


def signed_post(
    world: World,
    body: bytes,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    at: datetime | None = None,
    path: str = "/RESTBANK/payments",
    signed_body: bytes | None = None,
) -> requests.Response:
    headers = signing.sign(
        "POST",
        path,
        body if signed_body is None else signed_body,
        key_id=key_id,
        secret=secret,
        now=at or datetime.now(UTC),
    )
    headers |= {"Content-Type": "application/json", "Idempotency-Key": "PAYREST1"}
    return requests.post(world.server.url + path, data=body, headers=headers, timeout=5)


def test_a_signed_rest_payment_is_booked_at_restbank(world: World) -> None:
    gateway = RestSignedBankGateway(
        world.server.url_of("RESTBANK"),
        KEY_ID,
        StaticSecrets({KEY_ID: SECRET}),
        bank_code="RESTBANK",
        attempts=1,
        timeout=(1.0, 2.0),
    )
    order = PaymentOrder(
        "PAYREST9",
        Direction.PAYOUT,
        25_000,
        "CNY",
        Account("RESTBANK", "LENDER-R", "Lender"),
        Account("RESTBANK", "SUP-R-9", "Supplier"),
        "L-REST-9",
    )
    result = gateway.pay(order)
    assert (result.status, result.value_date) == (PaymentStatus.SETTLED, TODAY)
    assert gateway.status("PAYREST9") == result  # the signed GET of the encoded path
    assert gateway.status("PAYNOPE").status is PaymentStatus.UNKNOWN
    payments = requests.get(f"{world.server.url}/_admin/payments", timeout=5).json()["payments"]
    assert [(p["bank_code"], p["payment_id"], p["status"]) for p in payments] == [
        ("RESTBANK", "PAYREST9", "SETTLED")
    ]
    not_simbanks = requests.get(f"{world.server.url}/payments/PAYREST9", timeout=5)
    assert not_simbanks.status_code == 404
    assert [line["bank_code"] for line in world.journal_lines()] == ["RESTBANK"]


def test_a_signed_request_at_the_root_is_the_rest_bank_its_key_names(world: World) -> None:
    """The local stage's RESTBANK may have the bank's root as its URL: signed requests there are
    RESTBANK's (by X-Key-Id), unsigned ones SIMBANK's."""
    gateway = RestSignedBankGateway(
        world.server.url, KEY_ID, StaticSecrets({KEY_ID: SECRET}), bank_code="RESTBANK", attempts=1
    )
    order = PaymentOrder(
        "PAYROOT1",
        Direction.PAYOUT,
        1_000,
        "CNY",
        Account("RESTBANK", "LENDER-R", "Lender"),
        Account("RESTBANK", "SUP-R-1", "Supplier"),
        "L-ROOT-1",
    )
    assert gateway.pay(order).status is PaymentStatus.SETTLED
    assert gateway.status("PAYROOT1").status is PaymentStatus.SETTLED
    assert world.bank.get("PAYROOT1", "RESTBANK") is not None and world.bank.get("PAYROOT1") is None
    wrong = signed_post(world, json.dumps(rest_order()).encode(), path="/payments", secret="nope")
    assert (wrong.status_code, wrong.json()["reason"]) == (401, "BAD_SIGNATURE")
    unknown = signed_post(world, json.dumps(rest_order()).encode(), path="/payments", key_id="who")
    assert (unknown.status_code, unknown.json()["reason"]) == (401, "UNKNOWN_KEY_ID")
    assert [line["order"]["payment_id"] for line in world.journal_lines()] == ["PAYROOT1"]


def test_the_stack_can_configure_the_bank_after_it_started(moto_endpoint: str, tmp_path: Path) -> None:
    """The local stack knows BANKS (with the bank's URL in it) and the secrets only after the bank
    has an address: `Bank.configure` and `BankServer.attach` then."""
    clock_file = tmp_path / "clock"
    write_clock(clock_file, TODAY)
    s3 = boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    for bucket in (OUTBOUND, INBOX):
        s3.create_bucket(Bucket=bucket)
    bank = Bank(FileClock(str(clock_file)), faults=Faults(latency_ms=0))
    server = BankServer(bank)
    server.start()
    try:
        bank.configure(BANKS, {KEY_ID: SECRET.encode()})
        settings = S3Settings(inbox_bucket=INBOX, outbound_bucket=OUTBOUND, endpoint_url=moto_endpoint)
        server.attach(FileExchange(bank, settings, poll_seconds=0.1))
        key, data = payment_file("PAYL0010", "pain.001.001.09")
        s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
        deadline = time.monotonic() + WAIT_SECONDS
        while len(s3.list_objects_v2(Bucket=INBOX).get("Contents", [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(s3.list_objects_v2(Bucket=INBOX).get("Contents", [])) == 2
        body = json.dumps(rest_order("PAYREST2")).encode()
        headers = signing.sign("POST", "/payments", body, key_id=KEY_ID, secret=SECRET, now=datetime.now(UTC))
        headers |= {"Idempotency-Key": "PAYREST2"}
        assert (
            requests.post(f"{server.url}/payments", data=body, headers=headers, timeout=5).status_code == 201
        )
        assert sorted((p["bank_code"], p["payment_id"]) for p in bank.snapshot()["payments"]) == [
            ("FILEBANK", "PAYL0010"),
            ("RESTBANK", "PAYREST2"),
        ]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "how, reason",
    [
        ({"secret": "not-the-secret"}, "BAD_SIGNATURE"),
        ({"signed_body": b'{"amount": "1.00"}'}, "BAD_SIGNATURE"),  # the body was changed after signing
        ({"path": "/RESTBANK/payments", "key_id": "nobody"}, "UNKNOWN_KEY_ID"),
        ({"key_id": "other-key", "secret": "other-secret"}, "UNKNOWN_KEY_ID"),  # not RESTBANK's key
        # Clock skews, applied when the test runs (a moment taken at collection goes stale in a long run).
        ({"skew": -301}, "STALE_TIMESTAMP"),
        ({"skew": 400}, "FUTURE_TIMESTAMP"),
    ],
)
def test_a_wrong_or_stale_signature_is_401_and_books_nothing(
    world: World, how: dict[str, Any], reason: str
) -> None:
    if "skew" in how:
        how = {"at": datetime.now(UTC) + timedelta(seconds=how["skew"])}
    response = signed_post(world, json.dumps(rest_order()).encode(), **how)
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED" and response.json()["reason"] == reason
    assert SECRET not in response.text
    assert requests.get(f"{world.server.url}/_admin/payments", timeout=5).json()["payments"] == []
    assert world.journal_lines() == []


def test_unsigned_rest_requests_are_401_and_the_simulated_api_stays_unsigned(world: World) -> None:
    body = rest_order()
    unsigned = requests.post(
        f"{world.server.url}/RESTBANK/payments", json=body, headers={"Idempotency-Key": "PAYREST1"}, timeout=5
    )
    assert (unsigned.status_code, unsigned.json()["reason"]) == (401, "MISSING_HEADER")
    inquiry = requests.get(f"{world.server.url}/RESTBANK/payments/PAYREST1", timeout=5)
    assert inquiry.status_code == 401
    plain = {**body, "debtor": {**body["debtor"], "bank_code": "SIMBANK"}, "payment_id": "PAYSIM1"}
    answer = requests.post(
        f"{world.server.url}/payments", json=plain, headers={"Idempotency-Key": "PAYSIM1"}, timeout=5
    )
    assert answer.status_code == 201
    assert requests.get(f"{world.server.url}/FILEBANK/payments/X", timeout=5).status_code == 404


def test_an_answer_is_one_segment_fast_on_a_kept_alive_connection(world: World) -> None:
    """No Nagle wait (~40 ms a request before): the median of 21 signed inquiries on one
    kept-alive connection is well under it."""
    elapsed = []
    with requests.Session() as session:
        for _ in range(21):
            path = "/RESTBANK/payments/PAYNOPE"
            headers = signing.sign("GET", path, b"", key_id=KEY_ID, secret=SECRET, now=datetime.now(UTC))
            started = time.monotonic()
            assert session.get(world.server.url + path, headers=headers, timeout=5).status_code == 404
            elapsed.append(time.monotonic() - started)
    assert sorted(elapsed)[10] < 0.025


# -- files: pain.001 / pain.008 in, pain.002 and camt.054 out -------------------------------------


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / f"{name}.xsd"))


def payment_file(
    payment_id: str, version: str, amount_minor: int = 123_456, supplier: Account = SUPPLIER_F
) -> tuple[str, bytes]:
    meta = iso20022.MessageMeta(
        iso20022.message_id(payment_id), datetime(2026, 3, 2, 1, 0, tzinfo=UTC), TODAY, "Lender Co"
    )
    if version.startswith("pain.001"):
        order = PaymentOrder(payment_id, Direction.PAYOUT, amount_minor, "CNY", LENDER_F, supplier, "L0001")
        data = iso20022.credit_transfer(order, meta, version=version)
    else:
        order = PaymentOrder(
            payment_id, Direction.COLLECTION, amount_minor, "CNY", supplier, LENDER_F, "L0001"
        )
        mandate = iso20022.Mandate.for_account(supplier, date(2026, 1, 5))
        data = iso20022.direct_debit(order, meta, mandate, version=version)
    return iso20022.outbound_key("FILEBANK", TODAY, meta.message_id), data


ANSWERS = f"FILEBANK/answers/{TODAY.isoformat()}/"


@pytest.mark.parametrize(
    "version, direction",
    [
        ("pain.001.001.03", DEBIT),
        ("pain.001.001.09", DEBIT),
        ("pain.008.001.02", CREDIT),
        ("pain.008.001.08", CREDIT),
    ],
)
def test_a_file_order_is_booked_and_answered_with_pain002_and_camt054(
    world: World, version: str, direction: str
) -> None:
    key, data = payment_file("PAYL0001", version)
    started = time.monotonic()
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    keys = world.wait_for(ANSWERS, 2)
    assert time.monotonic() - started < 5  # "within seconds"

    [report_key] = [k for k in keys if "/pain.002-" in k]
    raw, report = world.read(report_key)
    schema("pain.002.001.11").validate(raw)
    assert report.format == "pain.002"
    [status] = [s for s in report.statuses if s.end_to_end_id]
    assert (status.end_to_end_id, status.status, status.reason_code) == ("PAYL0001", "ACSC", None)
    assert status.original_message_id == iso20022.message_id("PAYL0001")

    [notice_key] = [k for k in keys if "/camt.054-" in k]
    raw, notice = world.read(notice_key)
    schema("camt.054.001.02").validate(raw)
    [record] = notice.statements
    [entry] = record.entries
    assert (record.format, record.account, record.currency) == ("camt.054", "LENDER-F", "CNY")
    assert (entry.amount, entry.amount_minor, entry.direction, entry.status) == (
        Decimal("1234.56"),
        123_456,
        direction,
        "BOOKED",
    )
    assert (entry.booking_date, entry.value_date, entry.end_to_end_ids, entry.remittance) == (
        TODAY,
        TODAY,
        ("PAYL0001",),
        "L0001",
    )
    [line] = world.journal_lines()
    assert (line["bank_code"], line["channel"], line["result"]["status"]) == ("FILEBANK", "file", "SETTLED")
    assert entry.bank_reference == line["result"]["bank_reference"]
    payments = requests.get(f"{world.server.url}/_admin/payments", timeout=5).json()
    assert [(p["bank_code"], p["payment_id"]) for p in payments["payments"]] == [("FILEBANK", "PAYL0001")]
    lender = Decimal(payments["balances"]["FILEBANK:LENDER-F:CNY"])
    assert lender == (Decimal("-1234.56") if direction == DEBIT else Decimal("1234.56"))


@pytest.mark.parametrize("version", ["pain.001.001.09", "pain.008.001.02"])
def test_an_acsc_carries_the_business_date_not_the_wall_clocks_day(world: World, version: str) -> None:
    """The reader settles on the status's own date, else on the report's CreDtTm: a wall-clock
    moment. With the business date elsewhere (the local stack's clock moved), the loan's value date
    was the wall clock's day instead of the day the bank booked (found by tests/e2e/test_banks.py)."""
    assert datetime.now(UTC).date() != TODAY
    key, data = payment_file("PAYL0009", version)
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    [report_key] = [k for k in world.wait_for(ANSWERS, 2) if "/pain.002-" in k]
    raw, report = world.read(report_key)
    schema("pain.002.001.11").validate(raw)
    [status] = [s for s in report.statuses if s.end_to_end_id]
    assert (status.status, status.settled_on) == ("ACSC", TODAY)
    [line] = world.journal_lines()
    assert line["result"]["value_date"] == TODAY.isoformat()


def test_a_rejected_account_is_answered_rjct_ac01_and_books_nothing(world: World) -> None:
    requests.post(f"{world.server.url}/_admin/faults", json={"reject_accounts": ["SUP-F-1"]}, timeout=5)
    key, data = payment_file("PAYL0002", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    [report_key] = world.wait_for(ANSWERS, 1)
    raw, report = world.read(report_key)
    schema("pain.002.001.11").validate(raw)
    [status] = [s for s in report.statuses if s.end_to_end_id]
    assert (status.end_to_end_id, status.status, status.reason_code) == ("PAYL0002", "RJCT", "AC01")
    time.sleep(0.5)  # a few more rounds: still no camt.054
    assert world.inbox_keys(ANSWERS) == [report_key]
    assert requests.get(f"{world.server.url}/_admin/payments", timeout=5).json()["balances"] == {}
    assert [line["result"]["status"] for line in world.journal_lines()] == ["REJECTED"]


def test_the_same_file_twice_books_once_and_is_answered_again(world: World) -> None:
    key, data = payment_file("PAYL0003", "pain.001.001.09")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    world.wait_for(ANSWERS, 2)
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)  # a new version of the same object
    world.s3.put_object(Bucket=OUTBOUND, Key=key.replace(".xml", "-again.xml"), Body=data)
    keys = world.wait_for(ANSWERS, 4)
    time.sleep(0.5)
    keys = world.inbox_keys(ANSWERS)
    reports = [k for k in keys if "/pain.002-" in k]
    notices = [k for k in keys if "/camt.054-" in k]
    assert (len(reports), len(notices)) == (3, 1)
    for report_key in reports:
        statuses = [s for s in world.read(report_key)[1].statuses if s.end_to_end_id]
        assert [(s.end_to_end_id, s.status) for s in statuses] == [("PAYL0003", "ACSC")]
    assert [line["order"]["payment_id"] for line in world.journal_lines()] == ["PAYL0003"]
    assert world.bank.snapshot()["balances"]["FILEBANK:SUP-F-1:CNY"] == "1234.56"


def test_another_order_under_a_used_end_to_end_id_is_rjct_and_books_nothing(world: World) -> None:
    key, data = payment_file("PAYL0004", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    world.wait_for(ANSWERS, 2)
    other_key, other = payment_file("PAYL0004", "pain.001.001.03", amount_minor=999)
    world.s3.put_object(Bucket=OUTBOUND, Key=other_key.replace(".xml", "-b.xml"), Body=other)
    keys = world.wait_for(ANSWERS, 3)
    second = [k for k in keys if "/pain.002-" in k and world.read(k)[1].statuses[0].status != "ACSC"]
    [status] = [s for s in world.read(second[0])[1].statuses if s.end_to_end_id]
    assert (status.status, status.reason_code) == ("RJCT", "AM05")
    assert len(world.journal_lines()) == 1


def test_an_unreadable_file_is_rejected_as_a_group_and_books_nothing(world: World) -> None:
    key, data = payment_file("PAYL0005", "pain.001.001.03")
    broken = data.replace(b"1234.56", b"12.345")  # three decimals: not a CNY amount
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=broken)
    world.s3.put_object(Bucket=OUTBOUND, Key="FILEBANK/2026-03-02/junk.xml", Body=b"<not xml")
    [report_key] = world.wait_for(ANSWERS, 1)
    time.sleep(0.3)
    assert world.inbox_keys(ANSWERS) == [report_key]  # the junk has no MsgId to answer
    [status] = [s for s in world.read(report_key)[1].statuses if s.end_to_end_id]
    assert (status.status, status.reason_code) == ("RJCT", "FF01")
    assert world.journal_lines() == []


def test_a_lost_answer_is_given_again_when_the_file_is_sent_again(world: World) -> None:
    world.bank.set_faults({"timeout_after_apply_rate": 1.0, "seed": 3})
    key, data = payment_file("PAYL0006", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    deadline = time.monotonic() + WAIT_SECONDS
    while not world.journal_lines() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(world.journal_lines()) == 1
    time.sleep(0.3)
    assert world.inbox_keys(ANSWERS) == []  # booked, the answers lost
    world.bank.set_faults({"timeout_after_apply_rate": 0.0})
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    report_key, notice_key = sorted(world.wait_for(ANSWERS, 2), key=lambda k: "camt.054" in k)
    [status] = [s for s in world.read(report_key)[1].statuses if s.end_to_end_id]
    assert status.status == "ACSC" and len(world.journal_lines()) == 1
    [entry] = world.read(notice_key)[1].statements[0].entries  # the notification never sent, now
    assert entry.end_to_end_ids == ("PAYL0006",)


def test_a_dropped_file_is_removed_unbooked_and_the_same_file_written_again_is_answered(
    world: World,
) -> None:
    world.bank.set_faults({"drop_order_rate": 1.0, "seed": 3})
    key, data = payment_file("PAYL0008", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    deadline = time.monotonic() + WAIT_SECONDS
    while world.s3.list_object_versions(Bucket=OUTBOUND, Prefix=key).get("Versions"):
        assert time.monotonic() < deadline, "the dropped file is still in the outbound bucket"
        time.sleep(0.05)
    time.sleep(0.3)
    assert (world.journal_lines(), world.inbox_keys(ANSWERS)) == ([], [])
    world.bank.set_faults({"drop_order_rate": 0.0})
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)  # the same bytes: the gateway's re-send
    report_key, _ = sorted(world.wait_for(ANSWERS, 2), key=lambda k: "camt.054" in k)
    [status] = [s for s in world.read(report_key)[1].statuses if s.end_to_end_id]
    assert status.status == "ACSC" and len(world.journal_lines()) == 1


def test_a_failing_round_is_retried_and_the_thread_lives_on(world: World) -> None:
    world.s3.delete_bucket(Bucket=INBOX)  # empty: the answers have nowhere to go
    key, data = payment_file("PAYL0008", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    deadline = time.monotonic() + WAIT_SECONDS
    while not world.journal_lines() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a few rounds fail: nowhere to put the answers
    world.s3.create_bucket(Bucket=INBOX)
    keys = world.wait_for(ANSWERS, 2)
    assert sorted(k.split("/")[-1].split("-")[0] for k in keys) == ["camt.054", "pain.002"]
    assert len(world.journal_lines()) == 1


def test_without_notifications_the_bank_lists_its_prefix(world: World) -> None:
    world.exchange.stop()
    lister = FileExchange(world.bank, world.exchange.s3, notifications=False)
    key, data = payment_file("PAYL0009", "pain.008.001.08")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    keys = lister.run_once()
    assert sorted(k.split("/")[-1].split("-")[0] for k in keys) == ["camt.054", "pain.002"]
    assert lister.run_once() == []  # each object version is answered once
    assert world.s3.get_bucket_notification_configuration(Bucket=OUTBOUND).get("QueueConfigurations") in (
        None,
        [],
    )  # the stopped exchange took its subscription away


# -- end of day: camt.053 per bank and account ---------------------------------------------------


def signed_rest_payment(world: World, payment_id: str, amount: str) -> None:
    body = json.dumps({**rest_order(payment_id), "amount": amount}).encode()
    headers = signing.sign(
        "POST", "/RESTBANK/payments", body, key_id=KEY_ID, secret=SECRET, now=datetime.now(UTC)
    )
    headers |= {"Content-Type": "application/json", "Idempotency-Key": payment_id}
    response = requests.post(f"{world.server.url}/RESTBANK/payments", data=body, headers=headers, timeout=5)
    assert response.status_code == 201, response.text


def simulated_collection(world: World, payment_id: str, amount: str) -> None:
    body = {
        "payment_id": payment_id,
        "direction": "COLLECTION",
        "amount": amount,
        "currency": "CNY",
        "debtor": {"bank_code": "OTHERBANK", "account_number": "SUP-O-1", "name": "Supplier"},
        "creditor": {"bank_code": "SIMBANK", "account_number": "LENDER-S", "name": "Lender"},
        "remittance": "L-SIM-1",
    }
    response = requests.post(
        f"{world.server.url}/payments", json=body, headers={"Idempotency-Key": payment_id}, timeout=5
    )
    assert response.status_code == 201


def journal_balance(world: World, bank_code: str, account: str, up_to: date) -> Decimal:
    total = Decimal("0.00")
    for line in world.journal_lines():
        order, result = line["order"], line["result"]
        if result["status"] != "SETTLED" or date.fromisoformat(result["value_date"]) > up_to:
            continue
        if (order["creditor"]["bank_code"], order["creditor"]["account_number"]) == (bank_code, account):
            total += Decimal(order["amount"])
        if (order["debtor"]["bank_code"], order["debtor"]["account_number"]) == (bank_code, account):
            total -= Decimal(order["amount"])
    return total


def signed(balance: Any) -> Decimal:
    return balance.amount if balance.direction == CREDIT else -balance.amount


def statements_of(world: World, day: date) -> dict[str, Any]:
    found = {}
    for bank_code in ("SIMBANK", "FILEBANK", "RESTBANK"):
        [key] = world.wait_for(f"{bank_code}/statements/{day.isoformat()}/", 1)
        raw, result = world.read(key)
        schema("camt.053.001.02").validate(raw)
        [record] = result.statements
        found[bank_code] = record
    return found


def test_end_of_day_drops_a_camt053_per_bank_and_account_matching_the_journal(world: World) -> None:
    key, data = payment_file("PAYL0007", "pain.001.001.03")
    world.s3.put_object(Bucket=OUTBOUND, Key=key, Body=data)
    world.wait_for(ANSWERS, 2)
    signed_rest_payment(world, "PAYREST7", "250.00")
    simulated_collection(world, "RPSIM7", "80.50")
    simulated_collection(world, "RPSIM8", "19.50")
    assert world.inbox_keys("SIMBANK/statements/") == []  # nothing before the day ends

    write_clock(world.clock_file, TODAY + timedelta(days=1))
    first = statements_of(world, TODAY)
    expected_entries = {"SIMBANK": ["RPSIM7", "RPSIM8"], "FILEBANK": ["PAYL0007"], "RESTBANK": ["PAYREST7"]}
    accounts = {"SIMBANK": "LENDER-S", "FILEBANK": "LENDER-F", "RESTBANK": "LENDER-R"}
    for bank_code, record in first.items():
        account = accounts[bank_code]
        assert (record.account, record.currency) == (account, "CNY")
        assert [e.end_to_end_ids[0] for e in record.entries] == expected_entries[bank_code]
        assert all(e.booking_date == TODAY for e in record.entries)
        assert signed(record.opening_balance) == Decimal("0.00")
        assert signed(record.closing_balance) == journal_balance(world, bank_code, account, TODAY)
        assert record.closing_balance.date == TODAY
    assert signed(first["SIMBANK"].closing_balance) == Decimal("100.00")
    assert signed(first["FILEBANK"].closing_balance) == Decimal("-1234.56")

    # The next day: one more booking at SIMBANK only; the statements carry the balances on.
    simulated_collection(world, "RPSIM9", "5.00")
    write_clock(world.clock_file, TODAY + timedelta(days=3))  # a jump: the statement of the day it left
    second = statements_of(world, TODAY + timedelta(days=1))
    for bank_code, record in second.items():
        assert signed(record.opening_balance) == signed(first[bank_code].closing_balance)
        closing = journal_balance(world, bank_code, accounts[bank_code], TODAY + timedelta(days=1))
        assert signed(record.closing_balance) == closing
    assert [e.end_to_end_ids[0] for e in second["SIMBANK"].entries] == ["RPSIM9"]
    assert second["FILEBANK"].entries == () and second["RESTBANK"].entries == ()
    assert world.inbox_keys(f"SIMBANK/statements/{(TODAY + timedelta(days=2)).isoformat()}/") == []


def seen_by_the_bank(world: World, day: date) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while world.exchange.business_date != day and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.exchange.business_date == day


def test_the_clock_going_back_drops_no_statement(world: World) -> None:
    write_clock(world.clock_file, TODAY - timedelta(days=1))
    seen_by_the_bank(world, TODAY - timedelta(days=1))
    assert world.inbox_keys("SIMBANK/statements/") == []
    write_clock(world.clock_file, TODAY)
    world.wait_for(f"SIMBANK/statements/{(TODAY - timedelta(days=1)).isoformat()}/", 1)


def test_a_day_too_short_for_the_bank_to_see_still_gets_its_statement(world: World) -> None:
    seen_by_the_bank(world, TODAY)
    world.exchange.stop()  # no round between the two clock moves
    write_clock(world.clock_file, TODAY + timedelta(days=1))
    simulated_collection(world, "RPSHORT", "7.00")  # booked on the day the bank never saw
    write_clock(world.clock_file, TODAY + timedelta(days=2))
    world.exchange.start()
    for day in (TODAY, TODAY + timedelta(days=1)):
        [key] = world.wait_for(f"SIMBANK/statements/{day.isoformat()}/", 1)
        [record] = world.read(key)[1].statements
        assert [e.end_to_end_ids for e in record.entries] == ([("RPSHORT",)] if day > TODAY else [])
    assert signed(record.closing_balance) == Decimal("7.00")
    # Each bank's statement is its own write in the round: wait for FILEBANK's too, not only SIMBANK's.
    assert world.wait_for(f"FILEBANK/statements/{(TODAY + timedelta(days=1)).isoformat()}/", 1)


def test_the_bank_runs_from_its_command_line_flags(tmp_path: Path, moto_endpoint: str) -> None:
    """`python -m infra.local.bank` parses every flag the stack passes (not started: a dry parse)."""
    from infra.local import bank as bank_module

    banks_file = tmp_path / "banks.json"
    banks_file.write_text(json.dumps(BANKS))
    built: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def capture(self: BankServer) -> None:
        built["server"] = self
        raise Stop

    original = BankServer.start
    BankServer.start = capture  # type: ignore[method-assign]
    try:
        with pytest.raises(Stop):
            bank_module.main(
                [
                    "--port", "0",
                    "--clock", f"file:{tmp_path / 'clock'}",
                    "--latency-ms", "0",
                    "--banks", str(banks_file),
                    "--rest-secrets", json.dumps({KEY_ID: SECRET}),
                    "--outbound-bucket", OUTBOUND,
                    "--inbox-bucket", INBOX,
                    "--aws-endpoint-url", moto_endpoint,
                ]
            )  # fmt: skip
    finally:
        BankServer.start = original  # type: ignore[method-assign]
    server = built["server"]
    assert server.bank.adapters == {
        "SIMBANK": "simulated",
        "FILEBANK": "iso20022-file",
        "RESTBANK": "rest-signed",
    }
    assert server.bank.secrets_for("RESTBANK") == {KEY_ID: SECRET}
    assert server.exchange is not None and server.exchange.s3.outbound_bucket == OUTBOUND
    assert server.url_of("RESTBANK") == f"{server.url}/RESTBANK"
    server.server_close()
