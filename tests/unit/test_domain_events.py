"""The public events' details (contract section 10, docs/events.md): for every event type, whatever
the amounts, the detail holds ids, two-decimal amount strings and dates, an `event_id` that is the
business key and a `version`; never an account number, nor the bank's free text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scf.domain.loan import Loan, Repayment, RepaymentSource, RepaymentStatus, reason_code
from scf.domain.money import format_amount
from scf.domain.waterfall import Allocation
from scf.events import (
    DETAIL_VERSION,
    PUBLIC_EVENTS,
    REFUND_PAID,
    TARGET_DOMAIN_EVENTS,
    TARGET_OF,
    OutboxEvent,
    stored_payload,
)
from scf.service.ingest import Report
from scf.service.statements import BankEntry, unmatched_event
from tests.fakes import a_loan

pytestmark = pytest.mark.unit

ACCOUNT = "6217000099998888"
MONEY_FIELDS = {"amount", "principal", "outstanding_principal", "interest", "penalty", "overpayment"}
MONEY_FIELDS |= {"interest_paid", "penalty_paid"}
DATE_FIELDS = {"value_date", "maturity_date", "previous_maturity_date", "repaid_on", "booking_date"}
TWO_DECIMALS = re.compile(r"-?\d+\.\d{2}")
VALUE_DATE = date(2026, 3, 2)


def a_repayment(amount: int, **fields: object) -> Repayment:
    split = Allocation(penalty=0, interest=amount // 10, principal=amount - amount // 10, overpayment=0)
    return Repayment(
        **{  # type: ignore[arg-type]
            "repayment_id": "RP1",
            "loan_id": "L1",
            "supplier_id": "S1",
            "status": RepaymentStatus.APPLIED,
            "source": RepaymentSource.SUPPLIER,
            "amount_minor": amount,
            "currency": "CNY",
            "allocation": split,
            "value_date": VALUE_DATE,
            **fields,
        }
    )


def an_entry(amount: int) -> BankEntry:
    return BankEntry(
        entry_id="BE1",
        bank="FILEBANK",
        account=ACCOUNT,
        amount=None,
        amount_minor=amount,
        currency="CNY",
        direction="CRDT",
        status="BOOK",
        reversal=False,
        booking_date="2026-03-02",
        references={"remittance": f"from {ACCOUNT}"},
        file_key="FILEBANK/camt053.xml",
        line=7,
        code="NO_REFERENCE",
    )


def a_report(rows: int) -> Report:
    sha = "ab" * 32
    return Report(sha, "platform/docs.csv", sha, format="documents", rows_total=rows, rows_accepted=rows)


BANK_REASON = f"ACCOUNT_REJECTED: {ACCOUNT}"


def approved(amount: int) -> OutboxEvent:
    """As the credit repository writes it (the disbursements queue's trigger, the same shape)."""
    payload = {"loan_id": "L1", "supplier_id": "S1", "amount": format_amount(amount), "currency": "CNY"}
    return OutboxEvent("LoanApproved-L1", "LoanApproved", payload)


def active(amount: int) -> Loan:
    return a_loan(principal_minor=amount, value_date=VALUE_DATE)


REPORT_KEY = "reports/platform/docs.csv.report.json"
# RefundPaid is written by the refunds step (its own work): documented, built there.
BUILDERS: dict[str, Callable[[int], OutboxEvent]] = {
    "LoanApproved": approved,
    "LoanActivated": lambda amount: active(amount).activated_event("PAYL1"),
    "LoanFailed": lambda amount: a_loan(principal_minor=amount).failed_event("PAYL1", BANK_REASON),
    "RepaymentApplied": lambda amount: a_repayment(amount).applied_event(),
    "RepaymentFailed": lambda amount: a_repayment(amount).failed_event(BANK_REASON),
    "LoanRepaid": lambda amount: active(amount).repaid_event("RP1", VALUE_DATE),
    "LoanExtended": lambda amount: active(amount).extended_event(VALUE_DATE),
    "LoanDueSoon": lambda amount: active(amount).due_soon_event(),
    "LoanOverdue": lambda amount: active(amount).overdue_event(),
    "UnmatchedBankItem": lambda amount: unmatched_event(an_entry(amount)),
    "FileProcessed": lambda amount: a_report(amount).processed_event(REPORT_KEY),
}


def test_every_public_event_type_has_a_builder_except_the_refunds_own() -> None:
    assert set(BUILDERS) == set(PUBLIC_EVENTS) - {REFUND_PAID}
    assert all(TARGET_OF[name] for name in PUBLIC_EVENTS)


@pytest.mark.parametrize("event_type", sorted(BUILDERS))
@settings(max_examples=30, deadline=None)
@given(amount=st.integers(min_value=1, max_value=10**13))
def test_a_detail_holds_ids_two_decimal_amounts_and_dates_never_an_account(
    event_type: str, amount: int
) -> None:
    event = BUILDERS[event_type](amount)
    detail = json.loads(stored_payload(event.event_id, event.event_type, event.payload))

    assert event.event_type == event_type
    assert event.event_id.startswith(f"{event_type}-")
    assert event == BUILDERS[event_type](amount)  # the id is the business key: the same write again
    assert (detail["event_id"], detail["version"]) == (event.event_id, DETAIL_VERSION)
    for name, value in detail.items():
        assert not isinstance(value, float), name
        if name in MONEY_FIELDS and value is not None:
            assert TWO_DECIMALS.fullmatch(value), (name, value)
        if name in DATE_FIELDS and value is not None:
            date.fromisoformat(value)
    text = json.dumps(detail)
    assert ACCOUNT not in text and "account" not in text


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("ACCOUNT_REJECTED: 6217000099998888", "ACCOUNT_REJECTED"),
        ("AC04", "AC04"),
        ("LOAN_NOT_REPAYABLE", "LOAN_NOT_REPAYABLE"),
        ("account 6217000099998888 is closed", "REJECTED_BY_BANK"),
        (None, "REJECTED_BY_BANK"),
    ],
)
def test_a_failure_reason_reaches_the_bus_only_as_a_code(reason: str | None, code: str) -> None:
    assert reason_code(reason) == code


def test_an_internal_event_keeps_its_payload_as_given() -> None:
    payload = {"repayment_id": "RP1"}
    assert json.loads(stored_payload("RepaymentRequested-RP1", "RepaymentRequested", payload)) == payload
    assert TARGET_OF["LoanActivated"] == TARGET_DOMAIN_EVENTS
