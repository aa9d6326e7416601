"""The statement matcher on fakes (issue 9 point 5): a booking or pain.002 status about one of our
payment ids is one `PaymentReport` to the outcome service, never new money; its effect is in the
file report, on the ops list when ops must act, or an entry error when the sender is not the bank
the payment went through."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from scf.adapters.files.pain002 import parse_pain002
from scf.clock import FixedClock
from scf.domain.bank_files import BOOKED, CAMT_054, CREDIT, DEBIT, Entry, ParseResult, Statement, Transaction
from scf.service.payments import PaymentReport, PaymentStatus
from scf.service.statements import BankEntry, LoanRef, PaymentRef, StatementMatcher
from tests.fakes import FakePaymentOutcomes, FakeStatementStore

BANK = "FILEBANK"
ACCOUNT = "CN0001"
KEY = "FILEBANK/2026-01-11/answer.xml"
LOAN = "LN00000000000000000001"
PAYOUT = f"PAY{LOAN}"
COLLECTION = "RP" + "A" * 26


def entry(
    amount: str,
    direction: str,
    *,
    e2e: str | None = None,
    remittance: str = "",
    reversal: bool = False,
    returned: str | None = None,
    reference: str = "BR-1",
) -> Entry:
    tx = Transaction(
        line=9,
        path="Document/Ntfctn/Ntry/NtryDtls/TxDtls",
        amount=None,
        amount_minor=None,
        currency=None,
        direction=None,
        end_to_end_id=e2e,
        remittance=remittance,
        return_reason=returned,
    )
    return Entry(
        line=7,
        path="Document/Ntfctn/Ntry",
        amount=Decimal(amount),
        amount_minor=int(Decimal(amount) * 100),
        currency="CNY",
        direction=direction,
        status=BOOKED,
        reversal=reversal,
        booking_date=date(2026, 1, 11),
        value_date=date(2026, 1, 11),
        bank_reference=reference,
        end_to_end_ids=(e2e,) if e2e else (),
        remittance=remittance,
        transactions=(tx,),
    )


def statement(*entries: Entry) -> ParseResult:
    return ParseResult(
        format=CAMT_054,
        statements=(
            Statement(CAMT_054, "001.08", 3, "Document/Ntfctn", "M1", "N1", ACCOUNT, "CNY",
                      None, None, None, None, tuple(entries)),
        ),
    )  # fmt: skip


def world() -> tuple[StatementMatcher, FakeStatementStore, FakePaymentOutcomes]:
    store = FakeStatementStore()
    store.loans[LOAN] = LoanRef(LOAN, "S1", "CNY", "ACTIVE")
    store.payments[PAYOUT] = PaymentRef(PAYOUT, LOAN, "PAYOUT", 2_500_000, "CNY", "SETTLED")
    store.payments[COLLECTION] = PaymentRef(COLLECTION, LOAN, "COLLECTION", 500_000, "CNY", "APPLIED")
    outcomes = FakePaymentOutcomes()
    clock = FixedClock(date(2026, 1, 11), datetime(2026, 1, 11, 8, tzinfo=UTC))
    return StatementMatcher(store, clock, {BANK: [ACCOUNT]}, outcomes), store, outcomes


def test_a_collected_repayment_booked_on_the_lenders_account_confirms_it_and_is_never_new_money() -> None:
    matcher, store, outcomes = world()
    result = matcher.process(BANK, KEY, statement(entry("5000.00", CREDIT, e2e=COLLECTION, remittance=LOAN)))
    assert outcomes.reports == [
        PaymentReport(COLLECTION, BANK, PaymentStatus.SETTLED, "camt.054", date(2026, 1, 11), None, KEY)
    ]
    (match,) = result.matches
    assert match["matched"] == {
        "type": "PAYMENT",
        "payment_id": COLLECTION,
        "report": "SETTLED",
        "effect": "SETTLED",
        "value_date": "2026-01-11",
    }
    assert store.repayments == [] and store.events == [] and store.listed() == []
    # The same loan id in a credit without our payment id is still a BANK_CREDIT repayment.
    other = matcher.process(BANK, KEY, statement(entry("10.00", CREDIT, remittance=LOAN, reference="BR-2")))
    assert other.matches[0]["matched"]["type"] == "REPAYMENT" and len(store.repayments) == 1


def test_a_payout_debit_settles_it_and_a_second_delivery_applies_nothing_again() -> None:
    matcher, _store, outcomes = world()
    result = statement(entry("25000.00", DEBIT, e2e=PAYOUT))
    first = matcher.process(BANK, KEY, result)
    assert first.matches[0]["matched"]["effect"] == "SETTLED"
    again = matcher.process(BANK, KEY, result)  # redelivery, or the rest of a file after a crash
    assert len(outcomes.reports) == 1
    assert again.matches[0]["matched"] == {**first.matches[0]["matched"], "already_recorded": True}


def test_a_reversal_or_a_return_of_a_payout_is_a_rejected_report_and_a_returned_payout_goes_to_ops() -> None:
    matcher, store, outcomes = world()
    outcomes.effects[PAYOUT] = "PAYOUT_RETURNED"
    reversed_ = entry("25000.00", CREDIT, e2e=PAYOUT, reversal=True, reference="RV-1")
    returned = entry("25000.00", CREDIT, e2e=PAYOUT, returned="AC04", reference="RT-1")
    result = matcher.process(BANK, KEY, statement(reversed_, returned))
    assert [(r.status, r.reason) for r in outcomes.reports] == [
        (PaymentStatus.REJECTED, "REVERSAL"),
        (PaymentStatus.REJECTED, "AC04"),
    ]
    assert [m["code"] for m in result.matches] == ["PAYOUT_RETURNED", "PAYOUT_RETURNED"]
    assert [e.code for e in store.listed()] == ["PAYOUT_RETURNED", "PAYOUT_RETURNED"]


def test_a_booking_that_contradicts_the_recorded_outcome_goes_to_ops() -> None:
    matcher, store, outcomes = world()
    outcomes.effects[PAYOUT] = "OUTCOME_CONFLICT"

    result = matcher.process(BANK, KEY, statement(entry("25000.00", DEBIT, e2e=PAYOUT)))

    assert [m["code"] for m in result.matches] == ["OUTCOME_CONFLICT"]
    assert [e.code for e in store.listed()] == ["OUTCOME_CONFLICT"]


def test_a_payout_rejected_before_it_settled_is_not_listed() -> None:
    matcher, store, _outcomes = world()
    result = matcher.process(BANK, KEY, statement(entry("25000.00", CREDIT, e2e=PAYOUT, returned="AC01")))
    assert result.matches[0]["matched"]["effect"] == "REJECTED" and store.listed() == []


def test_an_answer_from_a_bank_the_payment_did_not_go_through_is_an_entry_error_and_changes_nothing() -> None:
    matcher, store, outcomes = world()
    outcomes.effects[PAYOUT] = "NOT_SENDERS_PAYMENT"
    result = matcher.process(
        BANK, KEY, statement(entry("25000.00", DEBIT, e2e=PAYOUT), entry("7.00", CREDIT, reference="BR-9"))
    )
    (error,) = result.errors
    assert (error.line, error.field, error.code) == (7, "Document/Ntfctn/Ntry", "NOT_SENDERS_PAYMENT")
    assert (result.rows_accepted, result.rows_rejected, result.rows_total) == (1, 1, 2)
    assert len(store.entries) == 1  # only the other entry (NO_REFERENCE)


def test_unknown_payment_ids_wrong_directions_and_amounts_are_listed_never_applied() -> None:
    matcher, store, outcomes = world()
    outcomes.effects["RF123"] = "UNKNOWN_PAYMENT"
    result = matcher.process(
        BANK,
        KEY,
        statement(
            entry("1.00", DEBIT, e2e="RF123", reference="A"),
            entry("25000.00", CREDIT, e2e=PAYOUT, reference="B"),  # a credit cannot settle a payout
            entry("24000.00", DEBIT, e2e=PAYOUT, reference="C"),
        ),
    )
    assert [m["code"] for m in result.matches] == ["UNKNOWN_PAYMENT", "DIRECTION_MISMATCH", "AMOUNT_MISMATCH"]
    assert [r.payment_id for r in outcomes.reports] == ["RF123"]
    assert len(store.listed()) == 3


def pain002(body: str, created: str = "2026-01-12T09:00:00") -> ParseResult:
    return parse_pain002(
        f"""<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
<CstmrPmtStsRpt><GrpHdr><MsgId>STS-1</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>{body}</CstmrPmtStsRpt></Document>""".encode()
    )


def tx(e2e: str, status: str, extra: str = "") -> str:
    return (
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>{extra}</TxInfAndSts>"
    )


def test_pain002_statuses_per_end_to_end_id() -> None:
    matcher, store, outcomes = world()
    second = "PAYLN00000000000000000002"
    third = "PAYLN00000000000000000003"
    body = (
        "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        "<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
        "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>"
        + tx(PAYOUT, "ACSC", "<AccptncDtTm>2026-01-11T16:00:00</AccptncDtTm>")
        + tx(second, "RJCT", "<StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf>")
        + tx(third, "PDNG")
        + tx(COLLECTION, "ACSC")
        + "</OrgnlPmtInfAndSts>"
    )
    result = matcher.process(BANK, KEY, pain002(body))
    assert [(r.payment_id, r.status, r.value_date, r.reason, r.source) for r in outcomes.reports] == [
        (PAYOUT, PaymentStatus.SETTLED, date(2026, 1, 11), None, "pain.002"),  # the acceptance date
        (second, PaymentStatus.REJECTED, None, "AC01", "pain.002"),
        (third, PaymentStatus.PENDING, None, None, "pain.002"),
        (COLLECTION, PaymentStatus.SETTLED, date(2026, 1, 12), None, "pain.002"),  # the report's date
    ]
    effects = [m["matched"].get("effect") for m in result.matches]
    assert effects == [None, None, "SETTLED", "REJECTED", "RECORDED", "SETTLED"]  # group, PmtInf: summaries
    assert store.listed() == [] and result.errors == []
    # Redelivered: each status was recorded once, nothing applied again.
    matcher.process(BANK, KEY, pain002(body))
    assert len(outcomes.reports) == 4


def test_pain002_statuses_above_the_transactions_apply_to_what_they_name() -> None:
    matcher, _store, outcomes = world()
    payment_info_only = (
        "<OrgnlGrpInfAndSts><OrgnlMsgId>M2</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        "</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>" + PAYOUT + "</OrgnlPmtInfId>"
        "<PmtInfSts>RJCT</PmtInfSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></OrgnlPmtInfAndSts>"
    )
    matcher.process(BANK, KEY, pain002(payment_info_only))
    assert [(r.payment_id, r.status, r.reason) for r in outcomes.reports] == [
        (PAYOUT, PaymentStatus.REJECTED, "AM04")  # our PmtInfId is the payment id
    ]
    group_only = (
        "<OrgnlGrpInfAndSts><OrgnlMsgId>M3</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        "<GrpSts>{}</GrpSts></OrgnlGrpInfAndSts>"
    )
    accepted = matcher.process(BANK, KEY, pain002(group_only.format("ACTC")))
    assert accepted.matches[0]["matched"] == {"type": "PAYMENT_STATUS", "level": "GROUP", "status": "ACTC"}
    rejected = matcher.process(BANK, KEY, pain002(group_only.format("RJCT")))
    assert rejected.matches[0]["code"] == "MESSAGE_STATUS_NEEDS_REVIEW"
    assert len(outcomes.reports) == 1


def test_pain002_about_a_payment_of_another_bank_is_rejected_for_that_status() -> None:
    matcher, store, outcomes = world()
    outcomes.effects[PAYOUT] = "NOT_SENDERS_PAYMENT"
    body = (
        "<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        "</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
        + tx(PAYOUT, "RJCT")
        + "</OrgnlPmtInfAndSts>"
    )
    result = matcher.process(BANK, KEY, pain002(body))
    (error,) = result.errors
    assert error.code == "NOT_SENDERS_PAYMENT" and error.field and error.field.endswith("TxInfAndSts")
    assert result.matches == [] and store.entries == {} and result.rows_rejected == 1


def test_a_crash_between_the_answer_and_the_entry_hands_the_report_over_again_and_it_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The entry is written after the outcome service answered: a crash in between means the
    redelivery hands the same report over again, and the service's conditions make it RECORDED."""
    matcher, store, outcomes = world()
    result = statement(
        entry("25000.00", DEBIT, e2e=PAYOUT, reference="A"),
        entry("5000.00", CREDIT, e2e=COLLECTION, reference="B"),
    )
    real = store.record_entry
    calls = 0

    def crash_on_the_second(entry: BankEntry, now: datetime, **writes: Any) -> dict[str, Any] | None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TimeoutError("the function died here")
        return real(entry, now, **writes)

    monkeypatch.setattr(store, "record_entry", crash_on_the_second)
    with pytest.raises(TimeoutError):
        matcher.process(BANK, KEY, result)
    monkeypatch.setattr(store, "record_entry", real)
    again = matcher.process(BANK, KEY, result)  # the redelivery
    assert [r.payment_id for r in outcomes.reports] == [PAYOUT, COLLECTION, COLLECTION]
    assert [m["matched"]["effect"] for m in again.matches] == ["SETTLED", "RECORDED"]
    assert again.matches[0]["matched"]["already_recorded"] is True
