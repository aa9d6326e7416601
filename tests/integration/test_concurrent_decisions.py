"""Concurrent decisions against the local store: moto's server (the local stack's emulator, with its
fixes) over HTTP, many invocations at once, nothing serialised on the client side.

Each invocation runs in its own process, as each concurrent Lambda invocation has its own
execution environment (`tests.invocations` says why threads will not do). A barrier after each
invocation's first read makes every one decide on the same snapshot, so the conditions of the
commits, not luck of timing, decide who gets the money; the commits themselves race freely.
Whatever the interleaving: the principal reserved never exceeds the limit, it is exactly the sum
of the approved amounts, one loan per approval.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.emulator import Emulator
from scf.adapters.dynamodb.models import ApplicationItem, ExposureItem, LoanItem, bind
from scf.domain.money import format_amount, parse_amount
from scf.domain.pool import Document
from tests.invocations import invoke_concurrently
from tests.support import LambdaContext, create_tables, load_handler, seed_supplier

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).parents[2] / "events"
TABLE = "scf-concurrency"
SUPPLIER = "S-RACE"
TODAY = date(2026, 11, 28)
# 80,000,000.00 received 10 days ago: base 56,000,000.00, cap min(50,000,000.00, half) = 40,000,000.00.
LIMIT = 4_000_000_000
CTX = LambdaContext("score_application")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    emulator = Emulator(port=0)
    endpoint = emulator.start()
    clock_file = tmp_path / "today"
    clock_file.write_text(TODAY.isoformat())
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "TABLE_NAME": TABLE,
        "SCF_CLOCK": f"file:{clock_file}",
        "POWERTOOLS_SERVICE_NAME": "score_application",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    from scf.config import settings

    settings.cache_clear()
    create_tables(TABLE)
    bind(TABLE, "us-east-1", endpoint)
    try:
        yield endpoint
    finally:
        settings.cache_clear()
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        emulator.stop()


def seed_the_supplier() -> None:
    seed_supplier(
        SUPPLIER,
        [
            Document("GR-FIRST", "GOODS_RECEIPT", TODAY - timedelta(days=800), 100),
            Document("GR-1", "GOODS_RECEIPT", TODAY - timedelta(days=10), 8_000_000_000),
        ],
    )


def event(template: str, claims: dict[str, Any], body: dict[str, Any], key: str, path: str | None = None):
    raw = json.loads((EVENTS / template).read_text())
    raw["requestContext"]["authorizer"]["claims"] = claims
    raw["headers"]["Idempotency-Key"] = key
    raw["body"] = json.dumps(body)
    if path is not None:
        raw["path"] = path
        raw["pathParameters"] = {"application_id": path.split("/")[3]}
    return raw


SUPPLIER_CLAIMS = {"sub": "sub-race", "custom:supplier_id": SUPPLIER, "token_use": "id"}


def application(amount: str, key: str) -> dict[str, Any]:
    body = {"amount": amount, "currency": "CNY", "term_days": 30}
    return event("apigw_post_application.json", SUPPLIER_CLAIMS, body, key)


def approval(application_id: str, reviewer: int) -> dict[str, Any]:
    claims = {"sub": f"reviewer-{reviewer}", "cognito:groups": "ops", "token_use": "id"}
    path = f"/v1/reviews/{application_id}/decision"
    body = {"decision": "APPROVE", "note": f"reviewer {reviewer}"}
    return event("apigw_post_review_decision_ops.json", claims, body, f"approve-{reviewer}", path)


def race(events: list[dict[str, Any]]) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Every event at once, one process each; (answers in event order, every DynamoDB operation)."""
    invocations = invoke_concurrently("score_application", events)
    operations = [name for invocation in invocations for name in invocation.operations]
    return [(i.status, i.body) for i in invocations], operations


def summary(answers: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, str, str]]:
    """(HTTP status, decision or error code, amount) per answer: the context of a failed assertion."""
    return [
        (status, str(body.get("code") or body["status"]), body.get("amount", "")) for status, body in answers
    ]


def reserved() -> int:
    return int(ExposureItem.get(*ExposureItem.key(SUPPLIER, "CNY")).principal_minor)


def credit_line() -> dict[str, Any]:
    raw = json.loads((EVENTS / "apigw_get_credit_line.json").read_text())
    raw["requestContext"]["authorizer"]["claims"] = SUPPLIER_CLAIMS
    answer = load_handler("score_application").handler(raw, CTX)
    assert answer["statusCode"] == 200, answer
    return dict(json.loads(answer["body"]))


def loans() -> dict[str, int]:
    return {loan.loan_id: int(loan.principal_minor) for loan in LoanItem.scan(LoanItem.sk == "LOAN")}


@pytest.mark.parametrize("seed", [20261128, 11])
def test_concurrent_applications_over_http_never_overcommit(store: str, seed: int) -> None:
    """24 applications of 1,000,000.00 to 9,000,000.00 at once against 40,000,000.00."""
    seed_the_supplier()
    rng = random.Random(seed)
    amounts = [format_amount(rng.randint(100_000_000, 900_000_000)) for _ in range(24)]
    answers, operations = race([application(a, f"race-{i}") for i, a in enumerate(amounts)])
    context = f"seed={seed} answers={summary(answers)}"
    assert {status for status, _ in answers} <= {201, 409}, context
    assert all(body["code"] == "CONTENTION" for status, body in answers if status == 409), context
    # Each answer is its own request's (threads sharing Powertools' current event broke this).
    assert all(body["amount"] == amounts[i] for i, (status, body) in enumerate(answers) if status == 201)
    decided = [body for status, body in answers if status == 201]
    approved = [parse_amount(b["amount"]) for b in decided if b["status"] == "APPROVED"]
    declined = [parse_amount(b["amount"]) for b in decided if b["status"] == "DECLINED"]
    assert len(approved) + len(declined) == len(decided), context
    assert approved and sum(approved) <= LIMIT, context
    assert reserved() == sum(approved), context
    assert sorted(loans().values()) == sorted(approved), context
    left = LIMIT - sum(approved)
    assert all(amount > left for amount in declined), context  # available only fell: each was right
    line = credit_line()
    assert (parse_amount(line["outstanding"]), parse_amount(line["available"])) == (sum(approved), left)
    # Every thread committed on the first, shared snapshot: more tried than fitted, and the
    # conditions refused the rest (they read again and were decided afresh).
    assert operations.count("TransactWriteItems") > len(approved), context


@pytest.mark.parametrize("seed", [20261128, 5])
def test_ops_approvals_and_new_applications_race_for_the_same_limit(store: str, seed: int) -> None:
    """Four applications of 10,000,000.01 wait for review (LARGE_AMOUNT), together more than the
    limit; ops approve all four while the supplier files 16 new applications, all at once. Ops
    approvals re-check and reserve under the same condition as new applications."""
    seed_the_supplier()
    module = load_handler("score_application")
    held = []
    for i in range(4):
        answer = module.handler(application("10000000.01", f"held-{i}"), CTX)
        body = json.loads(answer["body"])
        assert (body["status"], [r["code"] for r in body["reasons"]]) == ("REVIEW", ["LARGE_AMOUNT"])
        held.append(body["application_id"])
    rng = random.Random(seed)
    amounts = [format_amount(rng.randint(100_000_000, 600_000_000)) for _ in range(16)]
    events = [approval(app_id, i) for i, app_id in enumerate(held)]
    events += [application(a, f"new-{i}") for i, a in enumerate(amounts)]
    answers, operations = race(events)
    context = f"seed={seed} answers={summary(answers)}"
    reviews, new = answers[:4], answers[4:]
    approved_reviews = [b for s, b in reviews if s == 200]
    assert all(b["status"] == "APPROVED" for b in approved_reviews), context
    for status, body in reviews:
        if status == 409:  # no room left at that moment, or contention: nothing reserved
            assert body["code"] in ("REVIEW_CONFLICT", "CONTENTION"), context
    approved_new = [parse_amount(b["amount"]) for s, b in new if s == 201 and b["status"] == "APPROVED"]
    total = sum(approved_new) + 1_000_000_001 * len(approved_reviews)
    assert total <= LIMIT, context
    assert reserved() == total, context
    assert sorted(loans().values()) == sorted(approved_new + [1_000_000_001] * len(approved_reviews)), context
    assert len(approved_reviews) <= 3, context  # four of them never fit
    assert operations.count("TransactWriteItems") > len(approved_new) + len(approved_reviews), context


def test_eight_equal_applications_on_one_snapshot_approve_exactly_what_fits(store: str) -> None:
    """Eight applications of 9,000,000.00 against 40,000,000.00, all decided on the same snapshot:
    all eight approve and try to reserve; the condition lets four through (36,000,000.00), refuses
    the others, which read again and are declined for want of room."""
    seed_the_supplier()
    answers, operations = race([application("9000000.00", f"equal-{i}") for i in range(8)])
    assert [status for status, _ in answers] == [201] * 8, answers
    approved = [body for _, body in answers if body["status"] == "APPROVED"]
    declined = [body for _, body in answers if body["status"] == "DECLINED"]
    assert (len(approved), len(declined)) == (4, 4), answers
    assert all([r["code"] for r in body["reasons"]] == ["AMOUNT_EXCEEDS_AVAILABLE"] for body in declined)
    assert reserved() == 4 * 900_000_000 and len(loans()) == 4
    assert (operations.count("TransactWriteItems"), operations.count("PutItem")) == (8, 4), operations
    line = credit_line()
    assert (line["outstanding"], line["available"]) == ("36000000.00", "4000000.00")


def test_two_reviewers_approving_at_once_make_one_loan(store: str) -> None:
    """Two ops requests (different reviewers and keys) approve the same application at the same
    moment, on the same snapshot: the `status = REVIEW` condition lets one transaction through; the
    other reads again, finds it decided and answers 409. One loan, one reservation."""
    seed_the_supplier()
    module = load_handler("score_application")
    held = json.loads(module.handler(application("10000000.01", "held"), CTX)["body"])
    assert held["status"] == "REVIEW"
    answers, operations = race([approval(held["application_id"], i) for i in range(2)])
    assert sorted(status for status, _ in answers) == [200, 409], answers
    ((winner,), (loser,)) = ([b for s, b in answers if s == 200], [b for s, b in answers if s == 409])
    assert loser["code"] == "REVIEW_CONFLICT", loser
    assert operations.count("TransactWriteItems") == 2  # both tried; the condition refused one
    assert list(loans()) == [winner["loan_id"]]
    assert reserved() == 1_000_000_001
    stored = ApplicationItem.get(*ApplicationItem.key(held["application_id"]))
    assert stored.review["by"] == winner["review"]["by"] and stored.loan_id == winner["loan_id"]
