"""The simulated bank's HTTP API (docs/architecture.md, "The simulated bank"). Invariant: `POST
/payments` is never retried blindly; after an unknown outcome the adapter asks `GET /payments/<id>`
and sends again only if the bank has no such order (docs/money.md, "Payouts and collections").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from scf.adapters.banks.base import BankError, PaymentConflict
from scf.domain.money import format_amount
from scf.service.payments import BankGateway, BankUnavailable, PaymentOrder, PaymentResult, PaymentStatus

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class SimulatedBankGateway(BankGateway):
    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] = (2.0, 5.0),
        attempts: int = 3,
        backoff_seconds: float = 0.2,  # float-ok: seconds
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._session = session or requests.Session()
        status_retry = Retry(
            total=attempts,
            backoff_factor=backoff_seconds,
            status_forcelist=sorted(RETRYABLE_STATUS),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        self._session.mount(self._base_url, HTTPAdapter(max_retries=status_retry))

    def pay(self, order: PaymentOrder) -> PaymentResult:
        body = {
            "payment_id": order.payment_id,
            "direction": order.direction.value,
            "amount": format_amount(order.amount_minor),
            "currency": order.currency,
            "debtor": order.debtor.as_json(),
            "creditor": order.creditor.as_json(),
            "remittance": order.remittance,
        }
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
                known = self.status(order.payment_id)
                if known.known:
                    return known
            try:
                response = self._session.post(
                    f"{self._base_url}/payments",
                    json=body,
                    headers={"Idempotency-Key": order.payment_id},
                    timeout=self._timeout,
                )
            except (requests.Timeout, requests.ConnectionError):
                continue  # unknown outcome: ask before the next try
            if response.status_code in RETRYABLE_STATUS:
                continue
            if response.status_code == 409:
                raise PaymentConflict(f"bank holds another order under {order.payment_id}")
            if response.status_code not in (200, 201):
                raise BankError(f"POST /payments answered {response.status_code}")
            return _result(order.payment_id, response.json())
        known = self.status(order.payment_id)
        if known.known:
            return known
        raise BankUnavailable(f"no outcome for {order.payment_id} after {self._attempts} attempts")

    def status(self, payment_id: str) -> PaymentResult:
        try:
            response = self._session.get(f"{self._base_url}/payments/{payment_id}", timeout=self._timeout)
        except requests.RequestException as exc:
            raise BankUnavailable(f"cannot ask the bank about {payment_id}: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return PaymentResult(payment_id, PaymentStatus.UNKNOWN)
        if response.status_code in RETRYABLE_STATUS:
            raise BankUnavailable(f"GET /payments/{payment_id} answered {response.status_code}")
        if response.status_code != 200:
            raise BankError(f"GET /payments/{payment_id} answered {response.status_code}")
        return _result(payment_id, response.json())


def _result(payment_id: str, data: Any) -> PaymentResult:
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
        raise BankError(f"unreadable bank answer for {payment_id}: {exc}") from exc
