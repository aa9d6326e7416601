"""disburse: pays out approved loans. Trigger: the disbursements queue, whose message bodies are
DynamoDB stream records of `LoanApproved` outbox events (docs/architecture.md), and the daily
job's messages from its schedules: INQUIRE (the payouts' status inquiry) and REPUBLISH
(`LoanApproved` again for loans still APPROVED). Partial batch failures: a record that raises is
retried alone (and ends in the DLQ after 5 receives); one whose bank was unavailable comes back
within seconds (scf.adapters.sqs.BackoffBatchProcessor)."""

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
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.banks.registry import GatewayRegistry
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import bind
from scf.adapters.observability import TRACED_MODULES, EmfMetrics, correlate, metrics_namespace, run_daily
from scf.adapters.sqs import BackoffBatchProcessor
from scf.clock import clock_from_spec
from scf.config import live_policy_checked, settings
from scf.events import LOAN_APPROVED, event_from_stream_record
from scf.service.disbursement import PayoutService
from scf.service.lending_day import DailyJob, is_daily_message

if TYPE_CHECKING:
    from scf.clock import Clock
    from scf.domain.policy import CreditPolicy

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=metrics_namespace())
processor = BackoffBatchProcessor(logger)


@dataclass(frozen=True)
class Services:
    """The payouts, and the daily steps built on the first daily message (`cache`): their modules
    stay out of the cold start of the payouts."""

    payouts: PayoutService
    daily: Callable[[], DailyJob]


@lru_cache(maxsize=1)
def bootstrap() -> Services:
    """The function's services, built once per cold start from its environment."""
    config = settings()
    policy = live_policy_checked(config)
    bind(config.table_name, config.region, config.endpoint_url)
    clock = clock_from_spec(config.clock, policy.timezone)
    store = DynamoLoanStore(clock)
    emf = EmfMetrics(metrics)
    gateways = GatewayRegistry(config, clock=clock, tracer=tracer)
    payouts = PayoutService(
        loans=store, gateways=gateways, banks=config.bank_directory(), clock=clock, metrics=emf
    )
    return Services(
        payouts=payouts, daily=cache(partial(daily_steps, store, clock, policy, emf, payouts, gateways))
    )


def daily_steps(
    store: DynamoLoanStore,
    clock: Clock,
    policy: CreditPolicy,
    emf: EmfMetrics,
    payouts: PayoutService,
    gateways: GatewayRegistry,
) -> DailyJob:
    """The daily steps this function owns: INQUIRE and REPUBLISH."""
    from scf.adapters.dynamodb.republish_repository import DynamoRepublishStore
    from scf.service.inquiries import InquiryService
    from scf.service.lending_day import Step, dated
    from scf.service.outcomes import PaymentOutcomeService
    from scf.service.payments import PaymentKind
    from scf.service.republish import RepublishService

    republish = RepublishService(
        DynamoRepublishStore(), clock, policy.timezone, events=frozenset({LOAN_APPROVED})
    )
    inquiries = InquiryService(
        loans=store,
        gateways=gateways,
        outcomes=PaymentOutcomeService(loans=store, clock=clock, policy=policy, metrics=emf),
        clock=clock,
        resend={PaymentKind.PAYOUT: payouts.pay_again},
        policy=policy,
        metrics=emf,
    )
    return DailyJob(
        {
            Step.INQUIRE: lambda message: inquiries.run(message.business_date, message.at),
            Step.REPUBLISH: dated(republish.run),
        },
        policy.timezone,
        emf,
    )


def record_handler(record: SQSRecord) -> None:
    if is_daily_message(record.body):
        run_daily(bootstrap().daily(), record.body, logger)
        return
    event = event_from_stream_record(record.body)
    correlate(logger, event.correlation_id or event.event_id)
    if event.event_type != LOAN_APPROVED:
        logger.warning("not a disbursement event; dropped", extra={"event_type": event.event_type})
        return
    loan_id = str(event.payload["loan_id"])
    status = bootstrap().payouts.disburse(loan_id)
    logger.info("disbursement handled", extra={"loan_id": loan_id, "loan_status": status.value})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


gc.freeze()  # the modules' objects are permanent: later collections never walk them again
gc.enable()
