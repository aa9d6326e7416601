"""The secret port over AWS Secrets Manager (moto): read once per TTL, read again at once when asked
to refresh (a rotated secret), and errors that name the secret but never show its value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from scf.adapters.secrets import SecretsManagerSecrets, SecretUnavailable, StaticSecrets
from tests.support import REGION

pytestmark = pytest.mark.integration

SECRET_NAME = "scf/banks/RESTBANK/K1"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secretsmanager(aws: None) -> Iterator[Any]:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=SECRET_NAME, SecretString="first-secret")
    yield client


def reads_of(client: Any) -> list[str]:
    """Count GetSecretValue calls through the client's own event hooks."""
    calls: list[str] = []
    client.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: calls.append("GetSecretValue")
    )
    return calls


def provider(client: Any, ticks: Ticks, ttl_seconds: int = 300) -> SecretsManagerSecrets:
    return SecretsManagerSecrets({"K1": SECRET_NAME}, ttl_seconds=ttl_seconds, client=client, monotonic=ticks)


def test_the_secret_string_is_the_key_as_utf8_bytes(secretsmanager: Any) -> None:
    assert provider(secretsmanager, Ticks()).secret("K1") == b"first-secret"


def test_the_secret_is_read_once_per_ttl(secretsmanager: Any) -> None:
    ticks, reads = Ticks(), reads_of(secretsmanager)
    secrets = provider(secretsmanager, ticks)
    secrets.secret("K1")
    secretsmanager.put_secret_value(SecretId=SECRET_NAME, SecretString="second-secret")
    ticks.now += 299
    assert secrets.secret("K1") == b"first-secret"
    ticks.now += 1
    assert secrets.secret("K1") == b"second-secret"
    assert len(reads) == 2


def test_a_refresh_reads_a_rotated_secret_at_once(secretsmanager: Any) -> None:
    ticks, reads = Ticks(), reads_of(secretsmanager)
    secrets = provider(secretsmanager, ticks)
    secrets.secret("K1")
    secretsmanager.put_secret_value(SecretId=SECRET_NAME, SecretString="rotated-secret")
    assert secrets.secret("K1", refresh=True) == b"rotated-secret"
    assert secrets.secret("K1") == b"rotated-secret"
    assert len(reads) == 2


def test_a_binary_secret_is_used_as_is(secretsmanager: Any) -> None:
    secretsmanager.create_secret(Name="binary", SecretBinary=b"\x00\x01key")
    secrets = SecretsManagerSecrets({"K2": "binary"}, client=secretsmanager)
    assert secrets.secret("K2") == b"\x00\x01key"


def test_a_key_id_without_a_configured_secret_is_unavailable(secretsmanager: Any) -> None:
    with pytest.raises(SecretUnavailable, match="no secret is configured for key id 'K9'"):
        provider(secretsmanager, Ticks()).secret("K9")


def test_a_missing_secret_is_unavailable_naming_it_and_the_aws_error(secretsmanager: Any) -> None:
    secrets = SecretsManagerSecrets({"K1": "scf/banks/NOSUCH"}, client=secretsmanager)
    with pytest.raises(SecretUnavailable, match="scf/banks/NOSUCH") as missing:
        secrets.secret("K1")
    assert missing.value.code == "SECRET_UNAVAILABLE"
    assert missing.value.details == {"aws_error": "ResourceNotFoundException"}


def test_an_error_never_shows_the_secret_value(secretsmanager: Any) -> None:
    secrets = provider(secretsmanager, Ticks())
    secrets.secret("K1")
    secretsmanager.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
    with pytest.raises(SecretUnavailable) as gone:
        secrets.secret("K1", refresh=True)
    assert "first-secret" not in str(gone.value) and "first-secret" not in repr(gone.value.details)


def test_the_default_client_is_made_on_first_use(secretsmanager: Any) -> None:
    assert SecretsManagerSecrets({"K1": SECRET_NAME}).secret("K1") == b"first-secret"


def test_static_secrets_take_text_or_bytes() -> None:
    secrets = StaticSecrets({"K1": "text", "K2": b"bytes"})
    assert (secrets.secret("K1"), secrets.secret("K2", refresh=True)) == (b"text", b"bytes")
    with pytest.raises(SecretUnavailable, match="K3"):
        secrets.secret("K3")
