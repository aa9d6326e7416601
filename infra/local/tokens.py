"""Local bearer tokens: a Cognito stand-in. The local stack generates an RS256 key pair into its
state directory at start; `scf local token` signs with it and the gateway verifies with it, then
hands the Cognito-shaped claims to the function (docs/architecture.md, "Local tokens")."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY_FILE = "jwt-private.pem"
PUBLIC_KEY_FILE = "jwt-public.pem"
AUDIENCE = "scf-local"
TOKEN_LIFETIME_SECONDS = 12 * 3600
OPS_GROUP = "ops"


class InvalidToken(Exception):
    pass


def generate_keys(state_dir: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = state_dir / PRIVATE_KEY_FILE
    public = state_dir / PUBLIC_KEY_FILE
    write_private(
        private,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def write_private(path: Path, content: bytes) -> None:
    """Writes a file that only its owner may read, private from its first byte: created 0o600 by
    os.open (never written and then chmod-ed, which leaves a window), replacing any older file."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)


def issue(
    private_key_pem: bytes,
    issuer: str,
    *,
    supplier_id: str | None = None,
    ops: bool = False,
    subject: str | None = None,
    lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
    now: float | None = None,
) -> str:
    """An ID token as Cognito would issue it for a supplier (custom:supplier_id) or an ops reviewer."""
    if (supplier_id is None) == (not ops):
        raise ValueError("a token is for a supplier or for ops")
    issued = int(now if now is not None else time.time())
    name = f"supplier:{supplier_id}" if supplier_id else f"ops:{subject or 'reviewer'}"
    claims: dict[str, Any] = {
        "sub": subject or str(uuid.uuid5(uuid.NAMESPACE_URL, f"scf-local/{name}")),
        "iss": issuer,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": issued,
        "auth_time": issued,
        "exp": issued + lifetime_seconds,
        "cognito:username": name,
    }
    if supplier_id:
        claims["custom:supplier_id"] = supplier_id
    if ops:
        claims["cognito:groups"] = [OPS_GROUP]
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


def verify(token: str, public_key_pem: bytes, issuer: str) -> dict[str, str]:
    """The claims as API Gateway's Cognito authorizer passes them on (every value a string)."""
    try:
        claims = jwt.decode(
            token,
            public_key_pem,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iss", "sub", "token_use"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("token_use") not in ("id", "access"):
        raise InvalidToken("token_use is neither id nor access")
    return {name: _claim_text(value) for name, value in claims.items()}


def _claim_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)
