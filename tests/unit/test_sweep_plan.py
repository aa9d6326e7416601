"""Settlement sweep plans (contract section 6) and the policy's sweep switch and ratio, on the pure
plan and on the window applier with an in-memory document store."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from scf.domain.files import DocumentRecord
from scf.domain.policy import CreditPolicy
from scf.domain.pool import PAYMENT, Document, Pool
from scf.service.documents import NEW, DocKey, PoolKey, PoolVersion, Unit, WindowApplier
from scf.service.sweeps import MAX_LOANS_PER_SWEEP, OpenLoan, Sweep, plan_sweep, sweep_repayment_id

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, 0)
WHOLE = Decimal("1.00")
LOANS = [
    OpenLoan(loan_id="LN-B", maturity_date=date(2026, 3, 1), payoff_minor=500),
    OpenLoan(loan_id="LN-C", maturity_date=date(2026, 2, 1), payoff_minor=300),
    OpenLoan(loan_id="LN-A", maturity_date=date(2026, 3, 1), payoff_minor=400),
]


def sweep_of(
    amount_minor: int, loans: list[OpenLoan], ratio: Decimal = WHOLE, document_id: str = "PAY-1"
) -> Sweep:
    return plan_sweep("S1", document_id, "CNY", amount_minor, loans, ratio=ratio)


def test_loans_are_swept_earliest_maturity_first_then_by_loan_id() -> None:
    plan = sweep_of(1_000, LOANS)

    assert [(s.loan_id, s.amount_minor) for s in plan.swept] == [("LN-C", 300), ("LN-A", 400), ("LN-B", 300)]
    assert plan.released_minor == 0


def test_what_the_loans_do_not_take_is_released() -> None:
    plan = sweep_of(2_000, LOANS, document_id="PAY-2")

    assert [s.amount_minor for s in plan.swept] == [300, 400, 500]
    assert plan.released_minor == 800


def test_a_supplier_without_loans_has_the_whole_payment_released() -> None:
    plan = sweep_of(50, [], document_id="PAY-3")

    assert plan.swept == ()
    assert plan.released_minor == 50


def test_repayment_ids_come_from_the_document_and_the_loan() -> None:
    first, second = sweep_of(1_000, LOANS), sweep_of(2_000, LOANS, document_id="PAY-2")

    assert first.swept[0].repayment_id == sweep_repayment_id("S1", "PAY-1", "LN-C")
    assert first.swept[0].repayment_id != second.swept[0].repayment_id


def test_at_most_max_loans_per_sweep_take_part_and_the_rest_is_released() -> None:
    many = [
        OpenLoan(loan_id=f"LN-{i:03d}", maturity_date=date(2026, 3, 1), payoff_minor=1)
        for i in range(MAX_LOANS_PER_SWEEP + 5)
    ]

    plan = sweep_of(100, many, document_id="PAY-4")

    assert len(plan.swept) == MAX_LOANS_PER_SWEEP
    assert plan.released_minor == 100 - MAX_LOANS_PER_SWEEP


def test_a_sweep_ratio_of_half_sweeps_half_the_payment_rounded_half_up_to_the_minor_unit() -> None:
    big_loan = [OpenLoan(loan_id="LN-A", maturity_date=date(2026, 3, 1), payoff_minor=10_000)]

    plan = sweep_of(101, big_loan, ratio=Decimal("0.50"))

    assert [(s.loan_id, s.amount_minor) for s in plan.swept] == [("LN-A", 51)]  # 50.5 -> 51
    assert (plan.amount_minor, plan.released_minor) == (101, 50)


def test_a_sweep_ratio_below_one_still_sweeps_no_more_than_the_payoff() -> None:
    small_loan = [OpenLoan(loan_id="LN-A", maturity_date=date(2026, 3, 1), payoff_minor=10)]

    plan = sweep_of(100, small_loan, ratio=Decimal("0.50"))

    assert [s.amount_minor for s in plan.swept] == [10]
    assert plan.released_minor == 90


# ---- the window applier reads the switch and the ratio from the policy ---------------------------


class InMemoryDocumentStore:
    """A `DocumentStore` of empty pools, one supplier's open loans, and every unit written."""

    def __init__(self, loans: dict[PoolKey, list[OpenLoan]]) -> None:
        self.loans = loans
        self.units: list[Unit] = []
        self.loans_asked = 0

    def load_pools(self, keys: list[PoolKey], *, fresh: bool = False) -> dict[PoolKey, PoolVersion]:
        return {key: PoolVersion(Pool(), None) for key in keys}

    def document_hashes(self, keys: list[DocKey]) -> dict[DocKey, str]:
        return {}

    def writer(self, now: datetime) -> InMemoryDocumentStore:
        return self

    def add(self, unit: Unit) -> int:
        self.units.append(unit)
        return len(self.units) - 1

    def finish(self) -> set[int]:
        return set()

    def find_sweeps(self, keys: list[DocKey]) -> dict[DocKey, Sweep]:
        return {}

    def loans_to_sweep(self, keys: list[PoolKey], as_of: date) -> dict[PoolKey, list[OpenLoan]]:
        self.loans_asked += 1
        return {key: self.loans[key] for key in keys if key in self.loans}


def payment(amount_minor: int) -> DocumentRecord:
    return DocumentRecord(
        line=2,
        supplier_id="S1",
        currency="CNY",
        due_date=None,
        document=Document(
            document_id="PAY-1", document_type=PAYMENT, document_date=TODAY, amount_minor=amount_minor
        ),
    )


def store_with_a_loan() -> InMemoryDocumentStore:
    loan = OpenLoan(loan_id="LN-A", maturity_date=date(2026, 12, 28), payoff_minor=1_000_000)
    return InMemoryDocumentStore(loans={("S1", "CNY"): [loan]})


def test_a_policy_with_the_sweep_switched_off_sweeps_nothing() -> None:
    store = store_with_a_loan()
    applier = WindowApplier(store=store, policy=CreditPolicy(sweep_enabled=False))

    (outcome,) = applier.apply([payment(20_000)], "platform/f.csv", TODAY, NOW)

    assert (outcome.status, outcome.sweep) == (NEW, None)
    assert [unit.sweeps for unit in store.units] == [[]]
    assert store.loans_asked == 0


def test_a_policy_with_a_sweep_ratio_of_half_sweeps_half_the_payment_rounded_half_up() -> None:
    store = store_with_a_loan()
    applier = WindowApplier(store=store, policy=CreditPolicy(sweep_ratio=Decimal("0.50")))

    (outcome,) = applier.apply([payment(20_001)], "platform/f.csv", TODAY, NOW)

    assert outcome.sweep is not None
    assert [s.amount_minor for s in outcome.sweep.swept] == [10_001]  # 10,000.5 -> 10,001
    assert outcome.sweep.released_minor == 10_000
