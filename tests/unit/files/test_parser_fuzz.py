"""Property tests: no input makes a bank file parser raise or hang (moov-io/ach's fuzz rule).

Every parser gets random bytes, mutated real samples and tag-shaped MT940 text; each must return a
ParseResult whose errors are located (line >= 1), never an exception. Examples stay small and each
one is deadline-bound, so the module runs in seconds.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scf.adapters.files.bank_detect import detect_bank_format, parse_bank_file
from scf.adapters.files.camt import parse_camt
from scf.adapters.files.mt940 import parse_mt940
from scf.adapters.files.pain002 import parse_pain002
from scf.domain.bank_files import ParseResult

from ._samples import SAMPLES, sample_names

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

PARSERS: dict[str, Callable[[bytes], ParseResult]] = {
    "bank_file": parse_bank_file,
    "camt": parse_camt,
    "mt940": parse_mt940,
    "pain002": parse_pain002,
}
SAMPLE_DATA = [
    (SAMPLES / name).read_bytes() for name in sample_names("camt053", "camt054", "mt940", "pain002")
]
FUZZ = settings(
    max_examples=int(os.environ.get("SCF_FUZZ_EXAMPLES", "300")),
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize="SCF_FUZZ_EXAMPLES" not in os.environ,  # CI: fixed examples; a stress run explores
)


def check(parser: Callable[[bytes], ParseResult], data: bytes) -> None:
    result = parser(data)
    assert isinstance(result, ParseResult)
    assert all(error.line >= 1 and error.code and error.message for error in result.errors)
    for entry in result.entries:
        assert entry.amount >= 0 and entry.line >= 1
        assert entry.amount_minor is None or entry.amount_minor >= 0


@FUZZ
@given(data=st.binary(max_size=2048), parser=st.sampled_from(sorted(PARSERS)))
def test_random_bytes_never_raise(data: bytes, parser: str) -> None:
    check(PARSERS[parser], data)
    assert detect_bank_format(data) in (None, "camt.053", "camt.054", "mt940", "pain.002")


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_DATA)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "repeat"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(
                st.sampled_from([b"<", b">", b"&", b"</Ntry>", b"<Ntry>", b":61:", b"\n:20:", b"\xff", b"-"])
            )
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return bytes(data)


@FUZZ
@given(data=mutated_sample(), parser=st.sampled_from(sorted(PARSERS)))
def test_mutated_samples_never_raise(data: bytes, parser: str) -> None:
    check(PARSERS[parser], data)


MT940_LINE = st.one_of(
    st.builds(
        operator.add,
        st.sampled_from(
            [
                ":20:",
                ":25:",
                ":28C:",
                ":60F:",
                ":60M:",
                ":61:",
                ":86:",
                ":62F:",
                ":64:",
                ":34F:",
                ":13D:",
                "-",
                "",
            ]
        ),
        st.text(alphabet="0123456789CDRN,.:/?+ ABCEFTX\u0142", max_size=40),
    ),
    st.sampled_from(
        [":61:1602300301DR6,00N024NONREF", ":60F:C160229EUR1200,00", ":61:2301020102RC1,NTRF", "{4:", "-}"]
    ),
)


@FUZZ
@given(lines=st.lists(MT940_LINE, max_size=30), encoding=st.sampled_from(["utf-8", "cp1250"]))
def test_tag_shaped_mt940_never_raises(lines: list[str], encoding: str) -> None:
    data = "\r\n".join(lines).encode(encoding, errors="replace")
    check(parse_mt940, data)
    check(parse_bank_file, data)


FIELD_TEXT = st.text(alphabet="0123456789-.,:TZ+ eEaBOKPDNGRTIFUtrfls", max_size=24)


@FUZZ
@given(
    amount=FIELD_TEXT,
    currency=st.sampled_from(["EUR", "JPY", "KWD", "XAU", "eur", "", "EURO"]),
    indicator=st.sampled_from(["CRDT", "DBIT", "", "X"]),
    reversal=st.sampled_from(["true", "false", "1", "yes"]),
    status=FIELD_TEXT,
    booked=FIELD_TEXT,
    valued=FIELD_TEXT,
    version=st.sampled_from(["02", "04", "06", "08", "09"]),
)
def test_camt_field_values_never_raise(
    amount: str,
    currency: str,
    indicator: str,
    reversal: str,
    status: str,
    booked: str,
    valued: str,
    version: str,
) -> None:
    entry = (
        f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<RvslInd>{reversal}</RvslInd>"
        f"<Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>{booked}</Dt></BookgDt><ValDt><DtTm>{valued}</DtTm></ValDt>"
        f'<NtryDtls><TxDtls><Amt Ccy="{currency}">{amount}</Amt></TxDtls></NtryDtls></Ntry>'
    )
    data = (
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"><BkToCstmrDbtCdtNtfctn>'
        f"<Ntfctn><Id>N</Id><Acct><Id><IBAN>X</IBAN></Id></Acct>{entry}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()
    result = parse_camt(data)
    check(parse_camt, data)
    # An entry is either read or explained: never silently dropped.
    assert len(result.entries) == 1 or any(e.line == 1 for e in result.errors)
