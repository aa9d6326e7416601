"""HTTP edge shared by the API functions: problem+json errors (RFC 9457), the caller taken from the
verified token's claims, JSON bodies and answers.

The supplier is always taken from the Cognito claim `custom:supplier_id` (contract section 8), never
from the path or the body. API Gateway's Cognito authorizer has already verified the token; the
local gateway does the same with local keys and passes the same claims shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from scf.errors import (
    Conflict,
    Contention,
    Forbidden,
    IdempotencyKeyReused,
    InvalidInput,
    MalformedRequest,
    NotFound,
    ScfError,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://scf.dev/problems/"

logger = Logger(child=True)


class Problem(Exception):
    """An error answer. `code` is machine-readable, `field` names the offending input field."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        code: str | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.field = field
        self.errors = errors

    def body(self) -> dict[str, Any]:
        slug = (self.code or self.title).lower().replace("_", "-").replace(" ", "-")
        out: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.code:
            out["code"] = self.code
        if self.field:
            out["field"] = self.field
        if self.errors:
            out["errors"] = self.errors
        return out


def problem_json(problem: Problem) -> Response[Any]:
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_JSON,
        body=json.dumps(problem.body()),
    )


def invalid_field(field: str, error: ValueError | str, code: str = "INVALID_FIELD") -> InvalidInput:
    """A 422 naming the field (kept until every route raises the vocabulary itself)."""
    if isinstance(error, ScfError):
        return InvalidInput(error.message, code=error.code, field=field)
    return InvalidInput(str(error), code=code, field=field)


def not_found(what: str) -> NotFound:
    return NotFound(f"{what} was not found")


# Each kind of the vocabulary (scf.errors) answers with one status and title; the first match wins.
STATUS_OF: tuple[tuple[type[ScfError], int, str], ...] = (
    (IdempotencyKeyReused, 422, "Idempotency key reused"),
    (InvalidInput, 422, "Invalid request"),
    (MalformedRequest, 400, "Bad request"),
    (NotFound, 404, "Not found"),
    (Contention, 409, "Conflict"),
    (Conflict, 409, "Conflict"),
    (Forbidden, 403, "Forbidden"),
    (Unavailable, 503, "Service unavailable"),
)


def problem_for(error: ScfError) -> Problem:
    """The one place where an error of the vocabulary becomes an HTTP answer."""
    status, title = next(
        ((status, title) for kind, status, title in STATUS_OF if isinstance(error, kind)),
        (500, "Internal error"),
    )
    named = isinstance(error, InvalidInput) and error.field
    detail = f"{error.field}: {error.message}" if named else error.message
    errors = error.details.get("errors")
    return Problem(status, title, detail, code=error.code, field=error.field, errors=errors)


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    """Every error leaves the API as problem+json."""

    @app.exception_handler(Problem)
    def _problem(exc: Problem) -> Response[Any]:
        return problem_json(exc)

    @app.exception_handler(ScfError)
    def _vocabulary(exc: ScfError) -> Response[Any]:
        return problem_json(problem_for(exc))

    @app.not_found
    def _no_route(_exc: NotFoundError) -> Response[Any]:
        return problem_json(Problem(404, "Not found", "no such route", code="NO_ROUTE"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return problem_json(Problem(500, "Internal error", "the request could not be completed"))


@dataclass(frozen=True)
class Caller:
    subject: str
    supplier_id: str | None
    groups: frozenset[str]

    @property
    def is_ops(self) -> bool:
        return "ops" in self.groups


def _groups(raw: Any) -> frozenset[str]:
    """`cognito:groups` arrives as a list, or flattened by API Gateway to "ops" / "[ops, admin]"."""
    if isinstance(raw, list):
        return frozenset(str(g) for g in raw)
    if not isinstance(raw, str) or not raw:
        return frozenset()
    return frozenset(part.strip() for part in raw.strip("[]").replace(",", " ").split() if part.strip())


def caller(app: APIGatewayRestResolver) -> Caller:
    context = app.current_event.raw_event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    supplier_id = claims.get("custom:supplier_id") or None
    return Caller(
        subject=str(claims.get("sub") or ""),
        supplier_id=str(supplier_id) if supplier_id else None,
        groups=_groups(claims.get("cognito:groups")),
    )


def require_supplier(app: APIGatewayRestResolver) -> str:
    who = caller(app)
    if not who.supplier_id:
        raise Forbidden("this route is for suppliers", code="NOT_A_SUPPLIER")
    return who.supplier_id


def require_ops(app: APIGatewayRestResolver) -> Caller:
    who = caller(app)
    if not who.is_ops:
        raise Forbidden("this route is for ops reviewers", code="NOT_OPS")
    return who


def json_body(app: APIGatewayRestResolver) -> dict[str, Any]:
    raw = app.current_event.body
    if not raw:
        raise Problem(400, "Bad request", "the body must be a JSON object", code="INVALID_JSON")
    try:
        body = json.loads(raw, parse_constant=NonFinite)
    except (ValueError, TypeError) as exc:
        raise Problem(400, "Bad request", f"the body is not valid JSON: {exc}", code="INVALID_JSON") from exc
    if not isinstance(body, dict):
        raise Problem(400, "Bad request", "the body must be a JSON object", code="INVALID_JSON")
    return body


@dataclass(frozen=True)
class NonFinite:
    """NaN/Infinity in a body: kept as a marker so that the field's own validation rejects it with
    a 422 naming the field (contract section 2), rather than a bare JSON error."""

    literal: str


def ok(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers=headers or {},
    )
