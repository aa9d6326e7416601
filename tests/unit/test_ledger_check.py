"""The daily LEDGER_CHECK (LedgerCheckService, contract section 10) on fakes: every loan touched on
the day before the business date has its postings summed and compared with its stored balances;
a mismatch is raised as an alarm and nothing is written."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from scf.clock import FixedClock
from scf.domain.ledger import INTEREST_INCOME, LOANS_RECEIVABLE, disbursement_posting, repayment_posting
from scf.domain.waterfall import Allocation
from scf.service.ledger_check import LedgerCheckService
from scf.service.lending_day import Step
from tests.fakes import FakeLedger, FakeLoanStore, RecordedAlarms, a_loan

pytestmark = pytest.mark.unit

DAY = date(2026, 2, 10)
YESTERDAY = DAY - timedelta(days=1)


@pytest.fixture
def ledger() -> FakeLedger:
    """Two loans paid out and partly repaid yesterday, their postings agreeing with their balances."""
    loans = FakeLoanStore()
    ledger = FakeLedger(loans)
    for loan_id in ("L1", "L2"):
        loan = a_loan(loan_id=loan_id, value_date=YESTERDAY)
        loans.add_loan(
            replace(
                loan, outstanding_principal_minor=loan.principal_minor - 400_000, interest_paid_minor=20_000
            )
        )
        loans._post(loan_id, disbursement_posting(f"PAY{loan_id}", loan.principal_minor))
        allocation = Allocation.from_minor(
            {"penalty": 0, "interest": 20_000, "principal": 400_000, "overpayment": 0}
        )
        loans._post(loan_id, repayment_posting(f"R-{loan_id}", allocation))
    ledger.touched[YESTERDAY] = {"L1", "L2"}
    return ledger


def check(ledger: FakeLedger, alarms: RecordedAlarms) -> LedgerCheckService:
    clock = FixedClock(DAY, datetime(2026, 2, 9, 16, 5, tzinfo=UTC))
    return LedgerCheckService(loans=ledger.loans, ledger=ledger, alarm=alarms, clock=clock)


def test_loans_whose_postings_agree_raise_nothing(ledger: FakeLedger) -> None:
    alarms = RecordedAlarms()

    result = check(ledger, alarms).run(DAY)

    assert alarms.raised == []
    assert (result.step, result.loans_read, result.written, result.mismatches) == (Step.LEDGER_CHECK, 2, 0, 0)


def test_a_stored_balance_the_postings_do_not_sum_to_raises_an_alarm_naming_the_account(
    ledger: FakeLedger,
) -> None:
    stored = ledger.loans.loans["L2"]
    stored.loan = replace(
        stored.loan, outstanding_principal_minor=stored.loan.outstanding_principal_minor + 1
    )
    alarms = RecordedAlarms()

    result = check(ledger, alarms).run(DAY)

    (mismatch,) = alarms.raised
    assert (mismatch.loan_id, mismatch.checked_day) == ("L2", YESTERDAY)
    assert mismatch.accounts == {LOANS_RECEIVABLE: (9_600_001, 9_600_000)}
    assert result.mismatches == 1


def test_a_missing_posting_is_a_mismatch_too(ledger: FakeLedger) -> None:
    repayment = next(
        pid for pid, loan in ledger.loans.posting_loans.items() if loan == "L1" and "REPAYMENT" in pid
    )
    del ledger.loans.postings[repayment]
    alarms = RecordedAlarms()

    check(ledger, alarms).run(DAY)

    (mismatch,) = alarms.raised
    assert mismatch.accounts[INTEREST_INCOME] == (-20_000, 0)


def test_the_check_changes_nothing(ledger: FakeLedger) -> None:
    stored = ledger.loans.loans["L2"]
    stored.loan = replace(stored.loan, interest_paid_minor=0)
    before = copy.deepcopy((ledger.loans.loans, ledger.loans.postings, ledger.loans.repayments))

    check(ledger, RecordedAlarms()).run(DAY)

    assert (ledger.loans.loans, ledger.loans.postings, ledger.loans.repayments) == before


def test_only_loans_touched_on_the_day_before_are_read(ledger: FakeLedger) -> None:
    ledger.touched = {DAY: {"L1"}, YESTERDAY - timedelta(days=1): {"L2"}}

    result = check(ledger, RecordedAlarms()).run(DAY)

    assert result.loans_read == 0
