"""The portfolio's counters equal the sum over the loans after any sequence of money movements, on
FakeLoanStore (hypothesis) and DynamoLoanStore (moto, seeded sequences): they are written in the
transaction of each loan change, so they cannot drift (docs/ops-views.md, "The portfolio")."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import ExposureItem, LoanItem
from scf.clock import FixedClock
from scf.domain import portfolio
from scf.domain.ledger import extension_posting
from scf.domain.loan import REPAYABLE, ExtensionRefused, Loan, LoanStatus
from scf.service.disbursement import PayoutService
from scf.service.lending_day import LendingDayService, Step
from scf.service.loan_store import LoanStore
from scf.service.loans import LoanService
from scf.service.portfolio import PortfolioService
from scf.service.repayment import RepaymentService
from scripts.backfill_portfolio import backfill
from tests.fakes import FakeBankGateway, FakeGateways, FakeLoanStore
from tests.integration.test_loan_store_contract import LENDER, SUPPLIER
from tests.support import loan_item, seed_supplier

pytestmark = pytest.mark.integration

START = date(2026, 1, 5)
LOANS = 5
# (operation, loan index, amount in minor units); advance moves the business date by `amount` days.
Op = tuple[str, int, int]
OPS = ("disburse", "reject", "repay", "overdue", "extend", "advance")


def new_loan(index: int) -> Loan:
    currency = "USD" if index == LOANS - 1 else "CNY"
    principal = 1_000_000 + 137_011 * index
    return Loan(
        loan_id=f"LN{index:02d}",
        supplier_id="S1",
        status=LoanStatus.APPROVED,
        currency=currency,
        principal_minor=principal,
        outstanding_principal_minor=principal,
        annual_rate=Decimal("0.0875") + Decimal(index) / 1000,
        term_days=30,
    )


@dataclass
class Run:
    """Drives the services over one store, day by day, remembering the overpayments applied."""

    store: LoanStore
    today: date = START
    overpaid: dict[str, int] = field(default_factory=dict)
    repayments: int = 0

    def clock(self) -> FixedClock:
        return FixedClock(
            self.today, datetime.combine(self.today, datetime.min.time(), UTC) + timedelta(hours=1)
        )

    def step(self, op: str, index: int, amount: int) -> None:
        loan_id = new_loan(index).loan_id
        record = self.store.get_loan(loan_id)
        assert record is not None
        loan = record.loan
        bank = FakeBankGateway(value_date=self.today)
        if op in ("disburse", "reject") and loan.status is LoanStatus.APPROVED:
            if op == "reject":
                bank.reject(f"PAY{loan_id}")
            payout = PayoutService(
                loans=self.store, gateways=FakeGateways(bank), clock=self.clock(), lender=LENDER
            )
            payout.disburse(loan_id)
        elif op == "repay" and loan.status in REPAYABLE:
            self.repay(loan, amount, bank)
        elif op == "overdue":
            LendingDayService(loans=self.store, clock=self.clock()).run(Step.OVERDUE, self.today)
        elif op == "extend" and loan.status in REPAYABLE:
            try:
                outcome = loan.extend(self.today, other_loan_overdue=False, borrowing_base_minor=10**12)
            except ExtensionRefused:
                return
            paid = outcome.penalty_reclassified
            self.store.extend(
                record,
                outcome.loan,
                reclassification=extension_posting(loan_id, paid) if paid else None,
                overdue_delta=outcome.overdue_delta,
                request_hash="h",
                now=self.clock().now().isoformat(),
            )
        elif op == "advance":
            self.today += timedelta(days=1 + amount % 40)

    def repay(self, loan: Loan, amount: int, bank: FakeBankGateway) -> None:
        payoff = loan.position(self.today).payoff
        wanted = 1 + amount % (payoff + 5_000)  # now and then more than owed: an overpayment
        service = RepaymentService(
            loans=self.store, gateways=FakeGateways(bank), clock=self.clock(), lender=LENDER
        )
        self.repayments += 1
        pending = service.request("S1", loan.loan_id, wanted, f"k{self.repayments}")
        service.apply(pending.requested_event().payload, redelivered=False)
        applied = self.store.get_repayment(pending.repayment_id)
        assert applied is not None and applied.allocation is not None
        self.overpaid[loan.currency] = self.overpaid.get(loan.currency, 0) + applied.allocation.overpayment

    def expected(self, currency: str) -> portfolio.Counters:
        loans = [self.store.get_loan(new_loan(i).loan_id) for i in range(LOANS)]
        mine = [
            portfolio.contribution(r.loan) for r in loans if r is not None and r.loan.currency == currency
        ]
        owed = {portfolio.OVERPAYMENT_OWED: Decimal(self.overpaid.get(currency, 0))}
        return portfolio.total([*mine, owed])


def check(run: Run) -> None:
    for currency in ("CNY", "USD"):
        assert run.store.portfolio_counters(currency) == run.expected(currency)
    # And the view built on them agrees with the loans read one by one.
    view = PortfolioService(run.store, LoanService(run.store, run.clock())).portfolio("CNY")
    loans = [
        r.loan
        for i in range(LOANS)
        if (r := run.store.get_loan(new_loan(i).loan_id)) and r.loan.currency == "CNY"
    ]
    for status in LoanStatus:
        assert view["loans_by_status"][status.value]["count"] == sum(loan.status is status for loan in loans)
    buckets = {b["bucket"]: b["count"] for b in view["aging"]}
    repayable = [loan for loan in loans if loan.status in REPAYABLE]
    for name, count in buckets.items():
        assert count == sum(portfolio.bucket_of(loan, run.today) == name for loan in repayable)
    one_by_one = sum(loan.position(run.today).interest_due for loan in repayable)
    shown = int(Decimal(view["interest_due"]) * 100)
    assert abs(shown - one_by_one) <= (len(repayable) + 1) / 2  # float-ok: a bound, not money


def operations(rng: random.Random, count: int) -> list[Op]:
    return [(rng.choice(OPS), rng.randrange(LOANS), rng.randrange(10**9)) for _ in range(count)]


def fake_run() -> Run:
    store = FakeLoanStore()
    store.add_supplier("S1", SUPPLIER)
    for index in range(LOANS):
        store.add_loan(new_loan(index))
    return Run(store)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, LOANS - 1), st.integers(0, 10**9)), max_size=40)
)
def test_fake_counters_equal_the_sum_over_loans(ops: list[Op]) -> None:
    run = fake_run()
    for op in ops:
        run.step(*op)
        check(run)


@pytest.fixture
def dynamo_run(tables: object) -> Iterator[Run]:
    seed_supplier("S1", account_number=SUPPLIER.account_number)
    for index in range(LOANS):
        loan = new_loan(index)
        # As stored before the counters (no in_portfolio, no gsi2): the first write counts it whole.
        loan_item(loan, created_at="2026-01-01T00:00:00+00:00", counted=False).save()
        ExposureItem(*ExposureItem.key("S1", loan.currency)).update(
            actions=[
                ExposureItem.principal_minor.set((ExposureItem.principal_minor | 0) + loan.principal_minor),
                ExposureItem.overdue_loans.set(ExposureItem.overdue_loans | 0),
            ]
        )
    yield Run(DynamoLoanStore())


@pytest.mark.parametrize("seed", range(4))
def test_dynamo_counters_equal_the_sum_over_loans(dynamo_run: Run, seed: int) -> None:
    rng = random.Random(seed)
    for index in range(LOANS):  # each loan's first write counts it whole (stored before the counters)
        dynamo_run.step("disburse", index, 0)
    assert all(r.counted for i in range(LOANS) if (r := dynamo_run.store.get_loan(new_loan(i).loan_id)))
    check(dynamo_run)
    for op in operations(rng, 30):
        dynamo_run.step(*op)
        check(dynamo_run)


def test_the_backfill_counts_loans_stored_before_the_counters_once(dynamo_run: Run) -> None:
    """scripts/backfill_portfolio.py: every loan once (a second run finds nothing), gsi2 keys set,
    and the counters then equal the sum over the loans; a loan counted since is left alone."""
    dynamo_run.step("disburse", 0, 0)  # counted by its own write

    first = list(backfill(page_size=2))
    again = list(backfill(page_size=2))

    assert sum(p.counted for p in first) == LOANS - 1 and first[-1].next_token is None
    assert sum(p.seen for p in again) == 0
    assert LoanItem.get(*LoanItem.key(new_loan(1).loan_id)).gsi2pk == "LOANS#APPROVED"
    check(dynamo_run)
    for op in operations(random.Random(7), 20):
        dynamo_run.step(*op)
    check(dynamo_run)
