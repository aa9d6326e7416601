"""apply_repayment: repayments, interest, the ledger, extension and the loan views.

Two triggers (`is_api_request` tells them apart): the repayments queue (`RepaymentRequested` outbox
events, and the daily job's `{"scf": "daily", "step", "business_date"}` messages from its schedules:
OVERDUE, DUE_SOON, REPUBLISH of pending repayments, LEDGER_CHECK; partial batch failures) and API
Gateway (the routes below; the supplier is the token's).
"""

from __future__ import annotations

import gc

# No garbage collection while the modules load: a cold start's imports allocate objects that all
# live as long as the process. Frozen and collection enabled again at the end of this module.
gc.disable()

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.banks.registry import GatewayRegistry
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import bind
from scf.adapters.http import (
    LOANS_PAGE,
    api_resolver,
    idempotency_key,
    is_api_request,
    json_body,
    ok,
    page,
    positive_amount,
    require_ops,
    require_supplier,
)
from scf.adapters.observability import (
    TRACED_MODULES,
    EmfMetrics,
    api_correlation_id,
    correlate,
    metrics_namespace,
    run_daily,
)
from scf.adapters.sqs import BackoffBatchProcessor
from scf.clock import Clock, clock_from_spec
from scf.config import live_policy_checked, settings
from scf.events import REPAYMENT_REQUESTED, event_from_stream_record
from scf.service.lending_day import DailyJob, is_daily_message
from scf.service.loans import LoanService
from scf.service.portfolio import PortfolioService, currency_filter, loan_filter
from scf.service.repayment import RepaymentService

if TYPE_CHECKING:
    from scf.domain.policy import CreditPolicy
    from scf.service.banks import BankDirectory
    from scf.service.loan_history import LoanHistoryService
    from scf.service.ops_outcomes import OpsOutcomeService

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=metrics_namespace())
processor = BackoffBatchProcessor(logger)
app = api_resolver()


@dataclass(frozen=True)
class Services:
    """What each path needs; the daily steps and the ops loan view are built on their first use
    (`cache`): their modules stay out of the cold start of the repayments and the loan routes."""

    repayments: RepaymentService
    loans: LoanService
    portfolio: PortfolioService
    loan_history: Callable[[], LoanHistoryService]
    ops_outcomes: Callable[[], OpsOutcomeService]
    daily: Callable[[], DailyJob]


@lru_cache(maxsize=1)
def bootstrap() -> Services:
    """The function's services, built once per cold start from its environment."""
    config = settings()
    policy = live_policy_checked(config)
    bind(config.table_name, config.region, config.endpoint_url)
    clock = clock_from_spec(config.clock, policy.timezone)
    store = DynamoLoanStore(clock)
    loans = LoanService(loans=store, clock=clock, policy=policy)
    emf = EmfMetrics(metrics)
    gateways = GatewayRegistry(config, clock=clock, tracer=tracer)
    banks = config.bank_directory()
    repayments = RepaymentService(
        loans=store, gateways=gateways, banks=banks, clock=clock, policy=policy, metrics=emf
    )
    return Services(
        repayments=repayments,
        loans=loans,
        portfolio=PortfolioService(loans=store, views=loans),
        loan_history=cache(partial(loan_history, loans)),
        ops_outcomes=cache(partial(ops_outcomes, store, clock, policy, emf)),
        daily=cache(partial(daily_steps, banks, store, clock, policy, emf, repayments, gateways)),
    )


def loan_history(loans: LoanService) -> LoanHistoryService:
    """The ops view of one loan (`GET /v1/ops/loans/{id}`)."""
    from scf.adapters.dynamodb.loan_history_reader import DynamoLoanHistoryReader
    from scf.service.loan_history import LoanHistoryService

    return LoanHistoryService(reader=DynamoLoanHistoryReader(), loans=loans)


def ops_outcomes(
    store: DynamoLoanStore, clock: Clock, policy: CreditPolicy, emf: EmfMetrics
) -> OpsOutcomeService:
    """A bank's answer ops obtained out of band (`POST /v1/ops/payments/{id}/outcome`)."""
    from scf.service.ops_outcomes import OpsOutcomeService
    from scf.service.outcomes import PaymentOutcomeService

    outcomes = PaymentOutcomeService(loans=store, clock=clock, policy=policy, metrics=emf)
    return OpsOutcomeService(loans=store, outcomes=outcomes, clock=clock)


def daily_steps(
    banks: BankDirectory,
    store: DynamoLoanStore,
    clock: Clock,
    policy: CreditPolicy,
    emf: EmfMetrics,
    repayments: RepaymentService,
    gateways: GatewayRegistry,
) -> DailyJob:
    """The daily steps this function owns (infra/constructs/repayment.py schedules them)."""
    from scf.adapters.dynamodb.ledger_reader import DynamoLedgerReader
    from scf.adapters.dynamodb.republish_repository import DynamoRepublishStore
    from scf.adapters.ledger_alarm import EmfMismatchAlarm
    from scf.service.inquiries import InquiryService
    from scf.service.ledger_check import LedgerCheckService
    from scf.service.lending_day import LendingDayService, Step, dated
    from scf.service.outcomes import PaymentOutcomeService
    from scf.service.payments import PaymentKind
    from scf.service.refunds import RefundService
    from scf.service.republish import RepublishService

    lending_day = LendingDayService(loans=store, clock=clock, policy=policy)
    refunds = RefundService(loans=store, gateways=gateways, banks=banks, clock=clock)
    republish = RepublishService(
        DynamoRepublishStore(), clock, policy.timezone, events=frozenset({REPAYMENT_REQUESTED})
    )
    ledger_check = LedgerCheckService(
        loans=store, ledger=DynamoLedgerReader(), alarm=EmfMismatchAlarm(emf.metrics), clock=clock
    )
    inquiries = InquiryService(
        loans=store,
        gateways=gateways,
        outcomes=PaymentOutcomeService(loans=store, clock=clock, policy=policy, metrics=emf),
        clock=clock,
        resend={PaymentKind.COLLECTION: repayments.collect_again, PaymentKind.REFUND: refunds.send_again},
        policy=policy,
        metrics=emf,
    )
    return DailyJob(
        {
            Step.OVERDUE: dated(partial(lending_day.run, Step.OVERDUE)),
            Step.DUE_SOON: dated(partial(lending_day.run, Step.DUE_SOON)),
            Step.INQUIRE: lambda message: inquiries.run(message.business_date, message.at),
            Step.REFUND: dated(refunds.run),
            Step.REPUBLISH: dated(republish.run),
            Step.LEDGER_CHECK: dated(ledger_check.run),
        },
        policy.timezone,
        emf,
    )


# -- API --------------------------------------------------------------------------------------------


@app.get("/v1/loans")
def list_loans() -> Response[Any]:
    supplier_id = require_supplier(app)
    wanted = page(app, LOANS_PAGE)
    return ok(bootstrap().loans.list(supplier_id, limit=wanted.limit, next_token=wanted.next_token))


@app.get("/v1/loans/<loan_id>")
def get_loan(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    return ok(bootstrap().loans.get(supplier_id, loan_id))


@app.post("/v1/loans/<loan_id>/repayments")
def request_repayment(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    key = idempotency_key(app)
    amount = positive_amount(json_body(app), "amount")
    pending = bootstrap().repayments.request(supplier_id, loan_id, amount, key)
    # The first answer, also for a retry with the same key and body.
    return ok({"repayment_id": pending.repayment_id, "status": "PENDING"}, status=202)


@app.get("/v1/repayments/<repayment_id>")
def get_repayment(repayment_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    return ok(bootstrap().loans.repayment(supplier_id, repayment_id))


@app.post("/v1/loans/<loan_id>/extension")
def extend_loan(loan_id: str) -> Response[Any]:
    supplier_id = require_supplier(app)
    key = idempotency_key(app)
    return ok(bootstrap().loans.extend(supplier_id, loan_id, key))


@app.get("/v1/ops/loans")
def ops_loans() -> Response[Any]:
    require_ops(app)
    query = app.current_event.get_query_string_value
    wanted = loan_filter(query("status"), query("supplier_id"), query("currency"))
    size = page(app, LOANS_PAGE)
    return ok(bootstrap().portfolio.list(wanted, limit=size.limit, next_token=size.next_token))


@app.get("/v1/ops/portfolio")
def ops_portfolio() -> Response[Any]:
    require_ops(app)
    currency = currency_filter(app.current_event.get_query_string_value("currency"), required=True)
    assert currency is not None
    return ok(bootstrap().portfolio.portfolio(currency))


@app.get("/v1/ops/loans/<loan_id>")
def ops_loan(loan_id: str) -> Response[Any]:
    require_ops(app)
    return ok(bootstrap().loan_history().view(loan_id))


@app.post("/v1/ops/payments/<payment_id>/outcome")
def ops_payment_outcome(payment_id: str) -> Response[Any]:
    who = require_ops(app)
    key = idempotency_key(app)
    body = json_body(app)
    return ok(bootstrap().ops_outcomes().record(payment_id, body, by=who.subject, idempotency_key=key))


# -- queue ------------------------------------------------------------------------------------------


def record_handler(record: SQSRecord) -> None:
    if is_daily_message(record.body):
        run_daily(bootstrap().daily(), record.body, logger)
        return
    event = event_from_stream_record(record.body)
    correlate(logger, event.correlation_id or event.event_id)
    if event.event_type != REPAYMENT_REQUESTED:
        logger.warning("not a repayment event; dropped", extra={"event_type": event.event_type})
        return
    redelivered = int(record.attributes.approximate_receive_count or "1") > 1
    status = bootstrap().repayments.apply(event.payload, redelivered=redelivered)
    logger.info(
        "repayment handled",
        extra={"repayment_id": event.payload.get("repayment_id"), "repayment_status": status.value},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if is_api_request(event):
        correlate(logger, api_correlation_id(event))
        return app.resolve(event, context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


gc.freeze()  # the modules' objects are permanent: later collections never walk them again
gc.enable()
