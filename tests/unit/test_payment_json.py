"""The HTTP banks' bodies and answers (docs/architecture.md, "The simulated bank"): what is sent,
and which answers the protocol allows."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from scf.adapters.banks.base import BankError
from scf.adapters.banks.payment_json import order_bytes, result_from_json
from scf.service.payments import Account, Direction, PaymentOrder, PaymentStatus

pytestmark = pytest.mark.unit

ORDER = PaymentOrder(
    payment_id="PAYL1",
    direction=Direction.PAYOUT,
    amount_minor=123_456,
    currency="CNY",
    debtor=Account("RESTBANK", "6222000011112222", "SCF Lender"),
    creditor=Account("RESTBANK", "6217000099998888", "Supplier Ltd"),
    remittance="L1",
)


def test_an_order_is_sent_as_compact_json_with_sorted_keys() -> None:
    sent = order_bytes(ORDER)
    assert sent.startswith(b'{"amount":"1234.56","creditor":{"account_number":"6217000099998888",')
    assert json.loads(sent) == {
        "payment_id": "PAYL1",
        "direction": "PAYOUT",
        "amount": "1234.56",
        "currency": "CNY",
        "debtor": {"bank_code": "RESTBANK", "account_number": "6222000011112222", "name": "SCF Lender"},
        "creditor": {"bank_code": "RESTBANK", "account_number": "6217000099998888", "name": "Supplier Ltd"},
        "remittance": "L1",
    }


def test_the_same_order_is_the_same_bytes() -> None:
    assert order_bytes(ORDER) == order_bytes(ORDER)


def test_a_settled_answer_carries_its_value_date_and_reference() -> None:
    answer = {"payment_id": "PAYL1", "status": "SETTLED", "value_date": "2026-12-03", "bank_reference": "R1"}
    result = result_from_json("PAYL1", answer)
    assert (result.status, result.value_date, result.bank_reference) == (
        PaymentStatus.SETTLED,
        date(2026, 12, 3),
        "R1",
    )


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ({"payment_id": "PAYL2", "status": "SETTLED", "value_date": "2026-12-03"}, "asked about PAYL1"),
        ({"payment_id": "PAYL1", "status": "SETTLED"}, "without a value date"),
        ({"payment_id": "PAYL1", "status": "PAID"}, "unreadable"),
        ({"payment_id": "PAYL1", "status": "SETTLED", "value_date": "03.12.2026"}, "unreadable"),
        (["PAYL1"], "unreadable"),
    ],
)
def test_an_answer_the_protocol_does_not_allow_is_a_bank_error(answer: Any, complaint: str) -> None:
    with pytest.raises(BankError, match=complaint):
        result_from_json("PAYL1", answer)
