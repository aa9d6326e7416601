"""HAS_OVERDUE_LOAN sees loans that matured untouched (still ACTIVE in storage), as of the business
date, from the exposure item the decision reads anyway: no extra call, no loan read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from scf.adapters.dynamodb.credit_repository import DynamoCreditRepository
from scf.adapters.dynamodb.models import ApplicationItem, PoolItem, SupplierOverdueItem
from scf.clock import clock_from_spec
from scf.domain.loan import LoanStatus
from scf.domain.pool import Document, Pool
from scf.service.credit import CreditService
from tests.reliability.money_harness import MoneyWorld, money_world, sqs_event

pytestmark = pytest.mark.integration

VALUE = date(2026, 1, 1)
MATURITY = VALUE + timedelta(days=30)  # 2026-01-31


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def active(world: MoneyWorld) -> MoneyWorld:
    """S1: a pool that approves 1,000.00 (grade B, 900,000.00 available) and loan L1 paid out on
    2026-01-01 for 30 days (ACTIVE, maturing 2026-01-31)."""
    world.set_today(VALUE)
    world.add_supplier("S1", "6217000011113333")
    pool = Pool()
    for doc in (
        Document("GR-OLD", "GOODS_RECEIPT", date(2025, 6, 1), 100_000_000),
        Document("GR-1", "GOODS_RECEIPT", date(2025, 12, 20), 200_000_000),
        Document("INV-1", "INVOICE", date(2025, 12, 28), 100_000_000, references=("GR-1",)),
    ):
        pool.apply(doc)
    PoolItem(
        *PoolItem.key("S1", "CNY"),
        supplier_id="S1",
        currency="CNY",
        state=pool.to_state(),
        updated_at="2026-01-01T00:00:00Z",
    ).save()
    world.approve_loan("L1", "S1", 10_000_000, term_days=30)
    world.deliver("disbursements")
    assert world.loan("L1").status == "ACTIVE" and world.loan("L1").maturity_date == MATURITY.isoformat()
    return world


def decide_on(world: MoneyWorld, day: date) -> dict:
    world.set_today(day)
    service = CreditService(DynamoCreditRepository(), clock_from_spec(f"file:{world.clock_file}"))
    return service.apply("S1", {"amount": "1000.00", "currency": "CNY", "term_days": 30}, None)


def codes(answer: dict) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def test_a_loan_that_matures_untouched_is_overdue_from_its_maturity_date(active: MoneyWorld) -> None:
    assert active.exposure("S1").open_loans == {f"L1#{MATURITY.isoformat()}"}
    day_before = decide_on(active, MATURITY - timedelta(days=1))
    assert (day_before["status"], codes(day_before)) == ("APPROVED", [])
    on_maturity = decide_on(active, MATURITY)
    assert (on_maturity["status"], codes(on_maturity)) == ("DECLINED", ["HAS_OVERDUE_LOAN"])
    # Nothing touched the loan: storage still says ACTIVE and the stored count is still 0 ...
    assert active.loan("L1").status == "ACTIVE" and active.exposure("S1").overdue_loans == 0
    # ... the loan view and the decision agree on the business date ...
    assert active.api("GET", "/v1/loans/L1", supplier_id="S1").body["status"] == LoanStatus.OVERDUE
    # ... and the decision stored what it saw.
    stored = ApplicationItem.get(*ApplicationItem.key(on_maturity["application_id"]))
    assert stored.inputs["overdue_loans"] == 1


def test_an_extension_moves_the_date_the_decision_sees(active: MoneyWorld) -> None:
    active.set_today(MATURITY)
    answer = active.api("POST", "/v1/loans/L1/extension", supplier_id="S1", headers={"Idempotency-Key": "e"})
    assert answer.status == 200, answer.body
    new_maturity = MATURITY + timedelta(days=30)
    assert active.exposure("S1").open_loans == {
        f"L1#{MATURITY.isoformat()}",
        f"L1#{new_maturity.isoformat()}",
    }
    assert codes(decide_on(active, MATURITY)) == []
    assert codes(decide_on(active, new_maturity - timedelta(days=1))) == []
    assert codes(decide_on(active, new_maturity)) == ["HAS_OVERDUE_LOAN"]


def test_a_repaid_loan_leaves_the_open_loans(active: MoneyWorld) -> None:
    active.set_today(MATURITY + timedelta(days=5))  # overdue, and repaid in full
    assert codes(decide_on(active, MATURITY + timedelta(days=5))) == ["HAS_OVERDUE_LOAN"]
    payoff = active.api("GET", "/v1/loans/L1", supplier_id="S1").body["payoff"]
    answer = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S1",
        body={"amount": payoff},
        headers={"Idempotency-Key": "pay-all"},
    )
    assert answer.status == 202, answer.body
    active.deliver("repayments")
    assert active.loan("L1").status == "REPAID"
    exposure = active.exposure("S1")
    assert exposure.open_loans is None and exposure.overdue_loans == 0
    assert codes(decide_on(active, MATURITY + timedelta(days=5))) == []


# -- overdue loans in every currency ---------------------------------------------------------------


def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import botocore.client

    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def recorded(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(operation_name)
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    return calls


@pytest.fixture
def usd_loan(active: MoneyWorld) -> MoneyWorld:
    """S1 also has U1, 500.00 USD for 20 days paid out on 2026-01-01 (maturing 2026-01-21),
    and the CNY loan L1 repaid: only the USD loan can be overdue."""
    active.approve_loan(
        "U1", "S1", 50_000, term_days=20, currency="USD", created_at="2026-01-01T00:00:01+00:00"
    )
    active.deliver("disbursements")
    assert active.loan("U1").status == "ACTIVE"
    answer = active.api("GET", "/v1/loans/L1", supplier_id="S1")
    assert answer.body is not None
    repaid = active.api(
        "POST",
        "/v1/loans/L1/repayments",
        supplier_id="S1",
        body={"amount": answer.body["payoff"]},
        headers={"Idempotency-Key": "payoff-L1"},
    )
    assert repaid.status == 202
    active.deliver("repayments")
    assert active.loan("L1").status == "REPAID"
    return active


def test_a_loan_overdue_in_another_currency_declines_with_the_same_calls(
    usd_loan: MoneyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    usd_maturity = VALUE + timedelta(days=20)
    assert codes(decide_on(usd_loan, usd_maturity - timedelta(days=1))) == []
    # Untouched past its maturity (still ACTIVE in storage): the supplier's open entries see it.
    calls = recorded_calls(monkeypatch)
    untouched = decide_on(usd_loan, usd_maturity)
    assert (untouched["status"], codes(untouched)) == ("DECLINED", ["HAS_OVERDUE_LOAN"])
    assert calls == ["BatchGetItem", "PutItem"]
    # Stored OVERDUE by the daily job: the supplier's count sees it.
    body = {"scf": "daily", "step": "OVERDUE", "business_date": usd_maturity.isoformat()}
    assert usd_loan.invoke_sqs("repayments", sqs_event([body])) == {"batchItemFailures": []}
    assert usd_loan.loan("U1").status == "OVERDUE" and usd_loan.exposure("S1", "USD").overdue_loans == 1
    assert usd_loan.exposure("S1", "CNY").overdue_loans == 0
    assert SupplierOverdueItem.get(*SupplierOverdueItem.key("S1")).overdue_loans == 1
    stored = decide_on(usd_loan, usd_maturity + timedelta(days=1))
    assert (stored["status"], codes(stored)) == ("DECLINED", ["HAS_OVERDUE_LOAN"])


def test_the_approval_refuses_when_an_overdue_loan_appeared_after_the_read(usd_loan: MoneyWorld) -> None:
    """The approval's transaction checks the supplier's count in every currency (the decision read
    none; a USD loan was stored OVERDUE before the write): the decision runs again and declines."""
    day = VALUE + timedelta(days=19)
    usd_loan.set_today(day)
    repository = DynamoCreditRepository()
    original = repository.approve

    def overdue_first(*args: Any, **kwargs: Any) -> None:
        SupplierOverdueItem(*SupplierOverdueItem.key("S1")).update(
            actions=[SupplierOverdueItem.overdue_loans.set(1)]
        )
        original(*args, **kwargs)

    repository.approve = overdue_first  # type: ignore[method-assign]
    service = CreditService(repository, clock_from_spec(f"file:{usd_loan.clock_file}"))
    answer = service.apply("S1", {"amount": "1000.00", "currency": "CNY", "term_days": 30}, None)
    assert (answer["status"], codes(answer)) == ("DECLINED", ["HAS_OVERDUE_LOAN"])
    assert answer.get("loan_id") is None
