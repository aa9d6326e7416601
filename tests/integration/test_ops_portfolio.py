"""`GET /v1/ops/loans` and `GET /v1/ops/portfolio` through apply_repayment against moto: loans by
stored status or supplier in strict pages, and the portfolio from the counters and the overdue
partition in a fixed number of calls (docs/ops-views.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from scf.service.lending_day import Step
from tests.integration.test_apply_repayment import ACCOUNT, VALUE, repay
from tests.reliability.money_harness import FakeContext, MoneyWorld, api_event, money_world

pytestmark = pytest.mark.integration

OPS = {"sub": "ops-1", "cognito:groups": "ops", "token_use": "id"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def book(world: MoneyWorld) -> MoneyWorld:
    """Paid out on 2026-01-01: L1 (S1, 100,000.00, 30 days), L2 (S1, 50,000.00, 60 days), L3 (S2,
    20,000.00, 30 days), L4 (S2, 10,000.00 USD, 30 days); L5 (S2) approved, not paid out."""
    world.set_today(VALUE)
    world.add_supplier("S1", ACCOUNT)
    world.add_supplier("S2", "6217000011114444")
    world.approve_loan("L1", "S1", 10_000_000, term_days=30, created_at="2026-01-01T00:00:01+00:00")
    world.approve_loan("L2", "S1", 5_000_000, term_days=60, created_at="2026-01-01T00:00:02+00:00")
    world.approve_loan("L3", "S2", 2_000_000, term_days=30, created_at="2026-01-01T00:00:03+00:00")
    world.approve_loan(
        "L4", "S2", 1_000_000, term_days=30, currency="USD", created_at="2026-01-01T00:00:04+00:00"
    )
    world.deliver("disbursements")
    world.approve_loan("L5", "S2", 3_000_000, created_at="2026-01-01T00:00:05+00:00")
    return world


def ops_get(
    world: MoneyWorld, path: str, query: dict[str, str] | None = None, claims: dict[str, str] | None = None
) -> tuple[int, Any]:
    event = api_event("GET", path, supplier_id=None, query=query)
    event["requestContext"]["authorizer"]["claims"] = claims or OPS
    raw = world.apply_repayment.handler(event, FakeContext())
    return raw["statusCode"], json.loads(raw["body"])


def ids(page: dict[str, Any]) -> list[str]:
    return [item["loan_id"] for item in page["items"]]


def run_daily(world: MoneyWorld, day: date) -> None:
    world.set_today(day)
    world.apply_repayment.bootstrap().daily().run(Step.OVERDUE, day)


def test_a_loan_left_alone_across_maturity_is_listed_overdue_with_its_supplier(book: MoneyWorld) -> None:
    run_daily(book, date(2026, 1, 31))

    status, page = ops_get(book, "/v1/ops/loans", {"status": "OVERDUE"})

    assert status == 200 and sorted(ids(page)) == ["L1", "L3", "L4"] and page["next_token"] is None
    l1 = next(item for item in page["items"] if item["loan_id"] == "L1")
    supplier_view = book.api("GET", "/v1/loans/L1", supplier_id="S1").body
    assert {k: v for k, v in l1.items() if k != "supplier_id"} == {
        k: supplier_view[k] for k in l1 if k != "supplier_id"
    }
    assert l1["supplier_id"] == "S1" and l1["outstanding_principal"] == "100000.00"


def test_the_list_pages_by_status_latest_maturity_first_with_tokens_of_its_own_list(book: MoneyWorld) -> None:
    first = ops_get(book, "/v1/ops/loans", {"status": "ACTIVE", "currency": "CNY", "limit": "2"})[1]
    rest = ops_get(
        book,
        "/v1/ops/loans",
        {"status": "ACTIVE", "currency": "CNY", "limit": "2", "next_token": first["next_token"]},
    )[1]
    seen = ids(first) + ids(rest)
    assert seen[0] == "L2" and sorted(seen) == ["L1", "L2", "L3"]  # L2 matures last
    status, problem = ops_get(book, "/v1/ops/loans", {"status": "OVERDUE", "next_token": first["next_token"]})
    assert (status, problem["code"], problem["field"]) == (422, "INVALID_TOKEN", "next_token")
    status, problem = ops_get(book, "/v1/ops/loans", {"supplier_id": "S1", "next_token": first["next_token"]})
    assert (status, problem["code"]) == (422, "INVALID_TOKEN")


def test_a_suppliers_loans_newest_first_filtered_by_status_and_currency(book: MoneyWorld) -> None:
    assert ids(ops_get(book, "/v1/ops/loans", {"supplier_id": "S2"})[1]) == ["L5", "L4", "L3"]
    assert ids(
        ops_get(book, "/v1/ops/loans", {"supplier_id": "S2", "status": "ACTIVE", "currency": "USD"})[1]
    ) == ["L4"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "LATE"}, "status"),
        ({}, "status"),
        ({"status": "ACTIVE", "currency": "XXX"}, "currency"),
        ({"supplier_id": "S/1"}, "supplier_id"),
        ({"status": "ACTIVE", "limit": "0"}, "limit"),
    ],
)
def test_a_bad_filter_is_a_422_naming_it(book: MoneyWorld, query: dict[str, str], field: str) -> None:
    status, problem = ops_get(book, "/v1/ops/loans", query)
    assert (status, problem["field"]) == (422, field)


def test_suppliers_see_neither_view(book: MoneyWorld) -> None:
    supplier = {"sub": "u", "custom:supplier_id": "S1", "token_use": "id"}
    assert ops_get(book, "/v1/ops/loans", {"status": "ACTIVE"}, claims=supplier)[0] == 403
    assert ops_get(book, "/v1/ops/portfolio", claims=supplier)[0] == 403


def test_the_portfolio_by_status_aging_and_interest_in_three_queries(book: MoneyWorld) -> None:
    run_daily(book, date(2026, 1, 31))
    book.set_today(date(2026, 2, 10))  # L1, L3 10 days past maturity; L2 current
    repay(book, "1000.00", "part")
    book.deliver("repayments")
    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
        status, view = ops_get(book, "/v1/ops/portfolio", {"currency": "CNY"})

    assert status == 200 and view["as_of"] == "2026-02-10" and view["currency"] == "CNY"
    # counters (one Query), OVERDUE partition, ACTIVE past maturity not marked yet
    assert calls == ["Query", "Query", "Query"]
    by_status = view["loans_by_status"]
    assert by_status["OVERDUE"]["count"] == 2 and by_status["ACTIVE"]["count"] == 1
    assert by_status["APPROVED"] == {"count": 1, "outstanding_principal": "30000.00"}
    aging = {row["bucket"]: row for row in view["aging"]}
    assert [row["bucket"] for row in view["aging"]] == ["CURRENT", "1-30", "31-60", "61-90", "90+"]
    assert aging["CURRENT"]["count"] == 1 and aging["CURRENT"]["outstanding_principal"] == "50000.00"
    assert aging["1-30"]["count"] == 2 and aging["31-60"]["count"] == 0
    loans = [
        book.api("GET", f"/v1/loans/{i}", supplier_id=s).body
        for i, s in (("L1", "S1"), ("L2", "S1"), ("L3", "S2"))
    ]
    assert Decimal(aging["1-30"]["penalty_due"]) == sum(Decimal(loan["penalty_due"]) for loan in loans)
    assert Decimal(view["interest_due"]) == sum(Decimal(loan["interest_due"]) for loan in loans)
    assert view["overpayment_owed"] == "0.00"
    assert (
        ops_get(book, "/v1/ops/portfolio", {"currency": "USD"})[1]["loans_by_status"]["OVERDUE"]["count"] == 1
    )
    assert ops_get(book, "/v1/ops/portfolio", {"currency": "cny"})[0] == 422
