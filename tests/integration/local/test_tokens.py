from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.local import tokens

ISSUER = "http://127.0.0.1:1/local-user-pool"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, bytes]:
    private, public = tokens.generate_keys(tmp_path)
    assert private.stat().st_mode & 0o777 == 0o600
    return private.read_bytes(), public.read_bytes()


def test_a_supplier_token_verifies_to_cognito_shaped_string_claims(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    token = tokens.issue(private, ISSUER, supplier_id="SUP-1")
    claims = tokens.verify(token, public, ISSUER)
    assert claims["custom:supplier_id"] == "SUP-1"
    assert claims["token_use"] == "id" and claims["iss"] == ISSUER
    assert claims["sub"] and "cognito:groups" not in claims
    assert int(claims["exp"]) - int(claims["iat"]) == 12 * 3600
    assert all(isinstance(value, str) for value in claims.values())


def test_an_ops_token_carries_the_ops_group(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    claims = tokens.verify(tokens.issue(private, ISSUER, ops=True), public, ISSUER)
    assert claims["cognito:groups"] == "ops"
    assert "custom:supplier_id" not in claims


def test_the_same_supplier_gets_the_same_subject(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    first = tokens.verify(tokens.issue(private, ISSUER, supplier_id="A"), public, ISSUER)["sub"]
    again = tokens.verify(tokens.issue(private, ISSUER, supplier_id="A"), public, ISSUER)["sub"]
    other = tokens.verify(tokens.issue(private, ISSUER, supplier_id="B"), public, ISSUER)["sub"]
    assert first == again != other


def test_expired_foreign_tampered_and_wrong_issuer_tokens_are_rejected(
    keys: tuple[bytes, bytes], tmp_path: Path
) -> None:
    private, public = keys
    expired = tokens.issue(private, ISSUER, supplier_id="S", now=1_000_000)
    foreign_dir = tmp_path / "other"
    foreign_dir.mkdir()
    foreign_private, _ = tokens.generate_keys(foreign_dir)
    foreign = tokens.issue(foreign_private.read_bytes(), ISSUER, supplier_id="S")
    good = tokens.issue(private, ISSUER, supplier_id="S")
    header, payload, signature = good.split(".")
    tampered = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    for bad in [expired, foreign, tampered, "not-a-jwt"]:
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(bad, public, ISSUER)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(good, public, "http://elsewhere")


def test_a_token_is_for_a_supplier_or_for_ops() -> None:
    with pytest.raises(ValueError):
        tokens.issue(b"", ISSUER)
    with pytest.raises(ValueError):
        tokens.issue(b"", ISSUER, supplier_id="S", ops=True)


def test_the_private_key_is_created_private_not_made_private_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod does nothing here and the umask takes nothing away: only the mode the file is created
    # with counts, so a key written world-readable and chmod-ed after fails (it was readable between)
    monkeypatch.setattr(Path, "chmod", lambda *args, **kwargs: None)
    monkeypatch.setattr("os.chmod", lambda *args, **kwargs: None)
    previous = os.umask(0)
    try:
        stale = tmp_path / tokens.PRIVATE_KEY_FILE
        stale.write_bytes(b"a key of an earlier start")
        private, _ = tokens.generate_keys(tmp_path)
    finally:
        os.umask(previous)
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
