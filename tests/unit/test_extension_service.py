"""Extending a loan (LoanService.extend, contract section 3) on the in-memory store."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scf.clock import FixedClock
from scf.domain.loan import ExtensionRefused, Loan
from scf.domain.pool import OpenEntry, Pool
from scf.service.loan_store import LoanNotFound
from scf.service.loans import LoanService
from tests.fakes import FakeLoanStore, a_loan

pytestmark = pytest.mark.unit

VALUE = date(2026, 1, 1)
MATURITY = date(2026, 1, 31)


def paid_out_loan(*, loan_id: str = "L1", maturity_date: date = MATURITY, extended: bool = False) -> Loan:
    """100,000.00 at 10% a year, 30 days, paid out on 2026-01-01."""
    return a_loan(loan_id=loan_id, value_date=VALUE, maturity_date=maturity_date, extended=extended)


def pool_with_invoice(*, amount_minor: int) -> dict[str, object]:
    """A pool whose one open invoice (dated 2026-01-20) makes the borrowing base 90% of it."""
    pool = Pool()
    pool.stages["INVOICED"]["INV1"] = OpenEntry(date(2026, 1, 20), amount_minor, False)
    return pool.to_state()


def loans_on(store: FakeLoanStore, today: date) -> LoanService:
    return LoanService(loans=store, clock=FixedClock(today, datetime(2026, 1, 1, tzinfo=UTC)))


@pytest.fixture
def store() -> FakeLoanStore:
    """S1's loan L1 (maturity 2026-01-31) and invoices that cover it (base 180,000.00)."""
    store = FakeLoanStore()
    store.add_loan(paid_out_loan())
    store.set_pool("S1", "CNY", pool_with_invoice(amount_minor=20_000_000))
    return store


def refusal(store: FakeLoanStore, today: date) -> str:
    with pytest.raises(ExtensionRefused) as refused:
        loans_on(store, today).extend("S1", "L1", "k1")
    return refused.value.code


def test_an_extension_in_the_window_moves_maturity_30_days(store: FakeLoanStore) -> None:
    view = loans_on(store, date(2026, 1, 28)).extend("S1", "L1", "k1")

    assert (view["maturity_date"], view["extended"], view["status"]) == ("2026-03-02", True, "ACTIVE")
    assert store.loans["L1"].loan.maturity_date == date(2026, 3, 2)


def test_an_extension_past_maturity_makes_the_late_days_normal_interest(store: FakeLoanStore) -> None:
    view = loans_on(store, date(2026, 2, 2)).extend("S1", "L1", "k1")

    assert (view["penalty_due"], view["interest_due"]) == ("0.00", "888.89")  # 32 normal days


def test_the_same_request_again_gets_the_same_answer(store: FakeLoanStore) -> None:
    first = loans_on(store, date(2026, 1, 28)).extend("S1", "L1", "k1")

    again = loans_on(store, date(2026, 1, 28)).extend("S1", "L1", "k1")

    assert again == first


def test_too_early_is_refused(store: FakeLoanStore) -> None:
    assert refusal(store, date(2026, 1, 23)) == "EXTENSION_TOO_EARLY"


def test_too_late_is_refused(store: FakeLoanStore) -> None:
    assert refusal(store, date(2026, 2, 4)) == "EXTENSION_TOO_LATE"


def test_a_loan_is_extended_once(store: FakeLoanStore) -> None:
    loans_on(store, date(2026, 1, 28)).extend("S1", "L1", "k1")

    with pytest.raises(ExtensionRefused) as refused:
        loans_on(store, date(2026, 1, 29)).extend("S1", "L1", "k2")

    assert refused.value.code == "ALREADY_EXTENDED"


def test_another_overdue_loan_refuses_it(store: FakeLoanStore) -> None:
    store.add_loan(paid_out_loan(loan_id="L2", maturity_date=date(2026, 1, 25)))

    assert refusal(store, date(2026, 1, 28)) == "HAS_OVERDUE_LOAN"


def test_a_borrowing_base_below_the_outstanding_principal_refuses_it(store: FakeLoanStore) -> None:
    store.set_pool("S1", "CNY", pool_with_invoice(amount_minor=10_000_000))  # base 90,000.00

    assert refusal(store, date(2026, 1, 28)) == "BORROWING_BASE_SHORT"


def test_a_refused_extension_changes_nothing(store: FakeLoanStore) -> None:
    before = store.loans["L1"]

    refusal(store, date(2026, 1, 23))

    assert store.loans["L1"] == before


def test_another_suppliers_loan_is_not_found(store: FakeLoanStore) -> None:
    with pytest.raises(LoanNotFound):
        loans_on(store, date(2026, 1, 28)).extend("S2", "L1", "k1")
