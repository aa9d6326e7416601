"""ingest_settlement: files dropped in the inbox (S3 notification -> SQS) and `GET /v1/unmatched`.

Thin: each object an SQS record names is handed to `IngestService`, with partial batch failures so
one bad file never blocks the others; `is_api_request` tells the ops route's events apart.
"""

from __future__ import annotations

import gc

# No garbage collection while the modules load: a cold start's imports allocate objects that all
# live as long as the process. Frozen and collection enabled again at the end of this module.
gc.disable()

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.dynamodb.documents_repository import DynamoDocumentStore
from scf.adapters.dynamodb.files_repository import DynamoIngestRepository
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import bind
from scf.adapters.dynamodb.statement_store import DynamoStatementStore, DynamoUnmatchedStore
from scf.adapters.files.readers import FormatParsers
from scf.adapters.http import (
    UNMATCHED_PAGE,
    api_resolver,
    idempotency_key,
    is_api_request,
    json_body,
    ok,
    page,
    require_ops,
)
from scf.adapters.memory import limit_arenas
from scf.adapters.observability import (
    TRACED_MODULES,
    EmfMetrics,
    api_correlation_id,
    correlate,
    file_correlation_id,
    metrics_namespace,
)
from scf.adapters.s3 import S3Inbox, uploader_id
from scf.adapters.sqs import SqsContinuations
from scf.clock import clock_from_spec
from scf.config import live_policy_checked, settings
from scf.errors import InvalidInput
from scf.service.checkpoint import CONTINUE, Deadline
from scf.service.ingest import REPORTS_PREFIX, IngestFile, IngestService
from scf.service.statements import PaymentOutcomes, StatementMatcher
from scf.service.unmatched import OPEN, RESOLVED, UnmatchedService

if TYPE_CHECKING:
    from scf.clock import Clock
    from scf.domain.policy import CreditPolicy
    from scf.service.metrics import Metrics as MetricsPort
    from scf.service.payments import PaymentReport

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACED_MODULES)
metrics = Metrics(namespace=metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS)
app = api_resolver()


@dataclass(frozen=True)
class Services:
    ingest: IngestService
    files: DynamoIngestRepository  # the unmatched items' list, for the ops route
    unmatched: UnmatchedService  # ops resolutions of unmatched items


@lru_cache(maxsize=1)
def bootstrap() -> Services:
    """The function's services, built once per cold start from its environment."""
    limit_arenas()  # one malloc arena, before the document writers' threads start (adapters.memory)
    config = settings()
    policy = live_policy_checked(config)
    bind(config.table_name, config.region, config.endpoint_url)
    files = DynamoIngestRepository()
    clock = clock_from_spec(config.clock, policy.timezone)
    statements = DynamoStatementStore(DynamoLoanStore(clock))  # its clock dates the touched-loan markers
    bank_accounts = config.bank_accounts()  # {bank code: the lender's accounts there}, from BANKS
    emf = EmfMetrics(metrics)
    outcomes = OutcomesOnFirstReport(lambda: payment_outcomes(statements, clock, policy, emf))
    ingest = IngestService(
        S3Inbox(endpoint_url=config.endpoint_url),
        files,
        clock,
        readers=FormatParsers(),
        bank_accounts=bank_accounts,
        senders=config.inbox_senders,  # {partner: its IAM role's unique id}; {} refuses every sender
        matcher=StatementMatcher(statements, clock, bank_accounts, outcomes, metrics=emf),
        documents=DynamoDocumentStore(statements.loans),
        continuations=(
            SqsContinuations(config.settlement_files_queue_url, endpoint_url=config.endpoint_url)
            if config.settlement_files_queue_url
            else None
        ),
        policy=policy,
        metrics=emf,
    )
    unmatched = UnmatchedService(store=DynamoUnmatchedStore(statements), clock=clock)
    return Services(ingest=ingest, files=files, unmatched=unmatched)


def payment_outcomes(
    statements: DynamoStatementStore, clock: Clock, policy: CreditPolicy, metrics: MetricsPort
) -> PaymentOutcomes:
    """What a bank's answer about one of our payments does (the loan side's use case, on the same
    store); integration tests of the matcher put a recording fake here."""
    from scf.service.outcomes import PaymentOutcomeService

    return PaymentOutcomeService(loans=statements.loans, clock=clock, policy=policy, metrics=metrics)


class OutcomesOnFirstReport(PaymentOutcomes):
    """`payment_outcomes` built on the first report about one of our payments: only bank files
    have any, so the loan side's modules stay out of the cold start of the other files."""

    def __init__(self, build: Callable[[], PaymentOutcomes]) -> None:
        self.built = cache(build)

    def apply(self, report: PaymentReport) -> str:
        return self.built().apply(report)


def s3_objects(body: str) -> list[IngestFile]:
    """The objects named by an S3 notification (keys arrive URL-encoded) or by a continuation
    (scf.service.checkpoint), each with its version and uploader; S3's test event and our own
    reports name none."""
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("scf") == CONTINUE:
        return [
            IngestFile(
                bucket=message["bucket"],
                key=message["key"],
                sha256=message["sha256"],
                version=message.get("version"),
                uploader=message.get("uploader"),
            )
        ]
    files = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = unquote_plus(record["s3"]["object"]["key"])
        if key.startswith(REPORTS_PREFIX):
            continue
        version = record["s3"]["object"].get("versionId")
        uploader = uploader_id(record.get("userIdentity", {}).get("principalId"))
        files.append(
            IngestFile(bucket=record["s3"]["bucket"]["name"], key=key, version=version, uploader=uploader)
        )
    return files


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    service = bootstrap().ingest
    deadline = Deadline(lambda_context.get_remaining_time_in_millis)
    for command in s3_objects(record.body):
        correlate(logger, file_correlation_id(command.key))
        report = service.ingest(command, deadline)
        if report is None:
            logger.info("file already processed or in progress elsewhere", extra={"key": command.key})
        else:
            logger.info(
                "file ingested",
                extra={
                    "key": command.key,
                    "status": report.status,
                    "format": report.format,
                    "rows_accepted": report.rows_accepted,
                    "rows_rejected": report.rows_rejected,
                },
            )


@app.get("/v1/unmatched")
def unmatched() -> Response[Any]:
    require_ops(app)
    wanted = page(app, UNMATCHED_PAGE)
    status = app.current_event.get_query_string_value("status") or OPEN
    if status not in (OPEN, RESOLVED):
        raise InvalidInput("must be OPEN or RESOLVED", code="INVALID_STATUS", field="status")
    items, next_token = bootstrap().files.list_unmatched(wanted.limit, wanted.next_token, status)
    return ok({"items": items, "next_token": next_token})


@app.post("/v1/unmatched/<item_id>/resolution")
def resolve_unmatched(item_id: str) -> Response[Any]:
    ops = require_ops(app)
    key = idempotency_key(app)
    body = json_body(app)
    resolution = bootstrap().unmatched.resolve(item_id, body, by=ops.subject, idempotency_key=key)
    return ok({"item_id": item_id, "status": RESOLVED, "resolution": resolution})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if is_api_request(event):
        correlate(logger, api_correlation_id(event))
        return app.resolve(event, context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


gc.freeze()  # the modules' objects are permanent: later collections never walk them again
gc.enable()
