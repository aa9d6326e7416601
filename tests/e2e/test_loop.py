"""The walking skeleton end to end: files -> credit line -> application -> payout at the bank ->
repayment, over HTTP and S3 against the running local stack."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Key

from infra.local.loop import LocalClient, run_loop
from scf.domain.ledger import Posting, balances
from scf.service.payments import payout_payment_id

pytestmark = pytest.mark.e2e

MONEY = re.compile(r"^\d+\.\d{2}$")
LIFECYCLE = ["APPROVED", "DISBURSING", "ACTIVE", "REPAID"]


def ledger_of(env: dict[str, Any], loan_id: str) -> list[Posting]:
    """The loan's postings, read from the local stack's table (each Posting checks its own balance)."""
    table = boto3.resource(
        "dynamodb",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(env["table_name"])
    items = table.query(KeyConditionExpression=Key("pk").eq(f"LEDGER#{loan_id}"))["Items"]
    return [
        Posting.from_json(str(item["posting_id"]), str(item["reason"]), json.loads(str(item["entries"])))
        for item in items
    ]


def is_money(value: object) -> bool:
    return isinstance(value, str) and bool(MONEY.match(value))


def test_the_walking_skeleton_loop(local_stack: Any) -> None:
    env = local_stack.env
    bank = env["bank_url"]
    # a slower bank keeps the loan DISBURSING long enough to be seen
    requests.post(f"{bank}/_admin/faults", json={"latency_ms": 1000}, timeout=5).raise_for_status()
    try:
        result = run_loop(env, amount="100000.00", term_days=30)
    finally:
        requests.post(f"{bank}/_admin/faults", json={"latency_ms": 50}, timeout=5)
    today = result.business_date

    assert {kind: report["status"] for kind, report in result.reports.items()} == {
        "suppliers": "PROCESSED",
        "documents": "PROCESSED",
    }
    assert result.reports["documents"]["rows_rejected"] == 0
    assert result.reports["documents"]["rows_accepted"] == result.reports["documents"]["rows_total"]

    line = result.credit_line
    assert line["supplier_id"] == result.supplier_id and line["currency"] == "CNY"
    for name in ("borrowing_base", "facility_cap", "outstanding", "available"):
        assert is_money(line[name]), name
    assert Decimal(line["available"]) >= Decimal("100000.00")
    assert line["outstanding"] == "0.00"

    application = result.application
    assert application["status"] == "APPROVED" and application["loan_id"]
    assert application["term_days"] == 30
    assert re.match(r"^0\.\d+$", application["annual_rate"])

    seen = result.loan_statuses
    assert [status for status in LIFECYCLE if status in seen] == seen, f"statuses out of order: {seen}"
    assert {"DISBURSING", "ACTIVE", "REPAID"} <= set(seen), seen

    active = result.loan_active
    assert active["status"] == "ACTIVE" and active["currency"] == "CNY"
    assert active["principal"] == "100000.00" and active["outstanding_principal"] == "100000.00"
    assert active["value_date"] == today.isoformat()
    assert active["maturity_date"] == (today + timedelta(days=30)).isoformat()
    assert (active["interest_due"], active["penalty_due"], active["payoff"]) == ("0.00", "0.00", "100000.00")

    repaid = result.loan_repaid
    assert repaid["status"] == "REPAID" and repaid["outstanding_principal"] == "0.00"
    assert repaid["payoff"] == "0.00"

    repayment = result.repayment
    assert repayment["status"] == "APPLIED" and repayment["loan_id"] == application["loan_id"]
    assert repayment["amount"] == "100000.00" and repayment["source"] == "SUPPLIER"
    assert repayment["allocation"] == {
        "penalty": "0.00",
        "interest": "0.00",
        "principal": "100000.00",
        "overpayment": "0.00",
    }
    assert repayment["value_date"] == today.isoformat()

    books = requests.get(f"{bank}/_admin/payments", timeout=5).json()
    # this loan's money at the bank (other tests share the session's stack and its bank)
    ours = {payout_payment_id(application["loan_id"]), repayment["repayment_id"]}
    moved = sorted(
        (payment["direction"], payment["amount"], payment["status"])
        for payment in books["payments"]
        if payment["payment_id"] in ours
    )
    assert moved == [("COLLECTION", "100000.00", "SETTLED"), ("PAYOUT", "100000.00", "SETTLED")]

    postings = ledger_of(env, application["loan_id"])
    assert sorted(p.posting_id for p in postings) == [
        f"DISBURSEMENT#PAY{application['loan_id']}",
        f"REPAYMENT#{repayment['repayment_id']}",
    ]
    # paid out and repaid in full on the same day without interest: every account is back to zero
    assert {account: amount for account, amount in balances(postings).items() if amount} == {}

    local = LocalClient(env)
    loan_path = f"/v1/loans/{application['loan_id']}"
    stranger = local.token(supplier_id="SUP-SOMEONE-ELSE")
    assert local.call("GET", loan_path, stranger).status_code == 404
    assert local.call("GET", loan_path, None).status_code == 401
    assert local.call("GET", loan_path, "Bearer.not.valid").status_code == 401


def test_the_stack_reports_its_health_and_state(local_stack: Any) -> None:
    env = local_stack.env
    health = requests.get(f"{env['api_url']}/_local/health", timeout=5).json()
    assert health["status"] == "ok"
    assert set(health["functions"]) == {
        "ingest_settlement",
        "score_application",
        "disburse",
        "apply_repayment",
    }
    assert {"settlement_files", "disbursements", "repayments"} <= set(env["queues"])
    for name in (
        "table_name",
        "inbox_bucket",
        "clock_file",
        "bank_url",
        "aws_endpoint_url",
    ):
        assert env[name], name


def test_scf_local_env_lists_the_three_local_banks_the_outbound_bucket_and_the_partners(
    local_stack: Any,
) -> None:
    """CONTRACT.md section 9: `scf local env` lists the banks as {code: {adapter, url?, accounts}}."""
    env = local_stack.env
    banks = env["banks"]

    assert {code: bank["adapter"] for code, bank in banks.items()} == {
        "SIMBANK": "simulated",
        "FILEBANK": "iso20022-file",
        "RESTBANK": "rest-signed",
    }
    assert banks["SIMBANK"]["url"] == banks["RESTBANK"]["url"] == env["bank_url"]
    assert "url" not in banks["FILEBANK"]
    assert all(bank["accounts"] for bank in banks.values())
    assert sorted(env["partners"]) == ["FILEBANK", "RESTBANK", "SIMBANK", "platform"]
    assert all(p["role_arn"] and p["credentials"]["aws_access_key_id"] for p in env["partners"].values())
    assert env["outbound_bucket"] and env["outbound_bucket"] != env["inbox_bucket"]
    assert env["lender_account"]["bank_code"] == env["default_bank"] == "SIMBANK"
    s3 = boto3.client(
        "s3",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert s3.get_bucket_versioning(Bucket=env["outbound_bucket"])["Status"] == "Enabled"
