"""The payment orders we send to file banks (scf.adapters.banks.iso20022; contract section 7).

Every message is validated with xmlschema against the official XSD of its version (vendored in
tests/fixtures/bank-samples/xsd), and deliberately broken messages are shown to fail that
validation, so the check can fail. The fields are read back with defusedxml and compared with the
contract's values, per version, at the XPaths docs/bank-files.md lists.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scf.adapters.banks.iso20022 import (
    MAX_NAME_LENGTH,
    NAMESPACE_PREFIX,
    PAIN_001_001_03,
    PAIN_001_001_09,
    PAIN_001_VERSIONS,
    PAIN_008_001_02,
    PAIN_008_001_08,
    PAIN_008_VERSIONS,
    Mandate,
    MessageMeta,
    PainSettings,
    build_message,
    credit_transfer,
    direct_debit,
    mandate_id,
    message_id,
    outbound_key,
)
from scf.adapters.files.bank_detect import parse_bank_file
from scf.config import ConfigError
from scf.service.payments import Account, Direction, PaymentOrder
from tests.support import ROOT, SAMPLES

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]

XSD = SAMPLES / "xsd"
SHARED_XSD = (ROOT / ".." / "shared" / "samples" / "xsd").resolve()
VERSIONS = (*PAIN_001_VERSIONS, *PAIN_008_VERSIONS)

LENDER = Account("FILEBANK", "6222000011112222", "SCF Lending Co., Ltd.")
SUPPLIER = Account("ICBC", "9558800001234567", "深圳市供应商有限公司")
LOAN_ID = "LN01JF3K8ZQ4X7M2N5P9R6"  # LN + 20 ULID characters
PAYOUT = PaymentOrder("PAY" + LOAN_ID, Direction.PAYOUT, 123_456_78, "CNY", LENDER, SUPPLIER, LOAN_ID)
COLLECTION = PaymentOrder(
    "RPABCDEFGHIJKLMNOPQRSTUVWXYZ", Direction.COLLECTION, 5_000_00, "CNY", SUPPLIER, LENDER, LOAN_ID
)
CREATED = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
META = MessageMeta(message_id(PAYOUT.payment_id), CREATED, date(2026, 12, 4), "SCF Lending Co., Ltd.")
MANDATE = Mandate.for_account(SUPPLIER, date(2026, 1, 15))


@cache
def schema(version: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / f"{version}.xsd"))


def errors(body: bytes, version: str) -> list[str]:
    return [error.reason or str(error) for error in schema(version).iter_errors(io.BytesIO(body))]


def build(version: str, order: PaymentOrder | None = None, meta: MessageMeta = META, **kwargs: int) -> bytes:
    if version in PAIN_001_VERSIONS:
        return credit_transfer(order or PAYOUT, meta, version=version, **kwargs)
    return direct_debit(order or COLLECTION, meta, MANDATE, version=version, **kwargs)


class Parsed:
    """A message read back with defusedxml; paths are relative to the message element
    (CstmrCdtTrfInitn / CstmrDrctDbtInitn), written without namespace."""

    def __init__(self, body: bytes) -> None:
        self.root = fromstring(body)
        self.ns = self.root.tag[1:].partition("}")[0]
        self.message = self.root[0]

    def _qualified(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" if step != "." else step for step in path.split("/"))

    def all(self, path: str) -> list[ET.Element]:
        return self.message.findall(self._qualified(path))

    def one(self, path: str) -> ET.Element:
        found = self.all(path)
        assert len(found) == 1, f"{path}: {len(found)} elements"
        return found[0]

    def text(self, path: str) -> str:
        return self.one(path).text or ""


# Our field -> XPath (under the message element) per version; docs/bank-files.md shows this table.
CT = "PmtInf/CdtTrfTxInf"
DD = "PmtInf/DrctDbtTxInf"
PATHS: dict[str, dict[str, str]] = {
    PAIN_001_001_03: {
        "message_id": "GrpHdr/MsgId",
        "created_at": "GrpHdr/CreDtTm",
        "group_count": "GrpHdr/NbOfTxs",
        "group_sum": "GrpHdr/CtrlSum",
        "initiating_party": "GrpHdr/InitgPty/Nm",
        "payment_info_id": "PmtInf/PmtInfId",
        "method": "PmtInf/PmtMtd",
        "batch_booking": "PmtInf/BtchBookg",
        "count": "PmtInf/NbOfTxs",
        "sum": "PmtInf/CtrlSum",
        "requested_date": "PmtInf/ReqdExctnDt",
        "debtor_name": "PmtInf/Dbtr/Nm",
        "debtor_account": "PmtInf/DbtrAcct/Id/Othr/Id",
        "debtor_agent": "PmtInf/DbtrAgt/FinInstnId/Othr/Id",
        "instruction_id": f"{CT}/PmtId/InstrId",
        "end_to_end_id": f"{CT}/PmtId/EndToEndId",
        "amount": f"{CT}/Amt/InstdAmt",
        "creditor_agent": f"{CT}/CdtrAgt/FinInstnId/Othr/Id",
        "creditor_name": f"{CT}/Cdtr/Nm",
        "creditor_account": f"{CT}/CdtrAcct/Id/Othr/Id",
        "remittance": f"{CT}/RmtInf/Ustrd",
    },
    PAIN_008_001_02: {
        "message_id": "GrpHdr/MsgId",
        "created_at": "GrpHdr/CreDtTm",
        "group_count": "GrpHdr/NbOfTxs",
        "group_sum": "GrpHdr/CtrlSum",
        "initiating_party": "GrpHdr/InitgPty/Nm",
        "payment_info_id": "PmtInf/PmtInfId",
        "method": "PmtInf/PmtMtd",
        "batch_booking": "PmtInf/BtchBookg",
        "count": "PmtInf/NbOfTxs",
        "sum": "PmtInf/CtrlSum",
        "requested_date": "PmtInf/ReqdColltnDt",
        "creditor_name": "PmtInf/Cdtr/Nm",
        "creditor_account": "PmtInf/CdtrAcct/Id/Othr/Id",
        "creditor_agent": "PmtInf/CdtrAgt/FinInstnId/Othr/Id",
        "instruction_id": f"{DD}/PmtId/InstrId",
        "end_to_end_id": f"{DD}/PmtId/EndToEndId",
        "amount": f"{DD}/InstdAmt",
        "mandate_id": f"{DD}/DrctDbtTx/MndtRltdInf/MndtId",
        "mandate_signed": f"{DD}/DrctDbtTx/MndtRltdInf/DtOfSgntr",
        "debtor_agent": f"{DD}/DbtrAgt/FinInstnId/Othr/Id",
        "debtor_name": f"{DD}/Dbtr/Nm",
        "debtor_account": f"{DD}/DbtrAcct/Id/Othr/Id",
        "remittance": f"{DD}/RmtInf/Ustrd",
    },
}
PATHS[PAIN_001_001_09] = {**PATHS[PAIN_001_001_03], "requested_date": "PmtInf/ReqdExctnDt/Dt"}
PATHS[PAIN_008_001_08] = PATHS[PAIN_008_001_02]


# -- every version is valid and carries the contract's values ------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_is_valid_against_its_official_schema(version: str) -> None:
    body = build(version)
    assert errors(body, version) == []
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert Parsed(body).ns == f"urn:iso:std:iso:20022:tech:xsd:{version}"
    body.decode("utf-8")  # UTF-8 throughout: the supplier's name is not escaped to ASCII
    assert SUPPLIER.name.encode() in body


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fields_carry_the_contracts_values(version: str) -> None:
    order = PAYOUT if version in PAIN_001_VERSIONS else COLLECTION
    message = Parsed(build(version))
    expected = {
        "message_id": META.message_id,
        "created_at": "2026-12-03T01:30:15+00:00",  # UTC, to the second
        "group_count": "1",
        "group_sum": "123456.78" if order is PAYOUT else "5000.00",
        "initiating_party": "SCF Lending Co., Ltd.",
        "payment_info_id": order.payment_id,
        "method": "TRF" if order is PAYOUT else "DD",
        "batch_booking": "false",
        "count": "1",
        "sum": "123456.78" if order is PAYOUT else "5000.00",
        "requested_date": "2026-12-04",
        "debtor_name": order.debtor.name,
        "debtor_account": order.debtor.account_number,
        "debtor_agent": order.debtor.bank_code,
        "instruction_id": order.payment_id,
        "end_to_end_id": order.payment_id,
        "amount": "123456.78" if order is PAYOUT else "5000.00",
        "creditor_agent": order.creditor.bank_code,
        "creditor_name": order.creditor.name,
        "creditor_account": order.creditor.account_number,
        "remittance": LOAN_ID,
        "mandate_id": MANDATE.mandate_id,
        "mandate_signed": "2026-01-15",
    }
    for field, path in PATHS[version].items():
        assert message.text(path) == expected[field], field
    assert message.one(PATHS[version]["amount"]).attrib == {"Ccy": "CNY"}
    for one_only in ("PmtInf", f"{CT if order is PAYOUT else DD}"):
        assert len(message.all(one_only)) == 1


def test_the_requested_execution_date_is_plain_in_03_and_a_choice_from_09() -> None:
    assert len(Parsed(build(PAIN_001_001_03)).one("PmtInf/ReqdExctnDt")) == 0  # no child
    assert [
        child.tag.rpartition("}")[2] for child in Parsed(build(PAIN_001_001_09)).one("PmtInf/ReqdExctnDt")
    ] == ["Dt"]


def test_build_message_picks_the_message_and_version_the_bank_is_set_to() -> None:
    default = PainSettings()
    assert (default.pain001, default.pain008) == (PAIN_001_001_03, PAIN_008_001_02)
    chosen = PainSettings.from_settings(
        {"pain001": "pain.001.001.09", "pain008": "pain.008.001.08", "url": "x"}
    )
    for settings_, order, mandate, version in (
        (default, PAYOUT, None, PAIN_001_001_03),
        (default, COLLECTION, MANDATE, PAIN_008_001_02),
        (chosen, PAYOUT, None, PAIN_001_001_09),
        (chosen, COLLECTION, MANDATE, PAIN_008_001_08),
    ):
        body = build_message(order, META, settings_, mandate)
        assert Parsed(body).ns == NAMESPACE_PREFIX + version
        assert errors(body, version) == []
    refund = PaymentOrder("RF" + LOAN_ID, Direction.PAYOUT, 1, "CNY", LENDER, SUPPLIER, LOAN_ID)
    assert Parsed(build_message(refund, META, default)).text(PATHS[PAIN_001_001_03]["amount"]) == "0.01"
    with pytest.raises(ValueError, match="mandate"):
        build_message(COLLECTION, META, default)
    with pytest.raises(ValueError, match="no mandate"):
        build_message(PAYOUT, META, default, MANDATE)


@pytest.mark.parametrize(
    "setting",
    [
        {"pain001": "pain.001.001.08"},
        {"pain008": "pain.001.001.03"},
        {"max_name_length": 141},
        {"max_name_length": 0},
    ],
)
def test_a_bank_setting_outside_what_we_send_is_a_configuration_error(setting: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        PainSettings.from_settings(setting)


# -- the validator really validates ---------------------------------------------------------------


def mutate(body: bytes, path: str, change: str, value: str = "") -> bytes:
    """The message with the element at `path` (under the message element) given another text,
    removed, or given a child `Dt`."""
    message = Parsed(body)
    element = message.one(path)
    if change == "text":
        element.text = value
    elif change == "remove":
        parent = message.one(path.rpartition("/")[0]) if "/" in path else message.message
        parent.remove(element)
    elif change == "wrap":
        child = ET.SubElement(element, f"{{{message.ns}}}Dt")
        child.text, element.text = element.text, None
    return ET.tostring(message.root, encoding="utf-8", xml_declaration=True)  # prefixed ns0:, same names


@pytest.mark.parametrize("version", VERSIONS)
def test_a_broken_message_fails_validation(version: str) -> None:
    body = build(version)
    paths = PATHS[version]
    assert errors(mutate(body, paths["end_to_end_id"], "text", "E" * 35), version) == []  # the copy is sound
    assert errors(mutate(body, paths["end_to_end_id"], "text", "E" * 36), version)  # Max35Text
    assert errors(mutate(body, paths["message_id"], "text", "M" * 36), version)
    assert errors(mutate(body, paths["payment_info_id"], "text", "P" * 36), version)
    assert errors(mutate(body, paths["amount"], "text", "1.123456"), version)  # 5 decimals at most
    assert errors(mutate(body, paths["batch_booking"], "text", "no"), version)
    account = "PmtInf/DbtrAcct" if version in PAIN_001_VERSIONS else "PmtInf/CdtrAcct"
    assert errors(mutate(body, account, "remove"), version)  # a required element
    assert errors(mutate(body, paths["debtor_name"], "text", "N" * (MAX_NAME_LENGTH + 1)), version)


def test_the_execution_date_shapes_are_not_interchangeable() -> None:
    v03, v09 = build(PAIN_001_001_03), build(PAIN_001_001_09)
    assert errors(mutate(v03, "PmtInf/ReqdExctnDt", "wrap"), PAIN_001_001_03)  # .09's shape in .03
    plain = mutate(v09, "PmtInf/ReqdExctnDt/Dt", "remove")
    assert errors(plain, PAIN_001_001_09)  # empty choice
    assert errors(mutate(v09, "PmtInf/ReqdExctnDt", "text", "2026-12-04"), PAIN_001_001_09)


# -- names, identifiers, amounts --------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_names_are_cleaned_and_cut_to_the_schemas_length(version: str) -> None:
    long_name = "公司" * 100  # 200 characters, 600 bytes: the schema counts characters
    messy = "  ACME\tTrading\r\n\x00Co.\x85\ufffe  Ltd  "
    order = PAYOUT if version in PAIN_001_VERSIONS else COLLECTION
    supplier = Account("ICBC", "9558800001234567", long_name)
    lender = Account("FILEBANK", "6222000011112222", messy)
    if order is PAYOUT:
        order = PaymentOrder(order.payment_id, order.direction, 100, "CNY", lender, supplier, LOAN_ID)
    else:
        order = PaymentOrder(order.payment_id, order.direction, 100, "CNY", supplier, lender, LOAN_ID)
    body = build(version, order)
    assert errors(body, version) == []
    message = Parsed(body)
    supplier_name = message.text(PATHS[version]["creditor_name" if order.debtor is lender else "debtor_name"])
    lender_name = message.text(PATHS[version]["debtor_name" if order.debtor is lender else "creditor_name"])
    assert supplier_name == long_name[:MAX_NAME_LENGTH]
    assert lender_name == "ACME Trading Co. Ltd"
    short = Parsed(build(version, order, max_name_length=70))
    assert short.text(PATHS[version]["initiating_party"]) == "SCF Lending Co., Ltd."
    assert len(short.text(PATHS[version]["creditor_name" if order.debtor is lender else "debtor_name"])) == 70


def test_a_name_with_nothing_printable_is_refused() -> None:
    blank = Account("ICBC", "9558800001234567", " \t\x00 ")
    with pytest.raises(ValueError, match="creditor name"):
        credit_transfer(PaymentOrder("PAY1", Direction.PAYOUT, 1, "CNY", LENDER, blank, "LN1"), META)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"message_id": "M" * 36}, "message id"),
        ({"message_id": " M1"}, "message id"),
        ({"created_at": datetime(2026, 12, 3, 9, 30)}, "timezone"),
        ({"requested_date": datetime(2026, 12, 4, tzinfo=UTC)}, "requested date"),
    ],
)
def test_metadata_the_schema_cannot_carry_is_refused(change: dict[str, object], message: str) -> None:
    meta = replace(META, **change)
    with pytest.raises(ValueError, match=message):
        credit_transfer(PAYOUT, meta)


def test_orders_the_schema_cannot_carry_are_refused_without_quoting_the_account_number() -> None:
    number = "1234567890123456789012345678901234567"  # 37 > Max34Text
    long_account = Account("ICBC", number, "Supplier")
    with pytest.raises(ValueError, match="account number") as refused:
        credit_transfer(PaymentOrder("PAY1", Direction.PAYOUT, 1, "CNY", LENDER, long_account, "LN1"), META)
    assert number not in str(refused.value) and "7890" not in str(refused.value)
    with pytest.raises(ValueError, match="currency"):
        credit_transfer(PaymentOrder("PAY1", Direction.PAYOUT, 1, "JPY", LENDER, SUPPLIER, "LN1"), META)
    with pytest.raises(ValueError, match="digits"):
        credit_transfer(PaymentOrder("PAY1", Direction.PAYOUT, 10**18, "CNY", LENDER, SUPPLIER, "LN1"), META)
    with pytest.raises(ValueError, match="remittance"):
        credit_transfer(PaymentOrder("PAY1", Direction.PAYOUT, 1, "CNY", LENDER, SUPPLIER, "L\nN1"), META)
    with pytest.raises(ValueError, match="not a credit transfer"):
        credit_transfer(COLLECTION, META)
    with pytest.raises(ValueError, match="not a direct debit"):
        direct_debit(PAYOUT, META, MANDATE)
    with pytest.raises(ValueError, match=r"pain\.001 version"):
        credit_transfer(PAYOUT, META, version=PAIN_008_001_02)
    with pytest.raises(ValueError, match="max_name_length"):
        credit_transfer(PAYOUT, META, max_name_length=141)


def test_the_largest_amount_the_schema_takes_is_exact() -> None:
    largest = PaymentOrder("PAY1", Direction.PAYOUT, 10**18 - 1, "CNY", LENDER, SUPPLIER, "LN1")
    body = credit_transfer(largest, META)
    assert errors(body, PAIN_001_001_03) == []
    assert Parsed(body).text(PATHS[PAIN_001_001_03]["amount"]) == "9999999999999999.99"


def test_building_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for version in VERSIONS:
            build(version)
    assert caplog.records == []  # so no account number reaches a log from here


# -- MsgId, mandate id and the object key ------------------------------------------------------------


def test_the_message_id_is_deterministic_per_payment_and_attempt() -> None:
    first = message_id("PAY" + LOAN_ID)
    assert first == message_id("PAY" + LOAN_ID, 1) == "M" + first[1:]
    assert re.fullmatch(r"M[A-Z2-7]{26}", first)
    assert message_id("PAY" + LOAN_ID, 2) != first
    assert message_id("PAY" + LOAN_ID[:-1]) != first
    assert len(message_id("P" * 35, 10**9)) == 27 <= 35
    for bad in ("", "P" * 36):
        with pytest.raises(ValueError, match="payment id"):
            message_id(bad)
    with pytest.raises(ValueError, match="attempt"):
        message_id("PAY1", 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_same_payment_and_inputs_give_the_same_bytes(version: str) -> None:
    assert build(version) == build(version)
    later = MessageMeta(
        META.message_id, META.created_at + timedelta(microseconds=1), META.requested_date, "SCF"
    )
    assert Parsed(build(version, meta=later)).text("GrpHdr/MsgId") == META.message_id


def test_the_outbound_key_is_bank_date_and_message_id() -> None:
    key = outbound_key("FILEBANK", date(2026, 12, 3), META.message_id)
    assert key == f"FILEBANK/2026-12-03/{META.message_id}.xml"
    for bank_code, msg_id in (("FILE/BANK", "M1"), ("", "M1"), ("FILEBANK", "../M1"), ("FILEBANK", "M" * 36)):
        with pytest.raises(ValueError):
            outbound_key(bank_code, date(2026, 12, 3), msg_id)
    with pytest.raises(ValueError, match="business date"):
        outbound_key("FILEBANK", datetime(2026, 12, 3, tzinfo=UTC), "M1")


def test_the_mandate_id_is_per_supplier_account_and_does_not_show_the_number() -> None:
    derived = mandate_id(SUPPLIER)
    assert re.fullmatch(r"SCF-[A-Z2-7]{16}", derived)
    assert derived == mandate_id(Account(SUPPLIER.bank_code, SUPPLIER.account_number, "renamed"))
    assert derived != mandate_id(Account("ABC", SUPPLIER.account_number, SUPPLIER.name))
    assert derived != mandate_id(Account(SUPPLIER.bank_code, "9558800001234568", SUPPLIER.name))
    assert Mandate(derived, date(2026, 1, 15)) == MANDATE
    with pytest.raises(ValueError, match="mandate id"):
        direct_debit(COLLECTION, META, Mandate("M" * 36, date(2026, 1, 15)))


# -- property: any valid order validates and keeps its amount and ids exactly -------------------------

XML_TEXT = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff")
IDENTIFIER = st.text(XML_TEXT, min_size=1, max_size=35).filter(lambda s: s == s.strip())
NAME = st.tuples(  # any text around one printable letter; long ones often (cut at 140)
    st.one_of(st.text(max_size=20), st.text(min_size=130, max_size=300)),
    st.sampled_from("A名é𝔄"),
    st.text(max_size=20),
).map("".join)
ACCOUNT_NUMBER = st.text("0123456789", min_size=1, max_size=34)
BANK_CODE = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=35)


@st.composite
def orders(draw: st.DrawFn) -> tuple[str, PaymentOrder, MessageMeta]:
    version = draw(st.sampled_from(VERSIONS))
    ours = Account(draw(BANK_CODE), draw(ACCOUNT_NUMBER), draw(NAME))
    theirs = Account(draw(BANK_CODE), draw(ACCOUNT_NUMBER), draw(NAME))
    payout = version in PAIN_001_VERSIONS
    order = PaymentOrder(
        payment_id=draw(IDENTIFIER),
        direction=Direction.PAYOUT if payout else Direction.COLLECTION,
        amount_minor=draw(st.integers(1, 10**12)),
        currency=draw(st.sampled_from(["CNY", "USD", "EUR", "HKD"])),
        debtor=ours if payout else theirs,
        creditor=theirs if payout else ours,
        remittance=draw(IDENTIFIER),
    )
    created = draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)))
    meta = MessageMeta(
        message_id(order.payment_id, draw(st.integers(1, 99))), created, created.date(), draw(NAME)
    )
    return version, order, meta


@settings(max_examples=150, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(case=orders())
def test_every_valid_order_validates_and_round_trips(case: tuple[str, PaymentOrder, MessageMeta]) -> None:
    version, order, meta = case
    body = build(version, order, meta)
    assert errors(body, version) == []
    message = Parsed(body)
    paths = PATHS[version]
    exact = Decimal(order.amount_minor).scaleb(-2)
    for path in (paths["amount"], paths["sum"], paths["group_sum"]):
        assert Decimal(message.text(path)) == exact
    assert message.one(paths["amount"]).attrib["Ccy"] == order.currency
    assert message.text(paths["end_to_end_id"]) == order.payment_id
    assert message.text(paths["remittance"]) == order.remittance
    assert message.text(paths["debtor_account"]) == order.debtor.account_number
    for role in ("debtor_name", "creditor_name", "initiating_party"):
        name = message.text(paths[role])
        assert 1 <= len(name) <= MAX_NAME_LENGTH and name == name.strip() and "  " not in name


# -- the reference shapes and the vendored schemas -------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "dated_choice"),
    [("moov_iso_mug_pain001_v03.xml", False), ("gs_pain001_001_08.xml", True)],
)
def test_our_structure_follows_the_reference_messages(sample: str, dated_choice: bool) -> None:
    reference = Parsed((SAMPLES / "pain001" / sample).read_bytes())
    ours = Parsed(build(PAIN_001_001_09 if dated_choice else PAIN_001_001_03))
    # Accounts by Othr/Id, as both references identify their non-IBAN accounts.
    assert reference.all("PmtInf/DbtrAcct/Id/Othr/Id") and ours.all("PmtInf/DbtrAcct/Id/Othr/Id")
    # The execution date: a plain date in .03, the Dt choice from .08 on.
    assert [c.tag.rpartition("}")[2] for c in reference.one("PmtInf/ReqdExctnDt")] == (
        ["Dt"] if dated_choice else []
    )
    # Our PmtInf children come in the reference's order (a subsequence of it where both have them).
    names = [c.tag.rpartition("}")[2] for c in ours.one("PmtInf")]
    theirs = [c.tag.rpartition("}")[2] for c in reference.all("PmtInf")[0]]
    shared = [n for n in theirs if n in names]
    assert [n for n in names if n in shared] == list(dict.fromkeys(shared))
    tx_names = [c.tag.rpartition("}")[2] for c in ours.one(CT)]
    tx_theirs = [c.tag.rpartition("}")[2] for c in reference.all(CT)[0]]
    assert [n for n in tx_names if n in tx_theirs] == [n for n in tx_theirs if n in tx_names]
    # The reference with one transaction uses one id for message, payment info and transaction; we
    # use the payment id for payment info and transaction, and our MsgId scheme for the message.
    if len(reference.all(CT)) == 1:
        assert reference.text("PmtInf/PmtInfId") == reference.text(f"{CT}/PmtId/EndToEndId")
    assert ours.text("PmtInf/PmtInfId") == ours.text(f"{CT}/PmtId/EndToEndId") == PAYOUT.payment_id


def test_the_schema_accepts_a_third_party_message() -> None:
    """The validator is not ours alone: the ISO MUG-style .03 reference is valid against it."""
    assert errors((SAMPLES / "pain001" / "moov_iso_mug_pain001_v03.xml").read_bytes(), PAIN_001_001_03) == []


@pytest.mark.skipif(not SHARED_XSD.is_dir(), reason=f"no shared schemas at {SHARED_XSD} to compare with")
def test_the_vendored_schemas_are_the_shared_ones_with_their_origin() -> None:
    vendored = sorted(p.name for p in XSD.glob("*.xsd"))
    assert vendored == sorted(f"{v}.xsd" for v in VERSIONS)
    assert [n for n in vendored if (XSD / n).read_bytes() != (SHARED_XSD / n).read_bytes()] == []
    origin = (XSD / "ORIGIN.tsv").read_text(encoding="utf-8").splitlines()
    shared_lines = (SHARED_XSD / "ORIGIN.tsv").read_text(encoding="utf-8").splitlines()
    manifest = (SHARED_XSD.parent / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    known = set(shared_lines) | {line.removeprefix("xsd/") for line in manifest if line.startswith("xsd/")}
    assert origin[0] == shared_lines[0] and set(origin[1:]) <= known
    assert sorted(line.split("\t")[0] for line in origin[1:]) == vendored


@pytest.mark.parametrize("version", VERSIONS)
def test_our_own_orders_are_never_read_as_a_bank_answer(version: str) -> None:
    """A payment order that came back into the inbox (a bank echoing it) is an unknown format, never
    a statement or status report."""
    result = parse_bank_file(build(version))
    assert (result.format, result.statements, result.statuses) == (None, (), ())
    assert [error.code for error in result.errors] == ["UNKNOWN_FORMAT"]
