"""score_application: the credit line, applications and manual reviews (API Gateway, REST).

Thin: routes read the request with the HTTP toolkit and call `CreditService`; its errors are the
vocabulary's, answered as problem+json by the resolver. The supplier is the token's claim only.
"""

from __future__ import annotations

import gc

# No garbage collection while the modules load: a cold start's imports allocate objects that all
# live as long as the process. Frozen and collection enabled again at the end of this module.
gc.disable()

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.dynamodb.credit_repository import DynamoCreditRepository
from scf.adapters.dynamodb.models import bind
from scf.adapters.http import (
    REVIEWS_PAGE,
    api_resolver,
    idempotency_key,
    json_body,
    ok,
    page,
    require_ops,
    require_supplier,
)
from scf.adapters.observability import (
    TRACED_MODULES,
    EmfMetrics,
    api_correlation_id,
    correlate,
    metrics_namespace,
)
from scf.clock import clock_from_spec
from scf.config import live_policy_checked, settings
from scf.service.credit import CreditService

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=metrics_namespace())
app = api_resolver()


@dataclass(frozen=True)
class Services:
    credit: CreditService


@lru_cache(maxsize=1)
def bootstrap() -> Services:
    """The function's services, built once per cold start from its environment."""
    config = settings()
    policy = live_policy_checked(config)
    bind(config.table_name, config.region, config.endpoint_url)
    clock = clock_from_spec(config.clock, policy.timezone)
    return Services(
        credit=CreditService(DynamoCreditRepository(), clock, policy=policy, metrics=EmfMetrics(metrics))
    )


@app.get("/v1/credit-line")
def credit_line() -> Response[Any]:
    supplier_id = require_supplier(app)
    currency = app.current_event.get_query_string_value("currency", "CNY")
    return ok(bootstrap().credit.credit_line(supplier_id, currency))


@app.post("/v1/applications")
def create_application() -> Response[Any]:
    supplier_id = require_supplier(app)
    key = idempotency_key(app)
    return ok(bootstrap().credit.apply(supplier_id, json_body(app), key), status=201)


@app.get("/v1/applications/<application_id>")
def get_application(application_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    return ok(bootstrap().credit.get_application(supplier_id, application_id))


@app.get("/v1/ops/applications/<application_id>")
def ops_application(application_id: str) -> Response[Any]:
    require_ops(app)
    return ok(bootstrap().credit.ops_application(application_id))


@app.get("/v1/reviews")
def list_reviews() -> Response[Any]:
    require_ops(app)
    wanted = page(app, REVIEWS_PAGE)
    return ok(bootstrap().credit.list_reviews(wanted.limit, wanted.next_token))


@app.post("/v1/reviews/<application_id>/decision")
def decide_review(application_id: str) -> Response[Any]:
    reviewer = require_ops(app)
    key = idempotency_key(app)
    body = json_body(app)
    return ok(
        bootstrap().credit.review(
            application_id, body, reviewer.subject, key, reviewer_supplier_id=reviewer.supplier_id
        )
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    correlate(logger, api_correlation_id(event))
    return app.resolve(event, context)


gc.freeze()  # the modules' objects are permanent: later collections never walk them again
gc.enable()
