"""MT940 / MT942 through the mt-940 package: every shared sample, plus the traps it does not catch
(30 February, CP1250 text, a broken statement among good ones, statement-level :86:)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from scf.adapters.files.mt940 import decode, parse_mt940
from scf.domain.bank_files import BOOKED, CREDIT, DEBIT, INFO, ParseResult

from ._samples import read_sample, reconciles

pytestmark = pytest.mark.unit


def mt940(sample: str) -> ParseResult:
    return parse_mt940(read_sample(sample))


def test_german_sepa_file_with_26_statements_and_reversals() -> None:
    result = mt940("mt940/wolph_betterplace_sepa_mt9401.sta")
    assert result.format == "mt940" and result.errors == ()
    assert (len(result.statements), len(result.entries)) == (26, 97)
    first = result.statements[0]
    assert (first.statement_id, first.account, first.sequence) == (
        "T089413946000001",
        "50880050/0194774600888",
        "00004/00001",
    )
    assert (first.version, first.currency, first.line) == ("MT940", "EUR", 1)
    assert first.opening_balance is not None and first.closing_balance is not None
    assert (
        first.opening_balance.code,
        first.opening_balance.amount_minor,
        first.opening_balance.direction,
    ) == ("60F", 123471836, DEBIT)
    assert (first.closing_balance.amount_minor, first.closing_balance.date) == (123762823, date(2007, 9, 4))
    assert [e.line for e in first.entries] == [5, 8, 11, 14, 16, 19, 21]
    assert [e.amount_minor for e in first.entries] == [
        30000,
        33533,
        1500000,
        6629508,
        91531155,
        20488,
        99994695,
    ]
    # RCR = reversal of a credit: the money goes out again.
    reversals = [(e.line, e.amount_minor, e.direction) for e in result.entries if e.reversal]
    assert reversals == [(19, 20488, DEBIT), (101, 20488, DEBIT)]
    assert all(reconciles(statement) for statement in result.statements)

    structured = result.entries[7]
    assert (structured.line, structured.end_to_end_ids) == (30, ("EndToEndIdTFNR2000400001",))
    assert structured.bank_reference == "0724710290621954"
    assert structured.remittance.startswith(
        "EREF+EndToEndIdTFNR2000400001SVWZ+TO 13 TFNr 20004 Eingangskanal Mint"
    )
    # ?2x pieces cut mid-word are joined back: "Ri" + "chter" in the file.
    assert "Auftraggeber: Richter Renat" in structured.remittance
    debit = result.entries[8]
    assert (debit.direction, debit.owner_reference, debit.bank_reference) == (
        DEBIT,
        "KREF+",
        "BD7CFA74485E7E69",
    )


def test_citi_file_with_funds_code_and_zero_amount_lines() -> None:
    result = mt940("mt940/wolph_citi.txt")
    assert result.errors == ()
    (statement,) = result.statements
    assert (statement.statement_id, statement.account, statement.sequence, statement.currency) == (
        "asdfsdfdsf",
        "123456789",
        "1/1",
        "USD",
    )
    assert [(e.line, e.amount_minor, e.direction) for e in statement.entries] == [
        (5, 21239, DEBIT), (9, 36928, DEBIT), (13, 0, CREDIT), (15, 0, CREDIT), (17, 56108, DEBIT),
    ]  # fmt: skip
    first = statement.entries[0]
    assert (first.value_date, first.booking_date, first.owner_reference) == (date(2024, 3, 12), None, None)
    assert first.additional_info == "/ABC/DEF/MISCELLANEOUS"
    assert first.remittance == "/PT/FT/PY/SOMETHING FOO BAR          112233   123456789"
    assert reconciles(statement)


def test_30_february_is_an_error_not_29_february() -> None:
    result = mt940("mt940/wolph_february_30.sta")
    (statement,) = result.statements
    assert statement.entries == ()
    assert [(e.line, e.field, e.code) for e in result.errors] == [(6, ":61:", "INVALID_DATE")]
    assert "160230" in result.errors[0].message
    assert statement.opening_balance is not None and statement.opening_balance.date == date(2016, 2, 29)


def test_abn_amro_two_statements_with_intermediate_balances() -> None:
    result = mt940("mt940/wolph_jejik_abnamro.sta")
    assert result.errors == ()
    first, second = result.statements
    assert [len(first.entries), len(second.entries)] == [8, 2]
    assert (first.sequence, second.sequence) == ("19321/1", "19322/1")
    assert second.opening_balance is not None and second.opening_balance.code == "60M"
    assert second.closing_balance is not None and second.closing_balance.amount_minor == 184975
    entry = first.entries[1]
    assert (entry.line, entry.amount_minor, entry.direction) == (12, 1159, DEBIT)
    assert (entry.value_date, entry.booking_date) == (date(2011, 5, 21), date(2011, 5, 23))
    assert "BETREFT FACTUUR D.D. 20-05-2011" in first.entries[0].remittance
    assert [e.line for e in second.entries] == [36, 38]


def test_mt942_interim_report_entries_are_information_only() -> None:
    result = mt940("mt940/wolph_mbank_mt942.sta")
    assert result.errors == ()
    (report,) = result.statements
    assert (report.version, report.account, report.currency) == (
        "MT942",
        "PL29114010810000267002001002",
        "PLN",
    )
    assert report.opening_balance is None and report.closing_balance is None
    assert [(e.line, e.amount_minor, e.direction, e.status) for e in report.entries] == [
        (7, 1, CREDIT, INFO), (13, 1, CREDIT, INFO), (19, 1, CREDIT, INFO),
    ]  # fmt: skip
    assert [e.bank_reference for e in report.entries] == [
        "MB170119012058",
        "MB170119012085",
        "MB170119012121",
    ]


# Synthetic files: one trap each.


def statement(*body: str, reference: str = "STMT1", account: str = ":25:DE89370400440532013000") -> str:
    return "\n".join(
        [
            f":20:{reference}",
            account,
            ":28C:1/1",
            ":60F:C230101EUR100,00",
            *body,
            ":62F:C230131EUR100,00",
            "-",
        ]
    )


def test_cp1250_text_is_decoded() -> None:
    text = statement(":61:2301020102C12,50NTRFNONREF", ":86:Zapłata za fakturę LOAN-0001 Łódź")
    result = parse_mt940(text.encode("cp1250"))
    (entry,) = result.entries
    assert entry.remittance == "Zapłata za fakturę LOAN-0001 Łódź"
    assert decode(text.encode("cp1250")) == (text, "cp1250")
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf:20:X") == (":20:X", "utf-8")
    assert decode("Łódź".encode("iso-8859-2"), "iso-8859-2") == ("Łódź", "iso-8859-2")
    assert decode(b"\xb3", "no-such-codec") == ("ł", "cp1250")  # a bad setting never crashes
    assert decode(b"\x81\xb3") == ("\x81ł", "iso-8859-2")  # 0x81 is undefined in CP1250


def test_broken_statement_does_not_take_the_others_down() -> None:
    good = statement(":61:2301020102C12,50NTRFNONREF", ":86:LOAN-0001")
    broken = statement(":61:NOT A STATEMENT LINE", reference="STMT2")
    result = parse_mt940(f"{good}\n{broken}\n{good}".encode())
    assert [s.statement_id for s in result.statements] == ["STMT1", "STMT1"]
    assert [(e.line, e.field, e.code) for e in result.errors] == [(13, ":61:", "MT940_SYNTAX")]


def test_reversal_of_a_debit_is_a_credit() -> None:
    (entry,) = parse_mt940(statement(":61:2301020102RD7,00NTRFNONREF//BANKREF").encode()).entries
    assert (entry.direction, entry.reversal, entry.amount_minor, entry.bank_reference) == (
        CREDIT,
        True,
        700,
        "BANKREF",
    )
    assert entry.status == BOOKED


def test_statement_level_86_after_closing_balance_stays_out_of_the_last_entry() -> None:
    text = (
        statement(":61:2301020102C12,50NTRFNONREF", ":86:LOAN-0001").removesuffix("-")
        + ":86:STATEMENT INFO\n-"
    )
    (entry,) = parse_mt940(text.encode()).entries
    assert entry.remittance == "LOAN-0001"


def test_swift_envelope_and_wrapped_remittance() -> None:
    body = statement(":61:2301020102C12,50NTRFPAYREF123", ":86:REPAYMENT LOAN-00", "01 THANK YOU")
    text = (
        "{1:F01BANKDEFFAXXX0000000000}{2:O9401200230101BANKDEFFAXXX00000000002301011200N}{4:\n" + body + "}"
    )
    result = parse_mt940(text.encode())
    (entry,) = result.entries
    assert (entry.line, entry.owner_reference) == (6, "PAYREF123")
    assert entry.remittance == "REPAYMENT LOAN-0001 THANK YOU"


def test_amount_with_more_decimals_than_the_currency_is_flagged() -> None:
    result = parse_mt940(statement(":61:2301020102C1,234NTRFNONREF").encode())
    (entry,) = result.entries
    assert (entry.amount, entry.amount_minor) == (Decimal("1.234"), None)
    assert [(e.line, e.code) for e in result.errors] == [(5, "AMOUNT_PRECISION")]


def test_impossible_entry_date_and_balance_date() -> None:
    text = statement(":61:2301020231C1,00NTRFNONREF").replace(":60F:C230101", ":60F:C230230")
    result = parse_mt940(text.encode())
    assert result.entries == ()
    assert sorted((e.line, e.field, e.code) for e in result.errors) == [
        (4, ":60F:", "INVALID_DATE"),
        (5, ":61:", "INVALID_DATE"),
    ]
    assert result.statements[0].opening_balance is None


def test_statement_without_account_is_rejected() -> None:
    result = parse_mt940(statement(":61:2301020102C1,00NTRFNONREF", account=":28:1").encode())
    assert result.statements == ()
    assert [(e.line, e.field, e.code) for e in result.errors] == [(1, ":25:", "MISSING_FIELD")]


def test_text_without_statements_is_rejected() -> None:
    result = parse_mt940(b"hello, world\n")
    assert result.rejected
    assert [(e.line, e.code) for e in result.errors] == [(1, "MISSING_FIELD")]


# ---- leniency: real files bend the standard (docs/bank-files.md, "Leniency") -------------------

LONG_REFERENCES = b"""{1:F01BANKDEFFXXXX0000000000}{2:O9400000000000BANKDEFFXXXX00000000000000000000N}{4:
:20:STATEMENT-REFERENCE-LONGER-THAN-16
:25:DE89370400440532013000
:28C:1/1
:60F:C240102EUR1000,00
:61:2401020102C12,34NTRFCUSTOMER-REFERENCE-OVER-16-CHARS//BANKREF-LONGER-THAN-16
SUPPLEMENTARY
:86:Invoice 42
:62F:C240102EUR1012,34
-}"""


def test_references_longer_than_16_characters_are_read_whole() -> None:
    result = parse_mt940(LONG_REFERENCES)
    assert result.errors == ()
    (statement,) = result.statements
    assert statement.statement_id == "STATEMENT-REFERENCE-LONGER-THAN-16"
    (entry,) = statement.entries
    assert entry.owner_reference == "CUSTOMER-REFERENCE-OVER-16-CHARS"
    assert (entry.bank_reference, entry.additional_info) == ("BANKREF-LONGER-THAN-16", "SUPPLEMENTARY")
    assert (entry.amount_minor, entry.remittance) == (1234, "Invoice 42")


def test_a_statement_without_entries_is_a_statement() -> None:
    data = b":20:EMPTY\n:25:DE89370400440532013000\n:28C:7/1\n:60F:C240102EUR5,00\n:62F:C240102EUR5,00\n-"
    result = parse_mt940(data)
    assert result.errors == ()
    (statement,) = result.statements
    assert (statement.entries, statement.sequence) == ((), "7/1")
    assert statement.closing_balance is not None and statement.closing_balance.amount_minor == 500


@pytest.mark.parametrize(
    "ending",
    [b":62F:C240102EUR1012,34\n", b":62F:C240102EUR1012,34", b""],
    ids=["no trailer", "no trailer nor final line break", "no closing balance either"],
)
def test_missing_trailers_do_not_stop_the_statement(ending: bytes) -> None:
    data = LONG_REFERENCES.split(b":62F:")[0] + ending
    (statement,) = parse_mt940(data).statements
    assert [e.amount_minor for e in statement.entries] == [1234]
    assert (statement.closing_balance is None) == (ending == b"")
