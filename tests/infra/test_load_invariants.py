"""The load run's invariant checks (infra/ops/invariants.py, bench/load.py) can fail: crafted
items, as a table scan deserializes them, that break each invariant are reported FAIL."""

from __future__ import annotations

import json
from typing import Any

from infra.ops import invariants


def loan(loan_id: str = "L1", status: str = "ACTIVE", **fields: Any) -> dict[str, Any]:
    return {
        "pk": f"LOAN#{loan_id}",
        "sk": "LOAN",
        "loan_id": loan_id,
        "supplier_id": "S1",
        "currency": "CNY",
        "status": status,
        "principal_minor": 10_000_000,
        "outstanding_principal_minor": 10_000_000,
        "interest_paid_minor": 0,
        "penalty_paid_minor": 0,
        "payment_id": f"PAY{loan_id}",
        **fields,
    }


def posting(loan_id: str, posting_id: str, entries: list[tuple[str, str, int]]) -> dict[str, Any]:
    as_json = [{"account": a, "side": s, "amount_minor": m} for a, s, m in entries]
    return {
        "pk": f"LEDGER#{loan_id}",
        "sk": f"POSTING#{posting_id}",
        "posting_id": posting_id,
        "reason": posting_id.split("#")[0],
        "entries": json.dumps(as_json),  # a JSON attribute reads back as a string
    }


def payout(loan_id: str = "L1", amount: int = 10_000_000) -> dict[str, Any]:
    return posting(
        loan_id,
        f"DISBURSEMENT#PAY{loan_id}",
        [("loans_receivable", "D", amount), ("bank_operating", "C", amount)],
    )


def exposure(principal: int, open_loans: set[str] | None = None) -> dict[str, Any]:
    return {
        "pk": "SUPPLIER#S1",
        "sk": "EXPOSURE#CNY",
        "supplier_id": "S1",
        "currency": "CNY",
        "principal_minor": principal,
        "overdue_loans": 0,
        "open_loans": open_loans,
    }


def test_a_loan_whose_postings_agree_passes() -> None:
    repaid = posting(
        "L1",
        "REPAYMENT#R1",
        [
            ("bank_operating", "D", 4_000_000),
            ("interest_income", "C", 50_000),
            ("loans_receivable", "C", 3_950_000),
        ],
    )
    items = [loan(outstanding_principal_minor=6_050_000, interest_paid_minor=50_000), payout(), repaid]

    assert invariants.ledger_matches_loans(items).passed


def test_a_loan_whose_postings_disagree_with_its_balances_fails_naming_the_loan() -> None:
    items = [loan(outstanding_principal_minor=6_000_000), payout()]

    verdict = invariants.ledger_matches_loans(items)

    assert not verdict.passed
    assert verdict.failures == ["loan L1 (ACTIVE): loans_receivable ledger 10000000 stored 6000000"]
    assert verdict.render().startswith("!!!! FAIL")


def test_an_unbalanced_posting_and_postings_of_no_loan_fail() -> None:
    broken = posting("L1", "REPAYMENT#R1", [("bank_operating", "D", 100), ("loans_receivable", "C", 99)])
    items = [loan(), payout(), broken, payout("L9")]

    failures = invariants.ledger_matches_loans(items).failures

    assert any("L1" in failure and "not a balanced posting" in failure for failure in failures)
    assert "postings under LEDGER#L9 but no loan L9" in failures


def test_an_exposure_over_the_facility_cap_or_unlike_its_loans_fails() -> None:
    items = [loan(), exposure(10_000_000, {"L1#2027-01-01"})]

    assert invariants.reservations_within_limits(items, {"S1": 10_000_000}).passed
    over = invariants.reservations_within_limits(items, {"S1": 9_000_000})
    assert over.failures == ["supplier S1 CNY: exposure 10000000 over the facility cap 9000000 by 1000000"]
    unlike = invariants.reservations_within_limits([loan(), exposure(12_000_000, set())], None)
    assert "exposure 12000000 but its loans hold 10000000" in unlike.failures[0]
    assert "open_loans [] but ACTIVE/OVERDUE loans ['L1']" in unlike.failures[0]


def test_a_payment_moved_twice_or_a_failed_loan_paid_out_fails() -> None:
    settled = {"payment_id": "PAYL1", "status": "SETTLED", "amount": "100000.00", "bank_code": "SIMBANK"}
    journal = [{"order": {"payment_id": "PAYL1"}, "result": {"status": "SETTLED"}}] * 2

    twice = invariants.payments_moved_once([settled, {**settled, "bank_code": "RESTBANK"}], journal, [loan()])
    failed = invariants.payments_moved_once([settled], journal[:1], [loan(status="FAILED")])

    assert twice.failures == [
        "payment PAYL1 SETTLED at 2 banks: SIMBANK, RESTBANK",
        "payment PAYL1 booked 2 times in the bank's journal",
    ]
    assert failed.failures == ["loan L1 is FAILED but its payout PAYL1 SETTLED at the bank"]
    assert invariants.payments_moved_once([settled], journal[:1], [loan()]).passed


def test_a_file_without_a_final_report_and_a_dead_letter_fail() -> None:
    reports = {"platform/a.csv": {"status": "PROCESSED"}, "platform/b.csv": None}
    stuck = {"pk": "FILE#abc", "sk": "FILE", "status": "PROCESSING", "key": "platform/c.csv"}

    files = invariants.files_reported(["platform/a.csv", "platform/b.csv"], reports, [stuck])
    letters = invariants.dead_letters(
        {"repayments_dlq": ['{"detail-type": "RepaymentRequested"}'], "x_dlq": []}
    )

    assert files.failures == [
        "platform/b.csv: no report",
        "file item FILE#abc (platform/c.csv) is PROCESSING",
    ]
    assert letters.checked == 2
    assert letters.failures == [
        'repayments_dlq: 1 x RepaymentRequested {"detail-type": "RepaymentRequested"}'
    ]


def test_a_payment_the_bank_decided_but_the_table_still_holds_as_sent_is_noted() -> None:
    sent = {"pk": "PAYMENT#PAYL1", "sk": "PAYMENT", "payment_id": "PAYL1", "loan_id": "L1", "status": "SENT"}
    sent |= {"direction": "PAYOUT", "bank_code": "FILEBANK"}
    rejected = {
        "payment_id": "PAYL1",
        "bank_code": "FILEBANK",
        "status": "REJECTED",
        "reason": "ACCOUNT_REJECTED",
    }

    verdict = invariants.payments_moved_once([rejected], [], [loan(status="DISBURSING"), sent])

    assert verdict.passed
    assert verdict.notes == [
        "PAYOUT PAYL1 (loan L1) via FILEBANK is SENT in the table but REJECTED at the bank (ACCOUNT_REJECTED)"
    ]
