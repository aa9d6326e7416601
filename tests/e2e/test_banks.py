"""Issue 9 end to end: a supplier at each of the local stage's banks (SIMBANK simulated, FILEBANK
iso20022-file, RESTBANK rest-signed) is paid out and repays through its own bank; a rejected
account at the file bank fails the loan and restores the credit line; the end-of-day statements are
ingested as confirmations and change no balance. Only what a supplier and ops use: the HTTP API,
files in the inbox, the bank's admin API and `scf local clock set`; every wait has a deadline."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import requests
from boto3.dynamodb.conditions import Key

from infra.local.cli import main as scf
from infra.local.loop import LocalClient, documents_csv, expect, report_key, supplier_csv, wait_for_loan
from scf.domain.ledger import Posting, balances
from scf.service.payments import payout_payment_id

pytestmark = pytest.mark.e2e

BANKS = ("SIMBANK", "FILEBANK", "RESTBANK")
CHANNELS = {"SIMBANK": "http", "FILEBANK": "file", "RESTBANK": "rest"}
AMOUNT = "60000.00"
WAIT = 30.0

T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], timeout: float = WAIT, interval: float = 0.1) -> T:
    """probe() until it answers something other than None; fails naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(interval)


@dataclass
class Supplier:
    supplier_id: str
    bank_code: str
    token: str

    @property
    def account(self) -> str:
        return f"ACC-{self.supplier_id}"  # infra.local.loop.supplier_csv's account number


class Stack:
    """The running stack as a supplier, ops and the bank's operator see it."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.local = LocalClient(env)
        self.bank = env["bank_url"]
        self.table = _table(env)
        self._reports: dict[str, dict[str, Any]] = {}

    def onboard(self, bank_code: str) -> Supplier:
        """The platform's supplier master gives the supplier its bank and account; a year of
        documents gives it a credit line."""
        supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
        today = self.local.business_date()
        for kind, content in (
            ("suppliers", supplier_csv(supplier_id, bank_code)),
            ("documents", documents_csv(supplier_id, today)),
        ):
            key = f"platform/e2e-banks/{supplier_id}/{kind}.csv"
            self.local.upload(key, content)
            report = self.local.wait_report(key)
            assert (report["status"], report["rows_rejected"]) == ("PROCESSED", 0), report
        return Supplier(supplier_id, bank_code, self.local.token(supplier_id=supplier_id))

    def credit_line(self, supplier: Supplier) -> dict[str, Any]:
        return expect(
            self.local.call("GET", "/v1/credit-line", supplier.token, params={"currency": "CNY"}), 200
        )

    def loan(self, supplier: Supplier, loan_id: str) -> dict[str, Any]:
        return expect(self.local.call("GET", f"/v1/loans/{loan_id}", supplier.token), 200)

    def apply(self, supplier: Supplier, amount: str = AMOUNT) -> dict[str, Any]:
        application = expect(
            self.local.call(
                "POST",
                "/v1/applications",
                supplier.token,
                {"amount": amount, "currency": "CNY", "term_days": 30},
                idempotency_key=str(uuid.uuid4()),
            ),
            200,
            201,
        )
        assert application["status"] == "APPROVED" and application["loan_id"], application
        return application

    def repay(self, supplier: Supplier, loan_id: str, amount: str) -> dict[str, Any]:
        return expect(
            self.local.call(
                "POST",
                f"/v1/loans/{loan_id}/repayments",
                supplier.token,
                {"amount": amount},
                idempotency_key=str(uuid.uuid4()),
            ),
            200,
            201,
            202,
        )

    def repayment(self, supplier: Supplier, repayment_id: str, status: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            found = expect(self.local.call("GET", f"/v1/repayments/{repayment_id}", supplier.token), 200)
            return found if found["status"] == status else None

        return eventually(f"repayment {repayment_id} {status}", probe)

    def bank_payment(self, payment_id: str) -> dict[str, Any]:
        """The simulated bank's record of a payment (it plays all three banks)."""
        books = requests.get(f"{self.bank}/_admin/payments", timeout=5).json()
        found = [payment for payment in books["payments"] if payment["payment_id"] == payment_id]
        assert len(found) == 1, f"{payment_id} at the bank: {found}"
        return dict(found[0])

    def faults(self, **changes: Any) -> None:
        requests.post(f"{self.bank}/_admin/faults", json=changes, timeout=5).raise_for_status()

    def ledger(self, loan_id: str) -> list[Posting]:
        items = self.table.query(KeyConditionExpression=Key("pk").eq(f"LEDGER#{loan_id}"))["Items"]
        return [
            Posting.from_json(str(item["posting_id"]), str(item["reason"]), json.loads(str(item["entries"])))
            for item in items
        ]

    # --- the buckets ---------------------------------------------------------------------------

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.local.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def outbound_message(self, bank_code: str, day: date, payment_id: str) -> tuple[str, str] | None:
        """(key, XML) of the payment order naming `payment_id` in the outbound bucket, if any."""
        bucket = self.env["outbound_bucket"]
        for key in self.keys(bucket, f"{bank_code}/{day.isoformat()}/"):
            body = self.local.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            if f"<EndToEndId>{payment_id}</EndToEndId>" in body:
                return key, body
        return None

    def reports_under(self, prefix: str) -> dict[str, dict[str, Any]]:
        """{file key: report} of the inbox files under `prefix` that have a report."""
        inbox = self.env["inbox_bucket"]
        found = {}
        for key in self.keys(inbox, report_key(prefix).removesuffix(".report.json")):
            if not key.endswith(".report.json"):
                continue
            if key not in self._reports:
                body = self.local.s3.get_object(Bucket=inbox, Key=key)["Body"].read()
                self._reports[key] = json.loads(body)
            found[key.removeprefix("reports/").removesuffix(".report.json")] = self._reports[key]
        return found

    def answer(self, bank_code: str, day: date, kind: str, payment_id: str) -> dict[str, Any]:
        """The report of the bank's answer file of `kind` (pain.002, camt.054) about `payment_id`,
        dropped into the inbox under <bank>/answers/<day>/."""

        def probe() -> dict[str, Any] | None:
            for key, report in self.reports_under(f"{bank_code}/answers/{day.isoformat()}/").items():
                if key.rsplit("/", 1)[-1].startswith(kind) and payment_id in references(report):
                    return report
            return None

        return eventually(f"{kind} about {payment_id} under {bank_code}/answers/", probe)


def _table(env: dict[str, Any]) -> Any:
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(env["table_name"])


def references(report: dict[str, Any]) -> set[str]:
    return {str(match.get("reference")) for match in report.get("matches", [])}


def matched(report: dict[str, Any], payment_id: str) -> dict[str, Any]:
    found = [match["matched"] for match in report["matches"] if match.get("reference") == payment_id]
    assert len(found) == 1, f"{payment_id} in {report['key']}: {report['matches']}"
    return dict(found[0])


def next_business_day(day: date) -> date:
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return following


def snapshot(stack: Stack, supplier: Supplier, loan_id: str) -> dict[str, Any]:
    """What a statement must not change: the loan (all but its as-of date), the supplier's credit
    line and the loan's ledger."""
    loan = stack.loan(supplier, loan_id)
    loan.pop("as_of")
    line = stack.credit_line(supplier)
    postings = stack.ledger(loan_id)
    return {
        "loan": loan,
        # (its available amount moves with the date: documents age out of the policy's windows)
        "credit": {"outstanding": line["outstanding"]},
        "postings": {p.posting_id: p.reason for p in postings},
        "balances": {account: str(amount) for account, amount in balances(postings).items()},
    }


def test_each_bank_pays_out_and_collects_on_us_a_rejection_fails_the_loan_statements_change_nothing(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = Stack(local_stack.env)
    stack.faults(latency_ms=50, reject_accounts=[])
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))

    def clock_set(day: date) -> None:
        assert scf(["local", "clock", "set", day.isoformat()]) == 0
        assert capsys.readouterr().out.strip() == day.isoformat()

    # a business date that is not the wall clock's day, as after any `scf local clock set`: value
    # dates must be the bank's business date, never the day the files were written
    today = next_business_day(stack.local.business_date())
    clock_set(today)
    assert today != datetime.now(UTC).date()
    loans: dict[str, tuple[Supplier, str]] = {}  # bank code (or "REJECTED") -> (supplier, loan id)
    our_payments: dict[str, set[str]] = {code: set() for code in BANKS}

    # 1. a supplier at each bank: paid out and repaid through that bank (on-us)
    for code in BANKS:
        supplier = stack.onboard(code)
        application = stack.apply(supplier)
        loan_id = str(application["loan_id"])
        payout_id = payout_payment_id(loan_id)
        active = wait_for_loan(stack.local, supplier.token, loan_id, "ACTIVE", [], timeout=WAIT)

        payout = stack.bank_payment(payout_id)
        assert (payout["bank_code"], payout["channel"], payout["status"]) == (code, CHANNELS[code], "SETTLED")
        assert (payout["direction"], payout["amount"]) == ("PAYOUT", AMOUNT)
        assert active["value_date"] == payout["value_date"] == today.isoformat()
        assert active["maturity_date"] == (today + timedelta(days=30)).isoformat()
        assert (active["outstanding_principal"], active["payoff"]) == (AMOUNT, AMOUNT)

        repayment = stack.repay(supplier, loan_id, active["payoff"])
        repayment_id = str(repayment["repayment_id"])
        applied = stack.repayment(supplier, repayment_id, "APPLIED")
        repaid = wait_for_loan(stack.local, supplier.token, loan_id, "REPAID", [], timeout=WAIT)
        collection = stack.bank_payment(repayment_id)
        assert (collection["bank_code"], collection["channel"], collection["status"]) == (
            code,
            CHANNELS[code],
            "SETTLED",
        )
        assert (collection["direction"], collection["amount"]) == ("COLLECTION", AMOUNT)
        assert applied["value_date"] == collection["value_date"] == today.isoformat()
        assert applied["allocation"]["principal"] == AMOUNT and applied["source"] == "SUPPLIER"
        assert (repaid["outstanding_principal"], repaid["payoff"]) == ("0.00", "0.00")

        if code == "FILEBANK":
            # the payout a pain.001 and the collection a pain.008 in the outbound bucket, each
            # answered by the bank with a pain.002 ACSC and a camt.054 booking in the inbox
            for payment_id, message in ((payout_id, "pain.001"), (repayment_id, "pain.008")):
                found = stack.outbound_message(code, today, payment_id)
                assert found is not None, f"no {message} for {payment_id} under {code}/{today}/"
                assert f"urn:iso:std:iso:20022:tech:xsd:{message}." in found[1]
                status = stack.answer(code, today, "pain.002", payment_id)
                assert status["status"] == "PROCESSED" and status["format"] == "pain.002", status
                assert matched(status, payment_id)["report"] == "SETTLED"
                booking = stack.answer(code, today, "camt.054", payment_id)
                assert booking["status"] == "PROCESSED" and booking["format"] == "camt.054", booking
                confirmation = matched(booking, payment_id)
                assert (confirmation["type"], confirmation["report"]) == ("PAYMENT", "SETTLED"), confirmation

        loans[code] = (supplier, loan_id)
        our_payments[code] |= {payout_id, repayment_id}

    # 2. an account the file bank rejects: pain.002 RJCT AC01, the loan FAILED, the line restored
    rejected = stack.onboard("FILEBANK")
    available_before = stack.credit_line(rejected)["available"]
    stack.faults(reject_accounts=[rejected.account], latency_ms=1500)  # the answer comes late
    try:
        application = stack.apply(rejected)
        loan_id = str(application["loan_id"])
        reserved = stack.credit_line(rejected)
        assert stack.loan(rejected, loan_id)["status"] in ("APPROVED", "DISBURSING")
        assert Decimal(reserved["available"]) == Decimal(available_before) - Decimal(AMOUNT), reserved

        def failed() -> dict[str, Any] | None:
            loan = stack.loan(rejected, loan_id)
            assert loan["status"] in ("APPROVED", "DISBURSING", "FAILED"), loan
            return loan if loan["status"] == "FAILED" else None

        failed_loan = eventually(f"loan {loan_id} FAILED", failed)
    finally:
        stack.faults(reject_accounts=[], latency_ms=50)
    payout_id = payout_payment_id(loan_id)
    status = stack.answer("FILEBANK", today, "pain.002", payout_id)
    assert status["status"] == "PROCESSED"
    rejection = matched(status, payout_id)
    assert (rejection["report"], rejection["reason_code"]) == ("REJECTED", "AC01"), rejection
    assert stack.bank_payment(payout_id)["status"] == "REJECTED"
    assert (failed_loan["value_date"], failed_loan["outstanding_principal"]) == (None, "0.00")
    line = stack.credit_line(rejected)
    assert line["available"] == available_before and line["outstanding"] == "0.00"
    assert {account: amount for account, amount in balances(stack.ledger(loan_id)).items() if amount} == {}
    loans["REJECTED"] = (rejected, loan_id)

    # 3. end of day: the clock moves one business day on; each bank's camt.053 of today is
    # ingested, every entry a confirmation of one of our payments, and no balance moves
    before = {code: snapshot(stack, supplier, loan_id) for code, (supplier, loan_id) in loans.items()}
    clock_set(next_business_day(today))

    for code in BANKS:

        def statement(code: str = code) -> tuple[str, dict[str, Any]] | None:
            for key, report in stack.reports_under(f"{code}/statements/{today.isoformat()}/").items():
                if our_payments[code] <= references(report):
                    return key, report
            return None

        _key, report = eventually(f"{code}'s camt.053 of {today} with our payments", statement)
        assert (report["status"], report["format"]) == ("PROCESSED", "camt.053"), report
        assert report["rows_rejected"] == 0 and report["errors"] == [], report
        for entry in report["matches"]:
            confirmation = entry["matched"]
            assert confirmation["type"] == "PAYMENT", entry
            assert confirmation["payment_id"] == entry["reference"], entry
            assert (confirmation["report"], confirmation["effect"]) == ("SETTLED", "RECORDED"), entry

    after = {code: snapshot(stack, supplier, loan_id) for code, (supplier, loan_id) in loans.items()}
    changed = {
        (code, part, name): (before[code][part].get(name), after[code][part].get(name))
        for code in loans
        for part in ("loan", "balances", "credit", "postings")
        for name in {*before[code][part], *after[code][part]}
        if before[code][part].get(name) != after[code][part].get(name)
    }
    assert changed == {}, "the statements changed balances: (loan, what): (before, after)"
    assert after == before
