"""The daily job's and the ops views' DynamoDB calls and time as the loan book grows (contract
section 9: "the daily job's DynamoDB reads grow with the loans it has work for, never with the
whole table"; issue 10 point 6).

Seeds an in-process moto (with the local stack's fixes, infra/local/moto_fixes.py), writing straight
into moto's table (its `put_item`, no HTTP): N loans, 1 % of them maturing on the business date
(and 1 % on each of the next 99 days), 2 % stored OVERDUE (1 to 120 days past maturity), 10 %
REPAID, with their portfolio counter shards. Then runs every daily step apply_repayment owns (its
handler's `DailyJob`, so steps added later are measured too) on `DynamoLoanStore`,
counting every call by operation on the client the models share, and times it; at the largest
size also the first page of `GET /v1/ops/loans?status=ACTIVE` and `GET /v1/ops/portfolio` through
`PortfolioService`. Prints a table; asserts nothing about time (moto's times are not DynamoDB's:
the call counts are the figure).

    .venv/bin/python bench/daily_job.py                          # 1,000, 10,000 and 100,000 loans
    .venv/bin/python bench/daily_job.py --sizes 1000,10000       # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE = "scf-bench-daily"
TODAY = date(2026, 11, 30)


def environment() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


def book(size: int) -> Iterator[Any]:
    """The loans (`scf.domain.loan.Loan`) of a book of `size`: i % 100 == 0 matures today."""
    from scf.domain.interest import PrincipalChange
    from scf.domain.loan import Loan, LoanStatus

    for i in range(size):
        status, maturity = LoanStatus.ACTIVE, TODAY + timedelta(days=i % 100)
        if i % 50 == 1:
            status, maturity = LoanStatus.OVERDUE, TODAY - timedelta(days=1 + i % 120)
        elif i % 10 == 5:
            status, maturity = LoanStatus.REPAID, TODAY - timedelta(days=i % 60)
        value_date = maturity - timedelta(days=90)
        principal = 1_000_000 + (i * 7919) % 9_000_000
        outstanding = 0 if status is LoanStatus.REPAID else principal
        yield Loan(
            loan_id=f"LN{i:08d}",
            supplier_id=f"S{i % 2000:05d}",
            status=status,
            currency="CNY",
            principal_minor=principal,
            outstanding_principal_minor=outstanding,
            annual_rate=Decimal("0.085"),
            term_days=90,
            value_date=value_date,
            maturity_date=maturity,
            principal_changes=(PrincipalChange(value_date, principal),)
            + ((PrincipalChange(maturity - timedelta(days=1), 0),) if outstanding == 0 else ()),
        )


def seed(size: int) -> float:
    """Loan items, the suppliers' exposure items and the counter shards; returns seconds taken."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from scf.adapters.dynamodb.models import ExposureItem, PortfolioShardItem
    from scf.domain import portfolio
    from scf.domain.loan import LoanStatus
    from tests.support import loan_item

    started = time.perf_counter()
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(TABLE)
    shards: dict[int, portfolio.Counters] = {}
    exposure: dict[str, list[int]] = {}
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        for item in pending:
            table.put_item(item)  # straight into moto's table (its indexes and stream kept)
        pending.clear()

    for loan in book(size):
        assert loan.maturity_date is not None and loan.value_date is not None
        item = loan_item(loan, created_at=f"{loan.value_date.isoformat()}T00:00:00+00:00", counted=True)
        item.version = 1  # as the loan store's first save leaves it (the put below bypasses PynamoDB)
        pending.append(item.serialize())
        shard = shards.setdefault(portfolio.shard_of(loan.loan_id), {})
        for name, value in portfolio.contribution(loan).items():
            shard[name] = shard.get(name, Decimal(0)) + value
        figures = exposure.setdefault(loan.supplier_id, [0, 0])
        figures[0] += loan.outstanding_principal_minor
        figures[1] += loan.status is LoanStatus.OVERDUE
        if len(pending) >= 500:
            flush()
    for number, counters in shards.items():
        shard_item = PortfolioShardItem(*PortfolioShardItem.key("CNY", number), currency="CNY")
        for name, value in counters.items():
            setattr(shard_item, name, value)
        pending.append(shard_item.serialize())
    for supplier_id, (principal, overdue) in exposure.items():
        exposure_item = ExposureItem(
            *ExposureItem.key(supplier_id, "CNY"),
            supplier_id=supplier_id,
            currency="CNY",
            principal_minor=principal,
            overdue_loans=overdue,
        )
        pending.append(exposure_item.serialize())
    flush()
    return time.perf_counter() - started


class Calls:
    """Every DynamoDB call of the shared client, by operation."""

    def __init__(self) -> None:
        from scf.adapters.dynamodb.transactions import connection

        self.counted: Counter[str] = Counter()
        connection().client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counted[model.name] += 1

    @contextmanager
    def measure(self) -> Iterator[dict[str, Any]]:
        self.counted.clear()
        out: dict[str, Any] = {}
        started = time.perf_counter()
        yield out
        out["seconds"] = time.perf_counter() - started
        out["calls"] = dict(sorted(self.counted.items()))


def run_size(size: int, views: bool) -> list[dict[str, Any]]:
    from moto import mock_aws

    from infra.local import moto_fixes
    from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
    from scf.adapters.dynamodb.models import bind
    from scf.clock import FixedClock
    from scf.domain.loan import LoanStatus
    from scf.service.loan_store import LoanFilter
    from scf.service.loans import LoanService
    from scf.service.portfolio import PortfolioService
    from tests.support import create_tables

    moto_fixes.install()
    rows: list[dict[str, Any]] = []
    with mock_aws():
        create_tables(TABLE)
        bind(TABLE, "us-east-1")
        seconds = seed(size)
        rows.append(
            {"size": size, "what": "seed (moto put_item)", "seconds": seconds, "calls": {}, "result": ""}
        )
        clock = FixedClock(TODAY, datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=1))
        store = DynamoLoanStore(clock)
        calls = Calls()
        day = apply_repayment_daily_job(store, clock)
        for step in day.steps:
            with calls.measure() as row:
                result = day.run(step, TODAY)
            rows.append(
                {"size": size, "what": f"daily {step.value}", **row, "result": _result(result.as_json())}
            )
        if views:
            service = PortfolioService(store, LoanService(store, clock))
            active = LoanFilter(status=LoanStatus.ACTIVE)
            jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("GET /v1/ops/loans?status=ACTIVE", lambda: service.list(active, limit=20, next_token=None)),
                ("GET /v1/ops/portfolio", lambda: service.portfolio("CNY")),
            ]
            for name, job in jobs:
                with calls.measure() as row:
                    answer = job()
                rows.append({"size": size, "what": name, **row, "result": _summary(answer)})
    return rows


def apply_repayment_daily_job(store: Any, clock: Any) -> Any:
    """apply_repayment's own `DailyJob` (its handler's composition: every step it owns, so steps
    added later are measured too), with the banks faked: no bank is called by the seeded book."""
    from scf.domain.policy import DEFAULT_POLICY
    from scf.service.refunds import RefundService
    from scf.service.repayment import RepaymentService
    from tests.fakes import FakeBankGateway, FakeGateways
    from tests.support import load_handler

    handler = load_handler("apply_repayment")
    gateways = FakeGateways(FakeBankGateway(TODAY))
    repayments = RepaymentService(
        loans=store, gateways=gateways, banks=None, clock=clock, policy=DEFAULT_POLICY
    )
    refunds = RefundService(loans=store, gateways=gateways, banks=None, clock=clock)
    return handler.daily_steps(store, clock, DEFAULT_POLICY, "scf-bench", repayments, refunds, gateways)


def _result(data: dict[str, Any]) -> str:
    return f"read {data['loans_read']}, wrote {data['written']}"


def _summary(answer: dict[str, Any]) -> str:
    if "items" in answer:
        return f"{len(answer['items'])} items"
    overdue = answer["loans_by_status"]["OVERDUE"]["count"]
    return f"OVERDUE {overdue}, interest_due {answer['interest_due']}"


def main() -> int:
    parser = argparse.ArgumentParser(description="daily job and ops views: calls and time by book size")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of loans")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    environment()
    print(f"{'loans':>8}  {'what':<34} {'seconds':>8}  {'result':<42} calls")
    for size in sizes:
        for row in run_size(size, views=size == max(sizes)):
            calls = ", ".join(f"{op} {n}" for op, n in row["calls"].items())
            print(f"{row['size']:>8,}  {row['what']:<34} {row['seconds']:>8.2f}  {row['result']:<42} {calls}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
