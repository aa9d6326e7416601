"""Every bank file published as a test fixture by the reference libraries (wolph/mt940,
genkgo/camt, moov-io/iso20022; tests/fixtures/bank-samples/published, one ORIGIN note per file)
parses, or is refused with the documented reason (docs/bank-files.md, "Leniency").

Refused whole: the single-tag fragments of the libraries' tag tests (UNKNOWN_FORMAT: no :20: and
:25:, not a statement file), a camt without Stmt (NO_STATEMENTS) and a pain.002 without statuses
(NO_STATUSES). Refused per entry or balance: 30 February (INVALID_DATE: dates are never corrected)
and a closing balance without its currency (INVALID_CURRENCY, raphaelm.sta)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scf.adapters.files.bank_detect import parse_bank_file
from tests.support import SAMPLES

pytestmark = pytest.mark.unit

PUBLISHED = SAMPLES / "published"
FOLDERS = {
    "wolph": "wolph-mt940/mt940_tests/",
    "genkgo": "genkgo-camt/test/data/",
    "moov": "moov-io-iso20022/test/testdata/",
}
LICENCES = {"MIT", "BSD-3-Clause", "Apache-2.0"}

# file -> (format, statements, entries, statuses, errors as (line, code))
EXPECTED: dict[str, tuple[str | None, int, int, int, list[tuple[int, str]]]] = {
    "genkgo:camt053.v2.all-balance-types.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.five.decimals.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.minimal.ultimate.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.minimal.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.multi.statement.xml": ("camt.053", 2, 2, 0, []),
    "genkgo:camt053.v2.with-account-name.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.with-party-ids.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v2.wrong.xml": ("camt.053", 0, 0, 0, [(3, "NO_STATEMENTS")]),
    "genkgo:camt053.v3.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v4.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt053.v8.xml": ("camt.053", 1, 1, 0, []),
    "genkgo:camt054.v2.with-account-name.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt054.v2.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt054.v4.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt054.v8-with-UETR.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt054.v8-with-financial-institution.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt054.v8.xml": ("camt.054", 1, 1, 0, []),
    "genkgo:camt53.only-Dt-with-DtTm.xml": ("camt.053", 1, 0, 0, []),
    "moov:200519_camt.054-Credit_P_CH2909000000250094239_1110092691_0_2019042421291293.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml": (
        "camt.054",
        1,
        2,
        0,
        [],
    ),
    "moov:200519_camt054-chdd_p_ch2909000000250094239_1110097484_0_20190520700381159.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052003522556.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052103322231.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200519_camt054-returns_p_ch2909000000250094239_1109800798_0_2019052023472022.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200924_camt.054_P_CH2909000000250094239_1110092703_0_2019042423412214.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:200924_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:FI_camt_053_sample.xml.xml": ("camt.053", 1, 10, 0, []),
    "moov:FI_camt_054_sample.xml.xml": ("camt.054", 1, 6, 0, []),
    "moov:camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml": ("camt.053", 1, 5, 0, []),
    "moov:camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml": (
        "camt.054",
        1,
        1,
        0,
        [],
    ),
    "moov:pain002-chdd-cor1_p_ch2909000000250094239_1110097483_0_2018031317221082.xml": (
        "pain.002",
        0,
        0,
        1,
        [],
    ),
    "moov:pain002-epo_p_0_0_0_2018031510491259.xml": ("pain.002", 0, 0, 1, []),
    "moov:pain002-epo_p_0_0_0_2018032614401842.xml": ("pain.002", 0, 0, 1, []),
    "moov:pain002-epo_p_ch2909000000250094239_1109800799_0_2018032612092784.xml": ("pain.002", 0, 0, 2, []),
    "moov:pain002-epo_p_ch5109000000250092291_1110097605_0_2018031511252307.xml": ("pain.002", 0, 0, 2, []),
    "moov:statement_1.xml": ("camt.053", 1, 4, 0, []),
    "moov:valid_pain_v11.xml": ("pain.002", 0, 0, 0, [(7, "NO_STATUSES")]),
    "wolph:ASNB/mt940.txt": ("mt940", 31, 8, 0, []),
    "wolph:ASNB/mt940_with_spaces_for_entry_date.txt": ("mt940", 31, 8, 0, []),
    "wolph:betterplace/amount_formats.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/currency_in_25.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/empty_86.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/empty_entry_date.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/empty_line.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/missing_crlf_at_end.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:betterplace/sepa_mt9401.sta": ("mt940", 26, 97, 0, []),
    "wolph:betterplace/sepa_snippet.sta": ("mt940", 2, 11, 0, []),
    "wolph:betterplace/sepa_snippet_broken.sta": ("mt940", 1, 1, 0, []),
    "wolph:betterplace/with_binary_character.sta": ("mt940", 2, 4, 0, []),
    "wolph:citi/mt940.txt": ("mt940", 1, 5, 0, []),
    "wolph:cmxl/account_balance_credit.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/account_balance_debit.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/account_identification_iban.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/account_identification_legacy.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/available_balance.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/closing_balance.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/mt940.sta": ("mt940", 3, 16, 0, []),
    "wolph:cmxl/reference.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/statement_details.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/statement_line.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:cmxl/statement_number.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:jejik/abnamro.sta": ("mt940", 2, 10, 0, []),
    "wolph:jejik/generic.sta": ("mt940", 2, 2, 0, []),
    "wolph:jejik/ing.sta": ("mt940", 1, 7, 0, []),
    "wolph:jejik/knab.sta": ("mt940", 2, 3, 0, []),
    "wolph:jejik/postfinance.sta": ("mt940", 2, 4, 0, []),
    "wolph:jejik/rabobank-iban.sta": ("mt940", 2, 4, 0, []),
    "wolph:jejik/rabobank.sta": ("mt940", 4, 5, 0, []),
    "wolph:jejik/sns.sta": ("mt940", 2, 2, 0, []),
    "wolph:jejik/triodos.sta": ("mt940", 1, 2, 0, []),
    "wolph:mBank/mt940.sta": ("mt940", 1, 3, 0, []),
    "wolph:mBank/mt942.sta": ("mt940", 1, 3, 0, []),
    "wolph:mBank/with_newline_in_tnr.sta": ("mt940", 1, 2, 0, []),
    "wolph:sberbank/171011_01234945.sta": ("mt940", 1, 3, 0, []),
    "wolph:self-provided/account_identification.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:self-provided/details_60-63.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/empty_non_swift.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:self-provided/february_30.sta": ("mt940", 1, 0, 0, [(6, "INVALID_DATE")]),
    "wolph:self-provided/gv_codes.sta": ("mt940", 1, 2, 0, []),
    "wolph:self-provided/invalid_statement.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:self-provided/long_statement_number.sta": ("mt940", 1, 0, 0, []),
    "wolph:self-provided/malformed_details.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/mt942.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/multiline.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/overly_long_details.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/raiffeisen-cmi.sta": ("mt940", 1, 7, 0, []),
    "wolph:self-provided/raphaelm.sta": (
        "mt940",
        3,
        9,
        0,
        [(27, "INVALID_CURRENCY"), (35, "INVALID_CURRENCY"), (47, "INVALID_CURRENCY")],
    ),
    "wolph:self-provided/sparkassen.sta": (None, 0, 0, 0, [(1, "UNKNOWN_FORMAT")]),
    "wolph:self-provided/transaction_details_wrapped.sta": ("mt940", 1, 0, 0, [(6, "INVALID_DATE")]),
    "wolph:self-provided/whitespace.sta": ("mt940", 1, 1, 0, []),
    "wolph:self-provided/wrapped_timestamp.sta": ("mt940", 1, 0, 0, [(5, "INVALID_DATE")]),
}


def path_of(name: str) -> Path:
    folder, _, rest = name.partition(":")
    return PUBLISHED / FOLDERS[folder] / rest


def published_files() -> list[Path]:
    return sorted(
        p for p in PUBLISHED.rglob("*") if p.is_file() and p.suffix != ".ORIGIN" and p.name != "LICENSE"
    )


def test_every_published_file_is_in_the_table() -> None:
    assert sorted(path_of(name) for name in EXPECTED) == published_files()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_file_parses_or_is_refused_with_the_documented_reason(name: str) -> None:
    fmt, statements, entries, statuses, errors = EXPECTED[name]
    result = parse_bank_file(path_of(name).read_bytes())
    assert result.format == fmt
    counts = (len(result.statements), len(result.entries), len(result.statuses))
    assert counts == (statements, entries, statuses)
    assert [(e.line, e.code) for e in result.errors] == errors


@pytest.mark.parametrize("path", published_files(), ids=lambda p: str(p.relative_to(PUBLISHED)))
def test_each_published_file_names_its_origin_and_a_licence_that_allows_the_copy(path: Path) -> None:
    origin = dict(
        line.split(": ", 1) for line in path.with_name(path.name + ".ORIGIN").read_text().splitlines()
    )
    assert set(origin) == {"repo", "path", "commit", "licence", "licence_text"}
    assert re.fullmatch(r"[0-9a-f]{40}", origin["commit"])
    assert str(path).endswith(origin["path"]) and origin["licence"] in LICENCES
    assert (PUBLISHED / origin["licence_text"]).is_file()
