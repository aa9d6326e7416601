"""The simulated bank's HTTP API (docs/architecture.md, "The simulated bank"). Invariant: `POST
/payments` is never retried blindly; after an unknown outcome the adapter asks `GET /payments/<id>`
and sends again only if the bank has no such order (docs/money.md, "Payouts and collections").
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from scf.adapters.banks.base import BankError, PaymentConflict
from scf.adapters.banks.payment_json import order_json, result_from_json
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
        body = order_json(order)
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
            return result_from_json(order.payment_id, response.json())
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
        return result_from_json(payment_id, response.json())
