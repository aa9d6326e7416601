"""ingest_settlement: files dropped in the inbox (S3 notification -> SQS) and `GET /v1/unmatched`.

Thin: each SQS record holds an S3 notification; each object is handed to
`scf.service.ingest.IngestService`. Partial batch failures are reported, so one bad file never
blocks the others. The same function answers the ops route; the event shape tells them apart.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scf.adapters.dynamodb.documents_repository import DynamoDocumentStore
from scf.adapters.dynamodb.files_repository import DynamoIngestRepository
from scf.adapters.dynamodb.models import bind
from scf.adapters.dynamodb.statement_store import DynamoStatementStore
from scf.adapters.dynamodb.transactions import BadPageToken
from scf.adapters.files.readers import FormatParsers
from scf.adapters.http import Problem, install_error_handlers, ok, require_ops
from scf.adapters.memory import limit_arenas
from scf.adapters.s3 import S3Inbox
from scf.adapters.sqs import SqsContinuations
from scf.clock import clock_from_spec
from scf.config import settings
from scf.domain.policy import live_policy
from scf.service.checkpoint import CONTINUE, Deadline
from scf.service.ingest import REPORTS_PREFIX, IngestFile, IngestService
from scf.service.statements import StatementMatcher

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
app = APIGatewayRestResolver()
install_error_handlers(app)

MAX_PAGE = 100


@lru_cache(maxsize=1)
def wiring() -> tuple[IngestService, DynamoIngestRepository]:
    limit_arenas()  # one malloc arena, before the document writers' threads start (adapters.memory)
    config = settings()
    bind(config.table_name, config.region, config.endpoint_url)
    repository = DynamoIngestRepository()
    inbox = S3Inbox(endpoint_url=config.endpoint_url)
    clock = clock_from_spec(config.clock, config.policy_timezone)
    statements = DynamoStatementStore()
    service = IngestService(
        inbox,
        repository,
        clock,
        readers=FormatParsers(),
        documents=DynamoDocumentStore(statements.loans),
        policy=live_policy(),
        bank_accounts=config.bank_accounts,
        matcher=StatementMatcher(statements, clock, config.bank_accounts),
        continuations=(
            SqsContinuations(config.settlement_files_queue_url, endpoint_url=config.endpoint_url)
            if config.settlement_files_queue_url
            else None
        ),
    )
    return service, repository


def s3_objects(body: str) -> list[IngestFile]:
    """The objects named by an S3 notification (keys arrive URL-encoded); the test event that S3
    sends when a notification is configured, and our own reports, name none. A continuation
    (scf.service.checkpoint) names the file whose next part to ingest."""
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("scf") == CONTINUE:
        return [IngestFile(bucket=message["bucket"], key=message["key"], sha256=message["sha256"])]
    files = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = unquote_plus(record["s3"]["object"]["key"])
        if key.startswith(REPORTS_PREFIX):
            continue
        version = record["s3"]["object"].get("versionId")
        files.append(IngestFile(bucket=record["s3"]["bucket"]["name"], key=key, version=version))
    return files


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    service, _ = wiring()
    deadline = Deadline(lambda_context.get_remaining_time_in_millis)
    for command in s3_objects(record.body):
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
    params = app.current_event.query_string_parameters or {}
    raw = params.get("limit", "25")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Problem(
            422, "Invalid request", f"limit must be 1 to {MAX_PAGE}", code="INVALID_LIMIT", field="limit"
        )
    _, repository = wiring()
    try:
        items, next_token = repository.list_unmatched(int(raw), params.get("next_token"))
    except BadPageToken as exc:
        raise Problem(422, "Invalid request", str(exc), code="INVALID_TOKEN", field="next_token") from exc
    return ok({"items": items, "next_token": next_token})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if "httpMethod" in event:
        return app.resolve(event, context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
