"""The lending day through the local stack: a loan left alone is announced `due_soon_days` before
its maturity and stored OVERDUE at it, by `scf local clock set` moving forward (the template's
schedules fired for each day passed, before the command returns)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import boto3
import pytest

from infra.local.cli import main as scf
from infra.local.loop import LocalClient, Timeline, apply_until_active, onboard

pytestmark = pytest.mark.e2e


def table(env: dict[str, Any]) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(env["table_name"])


def item(env: dict[str, Any], pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        table(env).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
    )
    return found


def test_a_loan_left_alone_is_announced_then_stored_overdue_at_maturity(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = local_stack.env
    monkeypatch.setenv("SCF_LOCAL_DIR", str(local_stack.directory))
    local = LocalClient(env)
    supplier_id = "SUP-" + uuid.uuid4().hex[:8].upper()
    token = local.token(supplier_id=supplier_id)
    onboard(local, supplier_id, Timeline())
    _, loan, _ = apply_until_active(local, token, "10000.00", 15, [])
    loan_id = loan["loan_id"]
    maturity = date.fromisoformat(loan["maturity_date"])

    def clock_set(day: date) -> None:
        assert scf(["local", "clock", "set", day.isoformat()]) == 0
        assert capsys.readouterr().out.strip() == day.isoformat()

    clock_set(maturity - timedelta(days=3))
    assert item(env, f"OUTBOX#LoanDueSoon-{loan_id}-{maturity}", "EVENT") is not None
    assert item(env, f"LOAN#{loan_id}", "LOAN")["status"] == "ACTIVE"  # type: ignore[index]

    clock_set(maturity)
    stored = item(env, f"LOAN#{loan_id}", "LOAN")
    assert stored is not None
    assert (stored["status"], stored["gsi2pk"]) == ("OVERDUE", "LOANS#OVERDUE")
    assert item(env, f"OUTBOX#LoanOverdue-{loan_id}-{maturity}", "EVENT") is not None
    exposure = item(env, f"SUPPLIER#{supplier_id}", "EXPOSURE#CNY")
    assert exposure is not None and int(exposure["overdue_loans"]) == 1
    view = local.call("GET", f"/v1/loans/{loan_id}", token).json()
    assert view["status"] == "OVERDUE"
    # Ops see it in the loans stored OVERDUE (paged: other tests' loans may share the stack) and
    # in the portfolio's aging, on its maturity day (day 0 past maturity: 1-30).
    ops = local.token(ops=True)
    listed: dict[str, Any] = {}
    params = {"status": "OVERDUE", "limit": "100"}
    while loan_id not in listed:
        answer = local.call("GET", "/v1/ops/loans", ops, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        listed |= {entry["loan_id"]: entry for entry in page["items"]}
        if page["next_token"] is None:
            break
        params = {**params, "next_token": page["next_token"]}
    assert listed[loan_id]["supplier_id"] == supplier_id
    assert listed[loan_id]["outstanding_principal"] == "10000.00"
    portfolio = local.call("GET", "/v1/ops/portfolio", ops, params={"currency": "CNY"}).json()
    aging = {row["bucket"]: row["count"] for row in portfolio["aging"]}
    assert portfolio["loans_by_status"]["OVERDUE"]["count"] >= 1 and aging["1-30"] >= 1
    assert local.call("GET", "/v1/ops/loans", token, params={"status": "OVERDUE"}).status_code == 403
