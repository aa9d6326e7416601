"""SQS adapters: the settlement-files queue as the ingest service's `Continuations` port (the next
part of a file that one invocation could not finish, scf.service.checkpoint), and the batch
processor of the paying functions that brings a record failed for want of a dependency back soon
(docs/operations.md, "Retries")."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo

from scf.errors import Unavailable

# A record whose dependency was unavailable (a bank blip) is visible again after 5 s, 10 s, 20 s
# (its 1st, 2nd, 3rd receive); from the 4th receive on it keeps the queue's visibility timeout, so a
# long outage still waits twice the full timeout before the DLQ (5 receives).
BACKOFF_FIRST_SECONDS = 5
BACKOFF_RECEIVES = 3


class SqsContinuations:
    def __init__(self, queue_url: str, client: Any | None = None, endpoint_url: str | None = None) -> None:
        self.queue_url = queue_url
        self._client = client
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs", endpoint_url=self._endpoint_url)
        return self._client

    def send(self, message: dict[str, Any]) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message, sort_keys=True))


def backoff_seconds(receive_count: int) -> int | None:
    """Seconds until a record failed by `Unavailable` on its `receive_count`-th receive is visible
    again (doubling from 5 s); None from the 4th receive on: the queue's own timeout."""
    if not 1 <= receive_count <= BACKOFF_RECEIVES:
        return None
    return int(BACKOFF_FIRST_SECONDS * 2 ** (receive_count - 1))


def queue_url_of(queue_arn: str, endpoint_url: str) -> str:
    """arn:aws:sqs:REGION:ACCOUNT:NAME as a queue URL on the client's endpoint."""
    account, name = queue_arn.split(":")[4:6]
    return f"{endpoint_url.rstrip('/')}/{account}/{name}"


class BackoffBatchProcessor(BatchProcessor):
    """Powertools' SQS BatchProcessor (partial batch failures), but a record that failed with
    `Unavailable` is made visible again after `backoff_seconds` (ChangeMessageVisibility) instead of
    the queue's visibility timeout. Any other failure is reported as before."""

    def __init__(self, logger: Logger, client: Any | None = None) -> None:
        super().__init__(event_type=EventType.SQS)
        self._log = logger
        self._client = client

    def failure_handler(self, record: dict[str, Any], exception: ExceptionInfo) -> FailureResponse:
        if isinstance(exception[1], Unavailable):
            self._visible_soon(record)
        return super().failure_handler(record, exception)

    def _visible_soon(self, record: dict[str, Any]) -> None:
        """Never raises: a record whose visibility cannot be changed keeps the queue's timeout."""
        try:
            receive_count = int(record["attributes"]["ApproximateReceiveCount"])
            delay = backoff_seconds(receive_count)
            if delay is None:
                return
            region = record["eventSourceARN"].split(":")[3]
            if self._client is None:
                self._client = boto3.client("sqs", region_name=region)
            self._client.change_message_visibility(
                QueueUrl=queue_url_of(record["eventSourceARN"], self._client.meta.endpoint_url),
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=delay,
            )
            self._log.info(
                "dependency unavailable; record visible again soon",
                extra={"message_id": record.get("messageId"), "receive_count": receive_count, "delay": delay},
            )
        except Exception as exc:  # the record still fails; it only waits the full timeout
            self._log.warning(
                "cannot shorten the record's visibility; it keeps the queue's timeout",
                extra={"message_id": record.get("messageId"), "error": f"{type(exc).__name__}: {exc}"},
            )
