"""The JSON bodies and answers of the HTTP banks (docs/architecture.md, "The simulated bank"):
the simulated bank and the `rest-signed` banks speak the same ones (CONTRACT.md section 7)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from scf.adapters.banks.base import BankError
from scf.domain.money import format_amount
from scf.service.payments import PaymentOrder, PaymentResult, PaymentStatus


def order_json(order: PaymentOrder) -> dict[str, Any]:
    return {
        "payment_id": order.payment_id,
        "direction": order.direction.value,
        "amount": format_amount(order.amount_minor),
        "currency": order.currency,
        "debtor": order.debtor.as_json(),
        "creditor": order.creditor.as_json(),
        "remittance": order.remittance,
    }


def order_bytes(order: PaymentOrder) -> bytes:
    """The exact bytes sent (and signed): compact, keys sorted, so a re-send is byte-identical."""
    return json.dumps(order_json(order), separators=(",", ":"), sort_keys=True).encode("utf-8")


def result_from_json(payment_id: str, data: Any) -> PaymentResult:
    """A bank's answer about `payment_id`; BankError if it is not one the protocol allows."""
    try:
        if data["payment_id"] != payment_id:
            raise BankError(f"bank answered for {data['payment_id']} when asked about {payment_id}")
        status = PaymentStatus(data["status"])
        if status is PaymentStatus.UNKNOWN:
            return PaymentResult(payment_id, status)
        value_date = date.fromisoformat(data["value_date"]) if data.get("value_date") else None
        if status is PaymentStatus.SETTLED and value_date is None:
            raise BankError(f"settled payment {payment_id} without a value date")
        return PaymentResult(
            payment_id=payment_id,
            status=status,
            value_date=value_date,
            bank_reference=data.get("bank_reference"),
            reason=data.get("reason"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BankError(f"unreadable bank answer for {payment_id}: {type(exc).__name__} {exc}") from exc
