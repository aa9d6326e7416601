"""score_application: the credit line, applications and manual reviews (API Gateway, REST).

Thin: routes parse the request, call `scf.service.credit.CreditService`, map its errors to
problem+json. The supplier is always the token's `custom:supplier_id` claim.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.dynamodb.credit_repository import DynamoCreditRepository
from scf.adapters.dynamodb.models import bind
from scf.adapters.dynamodb.transactions import BadPageToken
from scf.adapters.http import (
    Problem,
    install_error_handlers,
    json_body,
    not_found,
    ok,
    require_ops,
    require_supplier,
)
from scf.clock import clock_from_spec
from scf.config import ConfigError, settings
from scf.domain.policy import live_policy
from scf.service.credit import (
    CreditService,
    DecisionContention,
    IdempotencyMismatch,
    InvalidRequest,
    ReviewConflict,
    ReviewReplayMismatch,
)

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app)

MAX_PAGE = 100


@lru_cache(maxsize=1)
def service() -> CreditService:
    """Wired once per cold start (after the environment is known). "Today" is the business date in
    the policy's time zone (contract section 2); the other functions take it from POLICY_TIMEZONE,
    so a policy naming another zone fails the cold start instead of deciding on another date."""
    config = settings()
    policy = live_policy()
    if policy.timezone != config.policy_timezone:
        raise ConfigError(
            f"policy {policy.policy_version} is in time zone {policy.timezone}, "
            f"POLICY_TIMEZONE is {config.policy_timezone}: set both to the same zone"
        )
    bind(config.table_name, config.region, config.endpoint_url)
    return CreditService(
        DynamoCreditRepository(),
        clock_from_spec(config.clock, policy.timezone),
        policy=policy,
    )


def _invalid(exc: InvalidRequest) -> Problem:
    return Problem(422, "Invalid request", f"{exc.field}: {exc.message}", code=exc.code, field=exc.field)


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("Idempotency-Key") or app.current_event.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Problem(
            400, "Bad request", "Idempotency-Key must be 1 to 255 characters", code="INVALID_HEADER"
        )
    return key


def _page() -> tuple[int, str | None]:
    params = app.current_event.query_string_parameters or {}
    raw = params.get("limit", "25")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Problem(
            422, "Invalid request", f"limit must be 1 to {MAX_PAGE}", code="INVALID_LIMIT", field="limit"
        )
    return int(raw), params.get("next_token")


@app.get("/v1/credit-line")
def credit_line() -> Response[Any]:
    supplier_id = require_supplier(app)
    currency = (app.current_event.query_string_parameters or {}).get("currency", "CNY")
    try:
        return ok(service().credit_line(supplier_id, currency))
    except InvalidRequest as exc:
        raise _invalid(exc) from exc


@app.post("/v1/applications")
def create_application() -> Response[Any]:
    supplier_id = require_supplier(app)
    key = _idempotency_key()
    body = json_body(app)
    try:
        answer = service().apply(supplier_id, body, key)
    except InvalidRequest as exc:
        raise _invalid(exc) from exc
    except IdempotencyMismatch as exc:
        raise Problem(422, "Idempotency key reused", str(exc), code="IDEMPOTENCY_KEY_REUSED") from exc
    except DecisionContention as exc:
        raise Problem(409, "Conflict", str(exc), code="CONTENTION") from exc
    return ok(answer, status=201)


@app.get("/v1/applications/<application_id>")
def get_application(application_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    answer = service().get_application(supplier_id, application_id)
    if answer is None:
        raise not_found(f"application {application_id}")
    return ok(answer)


@app.get("/v1/reviews")
def list_reviews() -> Response[Any]:
    require_ops(app)
    limit, token = _page()
    try:
        return ok(service().list_reviews(limit, token))
    except BadPageToken as exc:
        raise Problem(422, "Invalid request", str(exc), code="INVALID_TOKEN", field="next_token") from exc


@app.post("/v1/reviews/<application_id>/decision")
def decide_review(application_id: str) -> Response[Any]:
    reviewer = require_ops(app)
    key = _idempotency_key()
    body = json_body(app)
    try:
        answer = service().review(application_id, body, reviewer.subject, key)
    except InvalidRequest as exc:
        raise _invalid(exc) from exc
    except ReviewReplayMismatch as exc:
        raise Problem(422, "Idempotency key reused", str(exc), code="IDEMPOTENCY_KEY_REUSED") from exc
    except ReviewConflict as exc:
        raise Problem(409, "Conflict", str(exc), code="REVIEW_CONFLICT", errors=exc.reasons or None) from exc
    except DecisionContention as exc:
        raise Problem(409, "Conflict", str(exc), code="CONTENTION") from exc
    if answer is None:
        raise not_found(f"application {application_id}")
    return ok(answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
