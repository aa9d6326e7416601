"""apply_repayment: repayments, interest, the ledger, extension and the loan views.

Two triggers, told apart by the event's shape: the repayments queue (bodies are DynamoDB stream
records of `RepaymentRequested` outbox events; partial batch failures) and API Gateway (the routes
below; the supplier comes from the verified token only)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.banks.registry import GatewayRegistry, lender_account
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import bind
from scf.adapters.dynamodb.transactions import BadPageToken
from scf.adapters.http import (
    Problem,
    install_error_handlers,
    invalid_field,
    json_body,
    not_found,
    ok,
    require_supplier,
)
from scf.clock import clock_from_spec
from scf.config import settings
from scf.domain.loan import ExtensionRefused
from scf.domain.money import MoneyError, parse_amount
from scf.errors import IdempotencyKeyReused
from scf.events import REPAYMENT_REQUESTED, event_from_stream_record
from scf.service.loan_store import LoanNotFound, RepaymentNotFound
from scf.service.loans import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, LoanService
from scf.service.repayment import LoanNotRepayable, RepaymentService

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
app = APIGatewayRestResolver()
install_error_handlers(app)

MAX_IDEMPOTENCY_KEY_LENGTH = 128


@dataclass(frozen=True)
class Services:
    repayments: RepaymentService
    loans: LoanService


@lru_cache(maxsize=1)
def services() -> Services:
    """Built once per cold start from the function's environment."""
    config = settings()
    bind(config.table_name, config.region, config.endpoint_url)
    store = DynamoLoanStore()
    clock = clock_from_spec(config.clock, config.policy_timezone)
    return Services(
        repayments=RepaymentService(
            loans=store, gateways=GatewayRegistry(config), lender=lender_account(config), clock=clock
        ),
        loans=LoanService(loans=store, clock=clock),
    )


# -- API --------------------------------------------------------------------------------------------


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("Idempotency-Key")  # case-insensitive in Powertools v3
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH and key.isprintable()):
        raise invalid_field(
            "Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters"
        )
    return key


@app.get("/v1/loans")
def list_loans() -> Response[Any]:
    supplier_id = require_supplier(app)
    raw_limit = app.current_event.get_query_string_value("limit")
    if raw_limit is None:
        limit = DEFAULT_PAGE_SIZE
    elif raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
        limit = int(raw_limit)
    else:
        raise invalid_field("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    next_token = app.current_event.get_query_string_value("next_token")
    try:
        return ok(services().loans.list(supplier_id, limit=limit, next_token=next_token))
    except BadPageToken as exc:
        raise invalid_field("next_token", exc) from exc


@app.get("/v1/loans/<loan_id>")
def get_loan(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    try:
        return ok(services().loans.get(supplier_id, loan_id))
    except LoanNotFound as exc:
        raise not_found(f"loan {loan_id}") from exc


@app.post("/v1/loans/<loan_id>/repayments")
def request_repayment(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    body = json_body(app)
    key = _idempotency_key()
    try:
        amount = parse_amount(body.get("amount"))
        if amount == 0:
            raise MoneyError("INVALID_AMOUNT", "must be more than 0.00")
        repayment = services().repayments.request(supplier_id, loan_id, amount, key)
    except MoneyError as exc:
        raise invalid_field("amount", exc) from exc
    except LoanNotFound as exc:
        raise not_found(f"loan {loan_id}") from exc
    except LoanNotRepayable as exc:
        raise Problem(409, "Conflict", str(exc), code="LOAN_NOT_REPAYABLE") from exc
    except IdempotencyKeyReused as exc:
        raise Problem(
            422, "Invalid request", str(exc), code="IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key"
        ) from exc
    # The first answer, also for a retry with the same key and body.
    return ok({"repayment_id": repayment.repayment_id, "status": "PENDING"}, status=202)


@app.get("/v1/repayments/<repayment_id>")
def get_repayment(repayment_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    try:
        return ok(services().loans.repayment(supplier_id, repayment_id))
    except RepaymentNotFound as exc:
        raise not_found(f"repayment {repayment_id}") from exc


@app.post("/v1/loans/<loan_id>/extension")
def extend_loan(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    key = _idempotency_key()
    try:
        return ok(services().loans.extend(supplier_id, loan_id, key))
    except LoanNotFound as exc:
        raise not_found(f"loan {loan_id}") from exc
    except ExtensionRefused as exc:
        raise Problem(409, "Extension refused", exc.message, code=exc.code) from exc


# -- queue ------------------------------------------------------------------------------------------


def record_handler(record: SQSRecord) -> None:
    event = event_from_stream_record(record.body)
    if event.event_type != REPAYMENT_REQUESTED:
        logger.warning("not a repayment event; dropped", extra={"event_type": event.event_type})
        return
    redelivered = int(record.attributes.approximate_receive_count or "1") > 1
    status = services().repayments.apply(event.payload, redelivered=redelivered)
    logger.info(
        "repayment handled",
        extra={"repayment_id": event.payload.get("repayment_id"), "repayment_status": status.value},
    )


def _is_sqs(event: dict[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and records[0].get("eventSource") == "aws:sqs"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if _is_sqs(event):
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return app.resolve(event, context)
