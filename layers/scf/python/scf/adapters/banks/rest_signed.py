"""The `rest-signed` bank adapter (contract section 7; docs/bank-gateways.md): JSON over HTTPS,
every request signed (`scf.adapters.banks.signing`), the payment id as `Idempotency-Key`.

Invariant: after a try without an outcome (timeout, connection error, 429, 5xx) the bank is asked
(`GET /payments/<id>`) before the order is sent again, and it is sent only if the bank never got it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from aws_lambda_powertools import Logger
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from scf.adapters.banks.base import BankError, PaymentConflict
from scf.adapters.banks.payment_json import order_bytes, result_from_json
from scf.adapters.banks.signing import MAX_AGE_SECONDS, RejectionReason, sign
from scf.adapters.secrets import SecretProvider
from scf.clock import Clock, SystemClock
from scf.config import ConfigError
from scf.service.payments import BankUnavailable, PaymentOrder, PaymentResult, PaymentStatus, mask_accounts_in

logger = Logger(child=True)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class BankSignatureRefused(BankError):
    """The bank refused our signature (401). Not retried: retrying cannot help until the clock or
    the secret is fixed. `clock_skew` tells the two causes apart; `reason` is the bank's code."""

    def __init__(
        self, bank_code: str, key_id: str, reason: str | None, *, clock_skew: bool, detail: str
    ) -> None:
        cause = "clock skew" if clock_skew else "signature"
        super().__init__(
            f"{bank_code} refused the request signed with key id {key_id!r} "
            f"({cause}, {reason or 'no reason given'}): {detail}"
        )
        self.bank_code = bank_code
        self.reason = reason
        self.clock_skew = clock_skew


class _NoOutcome(Exception):
    """This try told nothing about the order (timeout, connection error, 429, 5xx)."""


class _Refused(Exception):
    """401: the bank refused the signature."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__("401")
        self.response = response


class RestSignedBankGateway:
    """The gateway port over a signed REST bank. `timeout` is (connect, read) seconds per request;
    worst case for `pay`: `attempts` POSTs and `attempts - 1` GETs, each up to connect + read, plus
    waits of at most `max_backoff_seconds` each."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret_provider: SecretProvider,
        *,
        bank_code: str,
        timeout: tuple[float, float] = (3.05, 5.0),
        attempts: int = 3,
        backoff_seconds: float = 0.5,  # float-ok: seconds
        max_backoff_seconds: float = 5.0,  # float-ok: seconds
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ConfigError(
                f"bank {bank_code}: the REST bank URL must be https (plain http only on loopback)"
            )
        if parts.query or parts.fragment:
            raise ConfigError(f"bank {bank_code}: the REST bank URL has no query or fragment")
        if attempts < 1:
            raise ConfigError(f"bank {bank_code}: attempts must be at least 1")
        self.bank_code = bank_code
        self._base_url = base_url.rstrip("/")
        self._key_id = key_id
        self._secrets = secret_provider
        self._timeout = timeout
        self._attempts = attempts
        self._wait = wait_random_exponential(multiplier=backoff_seconds, max=max_backoff_seconds)
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep
        self._session = session or requests.Session()
        self._signed_with = b""  # sha256 of the secret the last request was signed with

    def pay(self, order: PaymentOrder) -> PaymentResult:
        payment_id = order.payment_id
        body = order_bytes(order)
        maybe_sent = False

        def attempt() -> PaymentResult:
            nonlocal maybe_sent
            if maybe_sent:
                known = self._inquire(payment_id)
                if known.known:
                    return known
            maybe_sent = True
            return self._post(payment_id, body)

        return self._authenticated(lambda: self._until_outcome(payment_id, attempt))

    def status(self, payment_id: str) -> PaymentResult:
        return self._authenticated(lambda: self._until_outcome(payment_id, lambda: self._inquire(payment_id)))

    def _until_outcome(self, payment_id: str, attempt: Callable[[], PaymentResult]) -> PaymentResult:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_NoOutcome),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(payment_id, state),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _NoOutcome as last:
            raise BankUnavailable(
                f"{self.bank_code} gave no outcome for {payment_id} "
                f"after {self._attempts} attempts (last: {last})"
            ) from None

    def _authenticated(self, call: Callable[[], PaymentResult]) -> PaymentResult:
        """Run `call`; after a 401, run it once more only if the secret was rotated meanwhile."""
        try:
            return call()
        except _Refused as refused:
            if not self._secret_rotated():
                raise self._refusal(refused.response) from None
        try:
            return call()
        except _Refused as refused:
            raise self._refusal(refused.response) from None

    def _secret_rotated(self) -> bool:
        fresh = hashlib.sha256(self._secrets.secret(self._key_id, refresh=True)).digest()
        rotated = not hmac.compare_digest(fresh, self._signed_with)
        if rotated:
            logger.info(
                "bank secret rotated: trying again", extra={"bank": self.bank_code, "key_id": self._key_id}
            )
        return rotated

    def _post(self, payment_id: str, body: bytes) -> PaymentResult:
        response = self._request(
            "POST",
            "/payments",
            body,
            {"Idempotency-Key": payment_id, "Content-Type": "application/json"},
        )
        if response.status_code == 409:
            raise PaymentConflict(f"{self.bank_code} holds another order under {payment_id}")
        if response.status_code not in (200, 201):
            raise BankError(f"{self.bank_code} refused the order {payment_id}: {_describe(response)}")
        result = result_from_json(payment_id, _json(response, self.bank_code))
        if not result.known:
            raise BankError(f"{self.bank_code} answered the order {payment_id} with no outcome")
        return result

    def _inquire(self, payment_id: str) -> PaymentResult:
        response = self._request("GET", f"/payments/{quote(payment_id, safe='')}", b"", {})
        if response.status_code == 404:
            return PaymentResult(payment_id, PaymentStatus.UNKNOWN)
        if response.status_code != 200:
            raise BankError(f"{self.bank_code} refused the inquiry about {payment_id}: {_describe(response)}")
        return result_from_json(payment_id, _json(response, self.bank_code))

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        """One signed request. Raises _NoOutcome (no answer, 429, 5xx) or _Refused (401)."""
        url = f"{self._base_url}{path}"
        prepared = self._session.prepare_request(
            requests.Request(method, url, data=body or None, headers=headers)
        )
        secret = self._secrets.secret(self._key_id)
        self._signed_with = hashlib.sha256(secret).digest()
        signed_path = prepared.path_url  # the request target exactly as sent on the request line
        prepared.headers.update(
            sign(method, signed_path, body, key_id=self._key_id, secret=secret, now=self._clock.now())
        )
        environment = self._session.merge_environment_settings(url, {}, None, None, None)
        try:
            response = self._session.send(
                prepared, timeout=self._timeout, allow_redirects=False, **environment
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise _NoOutcome(f"{method} {type(exc).__name__}") from None
        if response.status_code == 401:
            raise _Refused(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise _NoOutcome(f"{method} HTTP {response.status_code}")
        return response

    def _refusal(self, response: requests.Response) -> BankSignatureRefused:
        reason = _reason(response)
        skew = _skew_seconds(response, self._clock.now())
        if reason is not None:
            clock_skew = reason.clock_skew
        else:
            clock_skew = skew is not None and abs(skew) > MAX_AGE_SECONDS
        if clock_skew:
            measured = f"about {skew:+.0f} s" if skew is not None else "over 300 s"
            detail = f"our clock and the bank's differ by {measured} (the bank's Date minus ours)"
        else:
            detail = (
                f"the signature did not verify: check the secret of key id {self._key_id!r} "
                "and the signing rule"
            )
        return BankSignatureRefused(
            self.bank_code,
            self._key_id,
            reason.value if reason else None,
            clock_skew=clock_skew,
            detail=detail,
        )

    def _log_retry(self, payment_id: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "bank gave no outcome: asking before the next try",
            extra={
                "bank": self.bank_code,
                "payment_id": payment_id,
                "attempt": state.attempt_number,
                "outcome": str(error),
                "wait_seconds": round(state.upcoming_sleep, 3),
            },
        )


def _json(response: requests.Response, bank_code: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BankError(f"{bank_code} answered HTTP {response.status_code} with no JSON") from exc


def _describe(response: requests.Response) -> str:
    """HTTP status and the bank's error code and message, account numbers masked, cut short."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return f"HTTP {response.status_code}"
    said = " ".join(str(data[name]) for name in ("error", "message") if data.get(name))
    return f"HTTP {response.status_code} {(mask_accounts_in(said) or '')[:200]}".rstrip()


def _reason(response: requests.Response) -> RejectionReason | None:
    try:
        data = response.json()
        return RejectionReason(data["reason"]) if isinstance(data, dict) else None
    except (ValueError, KeyError):
        return None


def _skew_seconds(
    response: requests.Response, now: datetime
) -> float | None:  # float-ok: seconds of clock skew
    """The bank's clock (its `Date` header) minus ours, if it sent one."""
    try:
        return (parsedate_to_datetime(response.headers["Date"]) - now).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None
