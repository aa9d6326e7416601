"""The HTTP edge shared by the API functions: the resolver with its one error mapping (problem+json,
RFC 9457), the caller from the verified token, and the input toolkit of CONTRACT.md section 8.

Invariant: every input rule (Idempotency-Key, page, path ids, body) is written here once, and
infra/openapi.py states it from these constants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from scf.domain.money import MoneyError, parse_amount
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


def api_resolver() -> APIGatewayRestResolver:
    """The resolver of an API function: errors as problem+json, path ids checked before any route."""
    app = APIGatewayRestResolver()
    install_error_handlers(app)
    app.use(middlewares=[known_path_ids])
    return app


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
    """The body as a JSON object; anything else is a 400 INVALID_JSON."""
    raw = app.current_event.body
    try:
        body = json.loads(raw or "null", parse_constant=NonFinite)
    except RecursionError as exc:  # nested deeper than the parser goes: unreadable, never a 500
        raise MalformedRequest("the body is nested too deeply", code="INVALID_JSON") from exc
    except (ValueError, TypeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}", code="INVALID_JSON") from exc
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object", code="INVALID_JSON")
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


# ---- the input toolkit (CONTRACT.md section 8) ---------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 128
IDEMPOTENCY_KEY_PATTERN = rf"^[\x20-\x7E]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$"  # printable ASCII
IDEMPOTENCY_KEY_RULE = (
    f"the {IDEMPOTENCY_HEADER} header is required on every POST: "
    f"1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters"
)

# What a path id can be: every id the package makes (LN, AP, RP, RS or RB and 20 to 26 characters of
# [0-9A-Z]), well inside a DynamoDB key and free of separators. Anything else is no object's id.
PATH_ID_MAX_LENGTH = 64
PATH_ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{PATH_ID_MAX_LENGTH}}}$"

MAX_PAGE_SIZE = 100
_LIMIT_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII digits: "²".isdigit() is true, int("²") raises


def is_api_request(event: dict[str, Any]) -> bool:
    """An API Gateway (REST, proxy) event, rather than a queue's batch."""
    return "httpMethod" in event


def idempotency_key(app: APIGatewayRestResolver) -> str:
    """The request's Idempotency-Key; missing or malformed is a 400 naming the header."""
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)  # header names are case-insensitive
    if key is None or re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is None:
        raise MalformedRequest(IDEMPOTENCY_KEY_RULE, code="INVALID_IDEMPOTENCY_KEY", field=IDEMPOTENCY_HEADER)
    return key


@dataclass(frozen=True)
class PageSize:
    """A list route's page size when `limit` is absent, and the most it allows."""

    default: int
    maximum: int = MAX_PAGE_SIZE


LOANS_PAGE = PageSize(default=20)
REVIEWS_PAGE = PageSize(default=25)
UNMATCHED_PAGE = PageSize(default=25)


@dataclass(frozen=True)
class Page:
    limit: int
    next_token: str | None  # checked by the store that made it (a forged one is INVALID_TOKEN)


def page(app: APIGatewayRestResolver, size: PageSize) -> Page:
    """`limit` (a whole number from 1 to the route's maximum) and `next_token` of a list request."""
    raw = app.current_event.get_query_string_value("limit")
    limit = size.default if raw is None else int(raw) if _LIMIT_DIGITS.fullmatch(raw) else 0
    if not 1 <= limit <= size.maximum:
        raise InvalidInput(
            f"must be a whole number from 1 to {size.maximum}", code="INVALID_LIMIT", field="limit"
        )
    return Page(limit, app.current_event.get_query_string_value("next_token"))


def known_path_ids(
    app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]
) -> Response[Any]:
    """Middleware: a path id that no key could hold names no object (404) and reaches no store."""
    for name, value in app.request.path_parameters.items():
        if re.fullmatch(PATH_ID_PATTERN, value) is None:
            raise NotFound(f"no {name.removesuffix('_id')} has this id")
    return next_middleware(app)


def positive_amount(body: dict[str, Any], field: str) -> int:
    """The body's money field `field` in minor units, more than 0.00 (a 422 naming it otherwise)."""
    try:
        minor = parse_amount(body.get(field))
    except MoneyError as exc:
        raise InvalidInput(exc.message, code=exc.code, field=field) from exc
    if minor == 0:
        raise InvalidInput("must be more than 0.00", code="INVALID_AMOUNT", field=field)
    return minor
