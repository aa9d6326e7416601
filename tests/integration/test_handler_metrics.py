"""Each handler invocation writes its business metrics as EMF lines on stdout (issue 12), and the
correlation id of an API request reaches the queued consumer's bank call through the outbox."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scf.adapters import observability
from tests.integration.test_score_application import Api, api  # noqa: F401  (the fixture)
from tests.reliability.money_harness import MoneyWorld, money_world

pytestmark = pytest.mark.integration

SUPPLIER_ACCOUNT = "6217000099998888"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


@contextmanager
def json_log(function: ModuleType) -> Iterator[io.StringIO]:
    """The bank adapters' log lines as `function`'s Logger formats them (its keys at each line)."""
    bank_calls = logging.getLogger(observability.logger.name)  # named after the first importer's service
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(function.logger.registered_formatter)
    bank_calls.addHandler(handler)
    try:
        yield buffer
    finally:
        bank_calls.removeHandler(handler)


def emf(text: str) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> the EMF lines that carry it (with their dimension values)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in json_lines(text):
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append(line)
    return found


def approved(world: MoneyWorld) -> None:
    """L0001 approved for S1 today, its LoanApproved event waiting for the disbursements pipe."""
    world.set_today(date(2026, 3, 2))
    world.add_supplier("S1", SUPPLIER_ACCOUNT)
    world.approve_loan("L0001", "S1", 10_000_000, term_days=45)


def test_a_payout_writes_payouts_by_bank_and_outcome_and_approval_to_active(
    capfd: pytest.CaptureFixture[str], world: MoneyWorld
) -> None:
    approved(world)
    capfd.readouterr()

    assert world.deliver("disbursements")[1] == {"batchItemFailures": []}

    metrics = emf(capfd.readouterr().out)
    (payout,) = metrics["Payouts"]
    assert (payout["bank"], payout["outcome"], payout["Payouts"]) == ("LENDERBANK", "SETTLED", [1.0])
    (activated,) = metrics["ApprovalToActive"]
    assert activated["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "ApprovalToActive", "Unit": "Seconds"}
    ]


def test_the_api_requests_correlation_id_reaches_the_collections_bank_call_and_its_metric(
    capfd: pytest.CaptureFixture[str], world: MoneyWorld
) -> None:
    approved(world)
    world.deliver("disbursements")
    answer = world.api(
        "POST",
        "/v1/loans/L0001/repayments",
        supplier_id="S1",
        body={"amount": "100.00"},
        headers={"Idempotency-Key": "k-1", "X-Correlation-Id": "corr-0042"},
    )
    assert answer.status == 202
    capfd.readouterr()

    with json_log(world.apply_repayment) as logged:
        assert world.deliver("repayments")[1] == {"batchItemFailures": []}

    out = capfd.readouterr().out
    bank_calls = [line for line in json_lines(logged.getvalue()) if line.get("message") == "bank call"]
    assert bank_calls and {line["correlation_id"] for line in bank_calls} == {"corr-0042"}
    assert {(line["bank_code"], line["operation"]) for line in bank_calls} >= {("LENDERBANK", "pay")}
    (collection,) = emf(out)["Collections"]
    assert (collection["bank"], collection["outcome"]) == ("LENDERBANK", "SETTLED")


def test_a_decision_writes_applications_by_outcome_and_its_latency_and_a_file_its_rows(
    capfd: pytest.CaptureFixture[str],
    api: Api,  # noqa: F811
) -> None:
    dropped = emf(capfd.readouterr().out)  # the fixture dropped the platform's suppliers file

    status, body = api.apply("1000.00")

    metrics = emf(capfd.readouterr().out)
    assert status == 201
    (application,) = metrics["Applications"]
    assert application["outcome"] == body["status"]
    (latency,) = metrics["DecisionLatency"]
    assert latency["service"] == "score_application" and latency["DecisionLatency"][0] > 0
    files = {(line["format"], line["outcome"]) for line in dropped["Files"]}
    assert files == {("suppliers", "PROCESSED"), ("documents", "PROCESSED")}
    assert {line["outcome"] for line in dropped["FileRows"]} == {"ACCEPTED", "REJECTED"}
