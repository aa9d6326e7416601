"""camt.053 / camt.054: every shared sample read into concrete entries, plus one regression test
per trap (impossible dates, precision, missing namespace, NOTPROVIDED, status shapes)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from scf.adapters.files.camt import parse_camt
from scf.domain.bank_files import BOOKED, CREDIT, DEBIT, PENDING, ParseResult

from ._samples import read_sample, reconciles

pytestmark = pytest.mark.unit


def camt(sample: str) -> ParseResult:
    return parse_camt(read_sample(sample))


def test_postfinance_statement_with_batches_and_reversals() -> None:
    result = camt("camt053/dvbern_postfinance_camt053_2016.xml")
    assert result.format == "camt.053" and result.errors == ()
    (statement,) = result.statements
    assert statement.version == "001.04"
    assert statement.message_id == "20160430375204000008573"
    assert statement.statement_id == "20160430375204000008574"
    assert statement.account == "CH0309000000250090342"
    assert statement.opening_balance is not None and statement.closing_balance is not None
    assert (statement.opening_balance.amount_minor, statement.opening_balance.date) == (
        32215216,
        date(2016, 4, 29),
    )
    assert (statement.closing_balance.amount_minor, statement.closing_balance.direction) == (32268977, CREDIT)
    assert len(statement.entries) == 13
    assert [e.line for e in statement.entries][:3] == [53, 85, 117]
    first = statement.entries[0]
    assert (first.amount_minor, first.currency, first.direction, first.status) == (2400, "CHF", DEBIT, BOOKED)
    assert first.bank_reference == "20160401001027080060699001000107"
    assert first.additional_info == "UEBRIGE: 25-9034-2 FÜR KONTOAUSZUG PAPIER TÄGLICH"
    assert first.path == "/Document/BkToCstmrStmt/Stmt/Ntry"

    batch = statement.entries[6]
    assert batch.path == "/Document/BkToCstmrStmt/Stmt/Ntry[7]"
    assert (batch.amount_minor, batch.direction, batch.batch, batch.batch_size) == (100000, CREDIT, True, 10)
    assert (batch.booking_date, batch.value_date) == (date(2016, 5, 27), date(2016, 5, 30))
    assert [t.amount_minor for t in batch.transactions] == [
        10000,
        5000,
        20000,
        5000,
        10000,
        20000,
        5000,
        10000,
        5000,
        10000,
    ]
    assert sum(t.amount_minor or 0 for t in batch.transactions) == batch.amount_minor
    assert batch.transactions[0].remittance == "000000000002015110002913192 ?REJECT?0"
    assert batch.transactions[0].bank_reference == "160527CH00T3L0GE"
    assert sum(t.amount_minor or 0 for t in statement.entries[7].transactions) == 62000

    two_payments = statement.entries[9]
    assert two_payments.end_to_end_ids == (
        "EndToEnd-CRDBRActSame-1B9C-CHDDBB2",
        "EndToEnd-CRDBRActSame-1B9C-CHDDBB3",
    )
    reversals = [e for e in statement.entries if e.reversal]
    assert [(e.amount_minor, e.direction, e.end_to_end_ids) for e in reversals] == [
        (600, DEBIT, ("EndToEnd-2B6C-CHDDBB5",)),
        (1553, DEBIT, ("E2E-1-1-16030913",)),
    ]
    assert reconciles(statement)


def test_three_decimal_amounts_that_are_exact_in_cents_are_accepted() -> None:
    result = camt("camt053/genkgo_v2_five_decimals.xml")
    assert result.errors == ()
    (entry,) = result.entries
    assert (entry.amount, entry.amount_minor) == (Decimal("8.850"), 885)
    assert entry.end_to_end_ids == ("000000001",)
    assert entry.remittance == "Transaction Description"
    opening = result.statements[0].opening_balance
    assert opening is not None and opening.amount_minor == 1815


def test_two_statements_in_one_file() -> None:
    result = camt("camt053/genkgo_v2_multi_statement.xml")
    assert result.errors == ()
    assert [s.statement_id for s in result.statements] == [
        "253EURNL26VAYB8060476890",
        "254EURNL26VAYB8060476890",
    ]
    assert [s.line for s in result.statements] == [26, 112]
    assert [(s.account, s.currency) for s in result.statements] == [("NL26VAYB8060476890", "EUR")] * 2
    first, second = (s.entries[0] for s in result.statements)
    assert (first.line, first.amount_minor, first.direction, first.end_to_end_ids) == (
        66,
        885,
        CREDIT,
        ("000000001",),
    )
    assert (second.line, second.amount_minor, second.direction, second.end_to_end_ids) == (
        145,
        700,
        DEBIT,
        ("000000002",),
    )
    assert second.remittance == "Transaction Description 2"
    assert second.path == "/Document/BkToCstmrStmt/Stmt[2]/Ntry"
    assert all(reconciles(s) for s in result.statements)


def test_statement_message_without_statements_is_rejected() -> None:
    result = camt("camt053/genkgo_v2_wrong_no_stmt.xml")
    assert result.rejected
    ((line, field, code),) = [(e.line, e.field, e.code) for e in result.errors]
    assert (line, field, code) == (3, "/Document/BkToCstmrStmt", "NO_STATEMENTS")


def test_version_8_status_code_datetime_and_structured_reference() -> None:
    result = camt("camt053/genkgo_v8_multicurrency.xml")
    assert result.errors == ()
    (statement,) = result.statements
    assert (statement.version, statement.account, statement.currency) == (
        "001.08",
        "NL26VAYB8060476890",
        None,
    )
    (entry,) = statement.entries
    assert (entry.amount_minor, entry.currency, entry.status, entry.reversal) == (885, "EUR", BOOKED, False)
    assert entry.booking_date == date(2014, 12, 31)  # from <DtTm>2014-12-31T13:15:00+01:00
    assert entry.bank_reference == "AAAASESS-FP-CN_98765/01"
    assert entry.end_to_end_ids == ("MUELL/FINP/RA12345",)
    assert entry.remittance == "4654654654654654"
    (transaction,) = entry.transactions
    assert (transaction.amount_minor, transaction.currency) == (0, "SEK")
    closing = statement.closing_balance
    assert closing is not None and (closing.amount_minor, closing.currency, closing.direction) == (
        2700,
        "SEK",
        DEBIT,
    )


def test_finnish_statement_with_batch_bookings() -> None:
    result = camt("camt053/moov_FI_camt053_batch.xml")
    assert result.errors == ()
    (statement,) = result.statements
    assert (statement.account, statement.servicer_bic, statement.sequence) == (
        "FI7433010001222090",
        "ESSEFIHX",
        "97",
    )
    assert len(statement.entries) == 10
    assert [e.amount_minor for e in statement.entries] == [
        100012, 400000, 423005, 200000, 50000, 300000, 212000, 545500, 1000000, 20000,
    ]  # fmt: skip
    announced_only = statement.entries[1]
    assert (announced_only.batch, announced_only.batch_size, announced_only.transactions) == (True, 3, ())
    batch = statement.entries[2]
    assert [t.amount_minor for t in batch.transactions] == [200002, 100001, 123002]
    assert [t.remittance for t in batch.transactions] == ["3900", "Invoices 123 and 321", "217827182718"]
    assert batch.remittance == "3900 Invoices 123 and 321 217827182718"
    assert statement.entries[6].value_date == date(2009, 10, 30)
    assert statement.entries[8].end_to_end_ids == ("EndToEndIdSCT01",)
    assert statement.entries[8].remittance == "RF98123456789012"
    assert reconciles(statement)


def test_notification_with_reversal_and_pending_entry() -> None:
    result = camt("camt054/dvbern_pending_and_reversed.xml")
    assert result.format == "camt.054" and result.errors == ()
    (notification,) = result.statements
    assert (notification.statement_id, notification.account) == ("NtfctnId20170726", "CH160077401231234567")
    assert notification.opening_balance is None
    reversed_credit, pending, debit = notification.entries
    assert (reversed_credit.line, reversed_credit.amount_minor, reversed_credit.direction) == (
        20,
        11100,
        CREDIT,
    )
    assert reversed_credit.reversal and reversed_credit.status == BOOKED
    assert reversed_credit.remittance == "123456789012345678901234567"
    assert (pending.status, pending.booking_date, pending.amount_minor) == (PENDING, None, 200)
    assert pending.bank_reference == "170557CH00T3HG30"
    assert (debit.direction, debit.reversal, debit.booking_date) == (DEBIT, False, date(2017, 7, 26))


def test_notification_batch_with_repeated_end_to_end_id() -> None:
    result = camt("camt054/genkgo_v4_batch.xml")
    assert result.errors == ()
    (entry,) = result.entries
    assert (entry.amount_minor, entry.currency, entry.direction) == (20000000, "SEK", DEBIT)
    assert (entry.batch, entry.batch_size) == (True, 2)
    assert [(t.amount_minor, t.currency, t.direction) for t in entry.transactions] == [
        (310, "CHF", CREDIT),
        (320, "CHF", CREDIT),
        (320, "CHF", CREDIT),
    ]
    assert [t.line for t in entry.transactions] == [94, 179, 258]
    assert entry.end_to_end_ids == ("UXC06170000006PI00001EE00001", "UXC06170000006PI00001EE00002")
    assert entry.transactions[2].remittance == (
        "Unstructured Remittance Information V3 block 1 Unstructured Remittance Information V3 block 2 "
        "Ref number V3 block 1 Additional Remittance Information V3 block 1 "
        "Ref number V3 block 2 Additional Remittance Information V3 block 2"
    )
    assert result.statements[0].servicer_bic == "UBSWCHZH80A"


def test_notification_with_uetr_only() -> None:
    (entry,) = camt("camt054/genkgo_v8_uetr.xml").entries
    assert (entry.amount_minor, entry.status, entry.end_to_end_ids) == (20000000, BOOKED, ())
    assert entry.transactions[0].uetr == "255ae394-9965-4438-ac86-f406feada396"


def test_debit_notification_confirms_a_payment_by_end_to_end_id() -> None:
    (entry,) = camt("camt054/moov_postfinance_camt054_debit.xml").entries
    assert (entry.amount_minor, entry.direction, entry.reversal) == (91300, DEBIT, False)
    assert entry.end_to_end_ids == ("20190424001255000100006",)
    assert entry.value_date == date(2019, 4, 25)


def test_returned_payment_is_a_reversed_credit_with_its_reason() -> None:
    (entry,) = camt("camt054/moov_postfinance_camt054_return.xml").entries
    assert (entry.amount_minor, entry.direction, entry.reversal, entry.batch) == (50000, CREDIT, True, False)
    assert entry.end_to_end_ids == ("EndToEndId-001-03-04",)
    assert entry.transactions[0].return_reason == "AC01"
    assert "RETOUR TRANSAKTION" in entry.additional_info


def test_outgoing_pain001_is_not_a_statement() -> None:
    result = camt("pain001/moov_lt_sepa_pain001.xml")
    assert result.rejected
    assert [(e.line, e.code) for e in result.errors] == [(2, "NOT_A_STATEMENT")]


# Synthetic documents: one trap each.

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"


def entry_xml(
    amount: str = "10.00", ccy: str = "EUR", booked: str = "2023-02-28", status: str = "<Sts>BOOK</Sts>"
) -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>{status}'
        f"<BookgDt><Dt>{booked}</Dt></BookgDt>"
        "<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
        "<RmtInf><Ustrd>LOAN-0001</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def statement_xml(*entries: str, version: str = "02", namespace: bool = True, account: bool = True) -> bytes:
    ns = f' xmlns="{NS.format(version=version)}"' if namespace else ""
    acct = "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>" if account else ""
    body = "\n".join(entries)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{ns}>\n<BkToCstmrStmt>\n'
        f"<GrpHdr><MsgId>M1</MsgId></GrpHdr>\n<Stmt><Id>S1</Id>{acct}\n{body}\n</Stmt>\n</BkToCstmrStmt>\n</Document>"
    ).encode()


def test_impossible_date_rejects_that_entry_only() -> None:
    result = parse_camt(statement_xml(entry_xml(), entry_xml(booked="2023-02-30")))
    assert [e.line for e in result.entries] == [6]
    (error,) = result.errors
    assert (error.line, error.code) == (7, "INVALID_DATE")
    assert error.field == "/Document/BkToCstmrStmt/Stmt/Ntry[2]/BookgDt/Dt"


def test_amount_not_exact_in_cents_is_kept_exact_and_flagged() -> None:
    result = parse_camt(statement_xml(entry_xml(amount="18.155")))
    (entry,) = result.entries
    assert (entry.amount, entry.amount_minor) == (Decimal("18.155"), None)
    assert [(e.line, e.code, e.field) for e in result.errors] == [
        (6, "AMOUNT_PRECISION", "/Document/BkToCstmrStmt/Stmt/Ntry/Amt")
    ]


@pytest.mark.parametrize(
    ("amount", "ccy", "minor"),
    [("2700", "JPY", 2700), ("1.234", "KWD", 1234), ("0.00001", "EUR", None), ("12.", "EUR", 1200)],
)
def test_minor_units_follow_the_currency_exponent(amount: str, ccy: str, minor: int | None) -> None:
    (entry,) = parse_camt(statement_xml(entry_xml(amount=amount, ccy=ccy))).entries
    assert entry.amount_minor == minor


@pytest.mark.parametrize(
    ("amount", "ccy", "code"),
    [("-5.00", "EUR", "INVALID_AMOUNT"), ("1.000001", "EUR", "INVALID_AMOUNT"),
     ("1e3", "EUR", "INVALID_AMOUNT"), ("5.00", "eur", "INVALID_CURRENCY"), ("", "EUR", "INVALID_AMOUNT")],
)  # fmt: skip
def test_unreadable_amounts_reject_the_entry(amount: str, ccy: str, code: str) -> None:
    result = parse_camt(statement_xml(entry_xml(amount=amount, ccy=ccy)))
    assert result.entries == ()
    assert [(e.line, e.code) for e in result.errors] == [(6, code)]


def test_notprovided_end_to_end_id_is_dropped_and_remittance_kept() -> None:
    (entry,) = parse_camt(statement_xml(entry_xml())).entries
    assert entry.end_to_end_ids == ()
    assert entry.transactions[0].end_to_end_id is None
    assert entry.remittance == "LOAN-0001"


def test_status_is_read_in_both_shapes() -> None:
    result = parse_camt(statement_xml(entry_xml(status="<Sts><Cd>PDNG</Cd></Sts>"), version="08"))
    assert [e.status for e in result.entries] == [PENDING]
    result = parse_camt(statement_xml(entry_xml(status="<Sts>XXXX</Sts>")))
    assert [e.code for e in result.errors] == ["INVALID_VALUE"] and result.entries == ()


def test_document_without_namespace_is_recognised_then_rejected() -> None:
    result = parse_camt(statement_xml(entry_xml(), namespace=False))
    assert result.rejected and result.format == "camt.053"
    assert [(e.line, e.field, e.code) for e in result.errors] == [(2, "/Document", "NAMESPACE_MISSING")]


@pytest.mark.parametrize("version", ["01", "09", "13"])
def test_versions_outside_02_to_08_are_rejected(version: str) -> None:
    result = parse_camt(statement_xml(entry_xml(), version=version))
    assert [e.code for e in result.errors] == ["UNSUPPORTED_VERSION"]


def test_statement_without_account_is_dropped_with_a_located_error() -> None:
    result = parse_camt(statement_xml(entry_xml(), account=False))
    assert result.statements == ()
    assert [(e.line, e.field, e.code) for e in result.errors] == [
        (5, "/Document/BkToCstmrStmt/Stmt/Acct/Id", "MISSING_FIELD")
    ]


def test_bank_variant_namespace_is_accepted() -> None:
    data = statement_xml(entry_xml()).replace(
        NS.format(version="02").encode(),
        b"http://www.six-interbank-clearing.com/de/camt.053.001.04.ch.01.xsd",
    )
    result = parse_camt(data)
    assert result.errors == () and result.statements[0].version == "001.04"


# ---- leniency: real files bend the standard (docs/bank-files.md, "Leniency") -------------------


@pytest.mark.parametrize(("amount", "minor"), [("12.34000", 1234), ("0.10000", 10), ("7.00001", None)])
def test_five_decimal_amounts_are_exact_or_refused_for_matching(amount: str, minor: int | None) -> None:
    result = parse_camt(statement_xml(entry_xml(amount=amount)))
    (entry,) = result.entries
    assert (entry.amount, entry.amount_minor) == (Decimal(amount), minor)
    assert [e.code for e in result.errors] == ([] if minor is not None else ["AMOUNT_PRECISION"])


def test_a_statement_without_entries_is_a_statement() -> None:
    result = parse_camt(statement_xml())
    assert result.errors == ()
    (statement,) = result.statements
    assert (statement.statement_id, statement.entries) == ("S1", ())


def test_status_code_element_of_version_8_is_read() -> None:
    result = parse_camt(statement_xml(entry_xml(status="<Sts><Cd>BOOK</Cd></Sts>"), version="08"))
    assert [e.status for e in result.entries] == [BOOKED] and result.errors == ()
