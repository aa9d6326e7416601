"""Bank statements and payment status reports through ingest_settlement: credits that carry a loan id
become BANK_CREDIT repayments, debits with a payout's end-to-end id confirm it, pending entries are
never applied, reversals and everything unmatched go on the ops list (docs/ingestion.md)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from scf import config
from scf.adapters.dynamodb.models import BankEntryItem, PaymentItem, RepaymentItem
from scf.adapters.files.bank_detect import parse_bank_file
from scf.service.payments import PaymentReport, PaymentStatus
from tests.fakes import FakePaymentOutcomes
from tests.integration.statement_world import (
    BANK,
    LENDER_ACCOUNT,
    IngestWorld,
    camt054,
    camt_entry,
    ingest_world,
    mt940,
)
from tests.reliability.money_harness import api_event
from tests.support import SAMPLES, LambdaContext

pytestmark = pytest.mark.integration

# Every statement sample that parses, with its accounts configured as the bank's, and what its
# entries (batch bookings per transaction) are matched to: no sample carries our loan or payment ids.
SAMPLE_OUTCOMES: dict[str, dict[str, int]] = {
    "camt053/dvbern_postfinance_camt053_2016.xml": {"NO_REFERENCE": 30, "REVERSAL_NEEDS_REVIEW": 2},
    "camt053/genkgo_v2_multi_statement.xml": {"NO_REFERENCE": 2},
    "camt053/genkgo_v8_multicurrency.xml": {"NO_REFERENCE": 1},
    # 10 entries, batches matched per transaction; one batch transaction carries no amount of its own
    "camt053/moov_FI_camt053_batch.xml": {"NO_REFERENCE": 12, "AMOUNT_MISSING": 1},
    "camt053/genkgo_v2_five_decimals.xml": {"NO_REFERENCE": 1},
    "camt054/dvbern_pending_and_reversed.xml": {
        "NO_REFERENCE": 1,
        "NOT_BOOKED": 1,
        "REVERSAL_NEEDS_REVIEW": 1,
    },
    "camt054/genkgo_v4_batch.xml": {"NO_REFERENCE": 3},
    "camt054/genkgo_v8_uetr.xml": {"NO_REFERENCE": 1},
    "camt054/moov_postfinance_camt054_debit.xml": {"NO_REFERENCE": 1},
    "camt054/moov_postfinance_camt054_return.xml": {"REVERSAL_NEEDS_REVIEW": 1},
    "mt940/wolph_jejik_abnamro.sta": {"NO_REFERENCE": 10},
    "mt940/wolph_citi.txt": {"NO_REFERENCE": 5},
    "mt940/wolph_betterplace_sepa_mt9401.sta": {"NO_REFERENCE": 95, "REVERSAL_NEEDS_REVIEW": 2},
    "mt940/wolph_mbank_mt942.sta": {"NOT_BOOKED": 3},  # MT942: intraday, never applied
}


def outcome_counts(report: dict) -> Counter:
    counts: Counter = Counter()
    for match in report["matches"]:
        if match["matched"] == "UNMATCHED":
            counts[match["code"]] += 1
        else:
            counts[match["matched"]["type"]] += 1
    return counts


def sample_accounts(name: str) -> list[str]:
    return sorted({s.account for s in parse_bank_file((SAMPLES / name).read_bytes()).statements})


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestWorld]:
    yield from ingest_world(tmp_path, monkeypatch)


@pytest.fixture
def outcomes(world: IngestWorld, monkeypatch: pytest.MonkeyPatch) -> FakePaymentOutcomes:
    """The ingestion's `PaymentOutcomes`, recording the reports it is given (the real service's
    effects are tested with it: scf.service.outcomes)."""
    fake = FakePaymentOutcomes()
    monkeypatch.setattr(world.ingest, "payment_outcomes", lambda *_, f=fake: f)
    return fake


@pytest.mark.parametrize("name", sorted(SAMPLE_OUTCOMES))
def test_every_parsable_statement_sample_is_matched_or_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    data = (SAMPLES / name).read_bytes()
    parsed = parse_bank_file(data)
    items = sum(len(e.transactions) if e.batch and e.transactions else 1 for e in parsed.entries)
    for world in ingest_world(tmp_path, monkeypatch, {BANK: sample_accounts(name)}):
        key = f"{BANK}/samples/{name}"
        assert world.drop(key, data) == {"batchItemFailures": []}
        report = world.report(key)
        assert report["status"] == "PROCESSED" and report["format"] == parsed.format
        assert len(report["matches"]) == items == report["rows_accepted"]
        assert outcome_counts(report) == Counter(SAMPLE_OUTCOMES[name])
        # Nothing in a sample is ours: no repayment, every booked entry is on the ops list.
        assert world.repayment_events() == []
        booked = items - SAMPLE_OUTCOMES[name].get("NOT_BOOKED", 0)
        listed = list(BankEntryItem.scan(BankEntryItem.gsi1pk == "UNMATCHED#OPEN"))
        assert len(listed) == booked
        assert all(item.bank == BANK and item.file_key == key for item in listed)


def test_a_credit_with_a_loan_id_in_free_text_becomes_a_bank_credit_repayment(world: IngestWorld) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(1, "S1", 10_000_000)
    world.set_today(date(2026, 1, 11))
    data = camt054(
        [
            camt_entry("5000.00", "CRDT", reference="BR-1", remittance=f"repay{loan}thanks"),
            camt_entry("7.00", "CRDT", reference="BR-2", remittance="invoice 42"),
            camt_entry("9.00", "CRDT", reference="BR-3", remittance=f"{loan}", status="PDNG"),
        ]
    )
    world.drop(f"{BANK}/2026/01/11/n1.xml", data)
    report = world.report(f"{BANK}/2026/01/11/n1.xml")
    assert (report["status"], report["format"]) == ("PROCESSED", "camt.054")
    first, unmatched, pending = report["matches"]
    assert first["matched"]["type"] == "REPAYMENT" and first["matched"]["loan_id"] == loan
    assert (first["amount"], first["direction"]) == ("5000.00", "CREDIT")
    assert unmatched["matched"] == "UNMATCHED" and unmatched["code"] == "NO_REFERENCE"
    assert pending["matched"] == {"type": "NOT_BOOKED", "status": "PENDING"}
    (event,) = world.repayment_events()
    assert event == {
        "repayment_id": first["matched"]["repayment_id"],
        "loan_id": loan,
        "supplier_id": "S1",
        "amount": "5000.00",
        "currency": "CNY",
        "source": "BANK_CREDIT",
        "value_date": "2026-01-11",  # the booking date: the day the money moved (contract s.3)
    }
    # The repayments queue applies it without collecting (money already received).
    posts = len(world.money.bank.posts)
    world.money.deliver("repayments")
    assert len(world.money.bank.posts) == posts
    applied = RepaymentItem.get(*RepaymentItem.key(event["repayment_id"]))
    assert (applied.status, applied.source, applied.allocation["interest"]) == (
        "APPLIED",
        "BANK_CREDIT",
        27_778,
    )
    world.money.assert_ledger_matches_loan(loan)


def test_an_mt940_credit_repays_and_the_same_entries_in_another_file_do_not_double_apply(
    world: IngestWorld,
) -> None:
    world.set_today(date(2026, 1, 1))
    loan = world.active_loan(2, "S1", 10_000_000)
    world.set_today(date(2026, 1, 11))
    lines = [":61:2601110111C1234,56NTRFNONREF//BANKREF-77", f":86:REPAYMENT {loan[:12]}", f"{loan[12:]} S1"]
    world.drop(f"{BANK}/mt940/a.sta", mt940(lines))
    report = world.report(f"{BANK}/mt940/a.sta")
    assert report["format"] == "mt940"
    (match,) = report["matches"]
    assert match["matched"]["loan_id"] == loan and match["amount"] == "1234.56"
    assert [e["amount"] for e in world.repayment_events()] == ["1234.56"]
    # The same statement re-sent under another name: same bytes -> DUPLICATE, nothing changes.
    world.drop(f"{BANK}/mt940/a-again.sta", mt940(lines))
    assert world.report(f"{BANK}/mt940/a-again.sta")["status"] == "DUPLICATE"
    # The same entry in a different file (another statement around it): recognised, not applied twice.
    world.drop(f"{BANK}/mt940/b.sta", mt940(lines, statement="STMT-2"))
    (again,) = world.report(f"{BANK}/mt940/b.sta")["matches"]
    assert again["matched"]["already_recorded"] is True
    assert again["matched"]["repayment_id"] == match["matched"]["repayment_id"]
    assert len(world.repayment_events()) == 1


def test_a_debit_with_the_payouts_end_to_end_id_confirms_the_disbursement(
    world: IngestWorld, outcomes: FakePaymentOutcomes
) -> None:
    loan = world.active_loan(3, "S1", 2_500_000)
    data = camt054([camt_entry("25000.00", "DBIT", reference="OUT-1", end_to_end=f"PAY{loan}")])
    key = f"{BANK}/payouts.xml"
    world.drop(key, data)
    (match,) = world.report(key)["matches"]
    assert match["matched"] == {
        "type": "PAYMENT",
        "payment_id": f"PAY{loan}",
        "report": "SETTLED",
        "effect": "SETTLED",
        "value_date": "2026-01-11",
    }
    assert outcomes.reports == [
        PaymentReport(
            f"PAY{loan}",
            BANK,
            PaymentStatus.SETTLED,
            "camt.054",
            date(2026, 1, 11),
            None,
            f"{BANK}/payouts.xml",
        )
    ]
    payment = PaymentItem.get(*PaymentItem.key(f"PAY{loan}"))
    assert payment.statement_confirmation is None and payment.status_report is None  # never written here
    assert world.repayment_events() == []
    # A debit for another amount is never taken as the confirmation.
    wrong = camt054(
        [camt_entry("24000.00", "DBIT", reference="OUT-2", end_to_end=f"PAY{loan}")], message_id="M2"
    )
    world.drop(f"{BANK}/payouts-2.xml", wrong)
    (other,) = world.report(f"{BANK}/payouts-2.xml")["matches"]
    assert (other["matched"], other["code"]) == ("UNMATCHED", "AMOUNT_MISMATCH")
    assert len(outcomes.reports) == 1


def test_a_reversed_credit_is_listed_for_review_and_never_applied(world: IngestWorld) -> None:
    loan = world.active_loan(4, "S1", 1_000_000)
    data = camt054([camt_entry("100.00", "DBIT", reference="RV-1", remittance=loan, reversal=True)])
    world.drop(f"{BANK}/reversal.xml", data)
    (match,) = world.report(f"{BANK}/reversal.xml")["matches"]
    assert (match["matched"], match["code"]) == ("UNMATCHED", "REVERSAL_NEEDS_REVIEW")
    assert world.repayment_events() == []
    (item,) = BankEntryItem.scan(BankEntryItem.code == "REVERSAL_NEEDS_REVIEW")
    assert item.matched["original"]["loan_ids"] == [loan] and item.reversal is True


def test_unmatched_entries_are_listed_for_ops_with_their_facts(world: IngestWorld) -> None:
    data = camt054(
        [camt_entry("12.34", "CRDT", reference=f"U-{i}", remittance=f"unknown {i}") for i in range(3)]
    )
    key = f"{BANK}/unknown.xml"
    world.drop(key, data)
    ops = {"sub": "ops-1", "cognito:groups": "ops", "token_use": "id"}
    event = api_event("GET", "/v1/unmatched", supplier_id=None, query={"limit": "2"})
    event["requestContext"]["authorizer"]["claims"] = ops
    page = json.loads(world.ingest.handler(event, LambdaContext())["body"])
    assert len(page["items"]) == 2 and page["next_token"]
    item = page["items"][0]
    assert (item["bank"], item["amount"], item["direction"], item["file_key"], item["code"]) == (
        BANK,
        "12.34",
        "CREDIT",
        key,
        "NO_REFERENCE",
    )
    assert item["references"]["remittance"].startswith("unknown") and item["line"] > 1
    event["queryStringParameters"] = {"limit": "2", "next_token": page["next_token"]}
    rest = json.loads(world.ingest.handler(event, LambdaContext())["body"])
    assert len(rest["items"]) == 1
    supplier = world.ingest.handler(api_event("GET", "/v1/unmatched", supplier_id="S1"), LambdaContext())
    assert supplier["statusCode"] == 403


def test_a_bank_amount_with_three_decimals_is_two_decimal_money_in_the_report_and_the_list(
    world: IngestWorld,
) -> None:
    """Issue 10 point 7: a camt.054 entry of 8.850 CNY is "8.85" wherever it is shown."""
    key = f"{BANK}/three-decimals.xml"
    world.drop(key, camt054([camt_entry("8.850", "CRDT", reference="D3-1", remittance="unknown")]))
    (match,) = world.report(key)["matches"]
    assert (match["amount"], match["code"]) == ("8.85", "NO_REFERENCE")
    event = api_event("GET", "/v1/unmatched", supplier_id=None)
    event["requestContext"]["authorizer"]["claims"] = {"sub": "ops-1", "cognito:groups": "ops"}
    (item,) = json.loads(world.ingest.handler(event, LambdaContext())["body"])["items"]
    assert (item["amount"], item["currency"]) == ("8.85", "CNY")


def pain002_rjct(end_to_end: str, reason: str = "AC01") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-01-02T09:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>PAYOUTS-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{end_to_end}</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>{end_to_end}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
""".encode()


def test_a_rejected_payout_in_a_pain002_is_a_rejected_report_and_a_returned_one_goes_to_ops(
    world: IngestWorld, outcomes: FakePaymentOutcomes
) -> None:
    loan = world.active_loan(5, "S1", 1_000_000)
    outcomes.effects[f"PAY{loan}"] = "PAYOUT_RETURNED"  # it had settled: the service changes nothing
    key = f"{BANK}/status/sts-1.xml"
    world.drop(key, pain002_rjct(f"PAY{loan}"))
    report = world.report(key)
    assert report["format"] == "pain.002" and report["status"] == "PROCESSED"
    (match,) = report["matches"]
    assert match["matched"] == {
        "type": "PAYMENT_STATUS",
        "payment_id": f"PAY{loan}",
        "report": "REJECTED",
        "effect": "PAYOUT_RETURNED",
        "reason_code": "AC01",
        "status": "RJCT",
        "code": "PAYOUT_RETURNED",
    }
    assert match["code"] == "PAYOUT_RETURNED"
    assert outcomes.reports == [
        PaymentReport(f"PAY{loan}", BANK, PaymentStatus.REJECTED, "pain.002", None, "AC01", key)
    ]
    (listed,) = BankEntryItem.scan(BankEntryItem.gsi1pk == "UNMATCHED#OPEN")
    assert (listed.code, listed.file_key) == ("PAYOUT_RETURNED", key)
    # Redelivered (a crash before the message was deleted): the status is answered once.
    world.deliver(key)
    assert len(outcomes.reports) == 1


def test_a_status_from_a_bank_the_payment_did_not_go_through_is_rejected_for_that_entry(
    world: IngestWorld, outcomes: FakePaymentOutcomes
) -> None:
    loan = world.active_loan(6, "S1", 1_000_000)
    outcomes.effects[f"PAY{loan}"] = "NOT_SENDERS_PAYMENT"
    key = f"{BANK}/status/other-bank.xml"
    world.drop(key, pain002_rjct(f"PAY{loan}"))
    report = world.report(key)
    assert (report["status"], report["rows_accepted"], report["rows_rejected"]) == ("PROCESSED", 0, 1)
    assert report["matches"] == []
    (error,) = report["errors"]
    assert error["code"] == "NOT_SENDERS_PAYMENT" and error["field"].endswith("/TxInfAndSts")
    assert error["line"] == 8
    assert world.money.loan(loan).status == "ACTIVE"
    assert list(BankEntryItem.scan(BankEntryItem.gsi1pk == "UNMATCHED#OPEN")) == []


def test_the_loan_id_pattern_recognises_real_loan_ids_inside_free_text() -> None:
    from scf.domain.ids import LOAN_ID, new_id
    from scf.domain.ids import PAYOUT_PAYMENT_ID as PAYMENT_ID

    for _ in range(50):
        loan = new_id("LN")
        assert LOAN_ID.findall(f"REF/{loan}-TAIL") == [loan]
        assert LOAN_ID.findall(f"REPAY{loan}THANKS") == [loan]  # wrapped MT940 text, no separator
        assert PAYMENT_ID.fullmatch(f"PAY{loan}").group(1) == loan  # type: ignore[union-attr]
        assert len(f"PAY{loan}") <= 35
    assert LOAN_ID.findall("LN0000000000000000000I") == []  # I is not Crockford base32


def collect(world: IngestWorld, loan: str, amount: str, key: str) -> str:
    """A repayment the supplier asked for through the API, collected by the bank and APPLIED."""
    answer = world.money.api(
        "POST",
        f"/v1/loans/{loan}/repayments",
        supplier_id="S1",
        body={"amount": amount},
        headers={"Idempotency-Key": key},
    )
    assert answer.status == 202, answer.body
    repayment_id: str = answer.body["repayment_id"]
    world.money.deliver("repayments")
    assert RepaymentItem.get(*RepaymentItem.key(repayment_id)).status == "APPLIED"
    return repayment_id


def test_a_collected_repayment_on_the_lenders_statement_is_not_applied_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9 point 5: the collection's booking (end-to-end id = the repayment id, remittance = the
    loan id) on the lender's camt.054 confirms that collection; it is never a new BANK_CREDIT. The
    statement comes from the bank the payments went through (the money world's SIMBANK)."""
    for world in ingest_world(tmp_path, monkeypatch, {"SIMBANK": [LENDER_ACCOUNT]}):
        world.set_today(date(2026, 1, 1))
        loan = world.active_loan(7, "S1", 10_000_000)
        world.set_today(date(2026, 1, 11))
        repayment_id = collect(world, loan, "5000.00", "k-collect")
        before = (world.money.loan(loan).attribute_values, world.money.ledger(loan))
        events = world.repayment_events()
        data = camt054(
            [camt_entry("5000.00", "CRDT", reference="COL-1", end_to_end=repayment_id, remittance=loan)]
        )
        key = "SIMBANK/2026/01/11/collections.xml"
        world.drop(key, data)
        (match,) = world.report(key)["matches"]
        assert match["matched"] != "UNMATCHED" and match["matched"]["type"] != "REPAYMENT"
        assert (match["matched"]["payment_id"], match["matched"]["report"]) == (repayment_id, "SETTLED")
        world.money.deliver("repayments")
        assert world.repayment_events() == events
        after = (world.money.loan(loan).attribute_values, world.money.ledger(loan))
        assert after == before
        world.money.assert_ledger_matches_loan(loan)


# The shared pain.002 samples (tests/fixtures/bank-samples, origins in MANIFEST.tsv) as they are: none
# names one of our payments, so nothing is applied; what each status is matched to.
PAIN002_SAMPLES: dict[str, list[tuple[str, str | None]]] = {
    "pain002/moov_six_pain002_grp_actc.xml": [("GROUP", None)],  # not final: recorded, not listed
    "pain002/moov_six_pain002_part.xml": [("PAYMENT_INFO", None), ("TRANSACTION", "NO_REFERENCE")],
    "pain002/moov_six_pain002_tx_rjct_ac01.xml": [("PAYMENT_INFO", None), ("TRANSACTION", "NO_REFERENCE")],
}


@pytest.mark.parametrize("name", sorted(PAIN002_SAMPLES))
def test_the_shared_pain002_samples_apply_nothing_that_is_not_ours(
    world: IngestWorld, outcomes: FakePaymentOutcomes, name: str
) -> None:
    key = f"{BANK}/samples/{name}"
    world.drop(key, (SAMPLES / name).read_bytes())
    report = world.report(key)
    assert (report["status"], report["format"], report["errors"]) == ("PROCESSED", "pain.002", [])
    seen = [
        (m["matched"]["level"] if m["matched"] != "UNMATCHED" else "TRANSACTION", m.get("code"))
        for m in report["matches"]
    ]
    assert seen == PAIN002_SAMPLES[name]
    assert outcomes.reports == []


def test_the_shared_rejection_sample_about_our_payout_rejects_it_with_its_reason(
    world: IngestWorld, outcomes: FakePaymentOutcomes
) -> None:
    """pain002/moov_six_pain002_tx_rjct_ac01.xml (PostFinance, via moov-io/iso20022) with its
    end-to-end id replaced by our payout's: PmtInf RJCT (NARR) summarises, the transaction's RJCT
    AC01 is the report."""
    loan = world.active_loan(8, "S1", 1_000_000)
    sample = (SAMPLES / "pain002/moov_six_pain002_tx_rjct_ac01.xml").read_bytes()
    key = f"{BANK}/status/postfinance-rjct.xml"
    world.drop(key, sample.replace(b"EndToEndId-006-01-01", f"PAY{loan}".encode()))
    summary, transaction = world.report(key)["matches"]
    assert summary["matched"] == {"type": "PAYMENT_STATUS", "level": "PAYMENT_INFO", "status": "RJCT"}
    assert (transaction["reference"], transaction["matched"]["effect"]) == (f"PAY{loan}", "REJECTED")
    assert outcomes.reports == [
        PaymentReport(f"PAY{loan}", BANK, PaymentStatus.REJECTED, "pain.002", None, "AC01", key)
    ]


def test_the_shared_return_sample_about_our_payout_is_a_rejected_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """camt054/moov_postfinance_camt054_return.xml (PostFinance, via moov-io/iso20022: a returned
    credit transfer, CRDT with RvslInd) with our payout's end-to-end id, amount and currency."""
    name = "camt054/moov_postfinance_camt054_return.xml"
    for world in ingest_world(tmp_path, monkeypatch, {BANK: sample_accounts(name)}):
        fake = FakePaymentOutcomes(effects={})
        monkeypatch.setattr(world.ingest, "payment_outcomes", lambda *_, f=fake: f)
        loan = world.active_loan(9, "S1", 50_000)
        fake.effects[f"PAY{loan}"] = "PAYOUT_RETURNED"
        sample = (SAMPLES / name).read_bytes()
        adapted = sample.replace(b"EndToEndId-001-03-04", f"PAY{loan}".encode()).replace(b'"CHF"', b'"CNY"')
        key = f"{BANK}/returns/postfinance-return.xml"
        world.drop(key, adapted)
        (match,) = world.report(key)["matches"]
        assert (match["matched"]["effect"], match["code"]) == ("PAYOUT_RETURNED", "PAYOUT_RETURNED")
        (report,) = fake.reports
        assert (report.payment_id, report.status, report.source, report.value_date) == (
            f"PAY{loan}",
            PaymentStatus.REJECTED,
            "camt.054",
            date(2020, 11, 24),
        )
        assert world.repayment_events() == []


# With the real outcome service (scf.service.outcomes, issue9-lifecycle): skipped until it merges.
needs_outcomes = pytest.mark.skipif(
    importlib.util.find_spec("scf.service.outcomes") is None,
    reason="scf.service.outcomes (issue9-lifecycle) is not merged yet",
)


@needs_outcomes
def test_a_pain002_rjct_for_a_payout_still_disbursing_fails_the_loan_and_releases_its_reservation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for world in ingest_world(tmp_path, monkeypatch, {"SIMBANK": [LENDER_ACCOUNT]}):
        world.money.add_supplier("S1", "6217000000000011")
        loan = "LN0000000000000000D011"
        world.money.approve_loan(loan, "S1", 1_000_000)
        world.money.bank.faults.unavailable_next = 1_000  # the order's outcome stays unknown
        world.money.bank.faults.status_unavailable = True
        world.money.deliver("disbursements")
        assert world.money.loan(loan).status == "DISBURSING"
        key = "SIMBANK/status/rjct-while-disbursing.xml"
        world.drop(key, pain002_rjct(f"PAY{loan}"))
        (match,) = world.report(key)["matches"]
        assert (match["matched"]["effect"], match.get("code")) == ("REJECTED", None)
        assert world.money.loan(loan).status == "FAILED"
        assert world.money.exposure("S1").principal_minor == 0


@needs_outcomes
def test_a_pain002_rjct_after_the_payout_settled_is_a_returned_payout_for_ops_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks = {"SIMBANK": [LENDER_ACCOUNT], BANK: ["CH5604835012345678009"]}
    for world in ingest_world(tmp_path, monkeypatch, banks):
        loan = world.active_loan(12, "S1", 1_000_000)
        before = (world.money.loan(loan).attribute_values, world.money.ledger(loan))
        key = "SIMBANK/status/late-rjct.xml"
        world.drop(key, pain002_rjct(f"PAY{loan}"))
        (match,) = world.report(key)["matches"]
        assert (match["matched"]["effect"], match["code"]) == ("PAYOUT_RETURNED", "PAYOUT_RETURNED")
        (listed,) = BankEntryItem.scan(BankEntryItem.gsi1pk == "UNMATCHED#OPEN")
        assert listed.code == "PAYOUT_RETURNED"
        # The same answer from a bank the payout did not go through: rejected for that entry.
        other = f"{BANK}/status/late-rjct.xml"
        world.drop(other, pain002_rjct(f"PAY{loan}", reason="AC04"))
        assert [e["code"] for e in world.report(other)["errors"]] == ["NOT_SENDERS_PAYMENT"]
        assert (world.money.loan(loan).attribute_values, world.money.ledger(loan)) == before


def test_a_statement_rejected_for_the_banks_configuration_is_processed_when_sent_again_after_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A REJECTED file is no claim on its bytes: the same file at the same key, once the bank's
    accounts are configured, is processed (not a DUPLICATE, not ignored)."""
    data = camt054([camt_entry("12.34", "CRDT", reference="U-1", remittance="unknown")])
    key = f"{BANK}/2026/01/11/statement.xml"
    for world in ingest_world(tmp_path, monkeypatch, {BANK: ["CN00OTHERACCOUNT"]}):
        world.drop(key, data)
        assert world.report(key)["status"] == "REJECTED"
        banks = json.loads(os.environ["BANKS"])
        banks["banks"][BANK]["accounts"] = [{"account_number": LENDER_ACCOUNT, "name": "SCF Lender"}]
        monkeypatch.setenv("BANKS", json.dumps(banks))
        config.settings.cache_clear()
        world.ingest.bootstrap.cache_clear()
        world.drop(key, data)
        report = world.report(key)
        assert (report["status"], report["rows_accepted"]) == ("PROCESSED", 1)
