"""The secret port: the current signing secret of a key id, from AWS Secrets Manager (cached for
`ttl_seconds`; `refresh=True` after a refused signature) or memory (docs/bank-gateways.md, "Secrets").

Invariant: a secret's value is never in configuration, code, logs or an error (errors name the key id
and the secret's id).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scf.errors import Unavailable

DEFAULT_TTL_SECONDS = 300


class SecretProvider(Protocol):
    def secret(self, key_id: str, *, refresh: bool = False) -> bytes:
        """The current secret of `key_id`; `refresh` skips any cache. Raises `SecretUnavailable`."""
        ...


class SecretUnavailable(Unavailable):
    """The secret cannot be read now (unknown key id, missing secret, no permission, throttled)."""

    default_code = "SECRET_UNAVAILABLE"


class StaticSecrets:
    """Secrets held in memory (tests, the local stack's simulated REST bank)."""

    def __init__(self, secrets: Mapping[str, bytes | str]) -> None:
        self._secrets = {
            key_id: value.encode("utf-8") if isinstance(value, str) else value
            for key_id, value in secrets.items()
        }

    def secret(self, key_id: str, *, refresh: bool = False) -> bytes:
        try:
            return self._secrets[key_id]
        except KeyError:
            raise SecretUnavailable(f"no secret for key id {key_id!r}") from None


@dataclass
class _Cached:
    value: bytes
    read_at: float  # float-ok: monotonic seconds


class SecretsManagerSecrets:
    """`secret_ids` maps each key id to its secret's name or ARN."""

    def __init__(
        self,
        secret_ids: Mapping[str, str],
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        client: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_ids = dict(secret_ids)
        self._ttl = ttl_seconds
        self._client = client
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def secret(self, key_id: str, *, refresh: bool = False) -> bytes:
        secret_id = self._secret_ids.get(key_id)
        if secret_id is None:
            raise SecretUnavailable(f"no secret is configured for key id {key_id!r}")
        with self._lock:
            cached = self._cache.get(key_id)
            if cached and not refresh and self._monotonic() - cached.read_at < self._ttl:
                return cached.value
            value = self._read(key_id, secret_id)
            self._cache[key_id] = _Cached(value, self._monotonic())
            return value

    def _read(self, key_id: str, secret_id: str) -> bytes:
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        try:
            answer = self._client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise SecretUnavailable(
                f"cannot read the secret {secret_id} of key id {key_id!r}: {code}",
                details={"aws_error": code},
            ) from exc
        except BotoCoreError as exc:
            raise SecretUnavailable(
                f"cannot read the secret {secret_id} of key id {key_id!r}: {type(exc).__name__}"
            ) from exc
        if answer.get("SecretString"):
            return str(answer["SecretString"]).encode("utf-8")
        if answer.get("SecretBinary"):
            return bytes(answer["SecretBinary"])
        raise SecretUnavailable(f"the secret {secret_id} of key id {key_id!r} has no value")
