"""The settlement-files queue as the ingest service's `Continuations` port: the next part of a file
that one invocation could not finish (scf.service.checkpoint)."""

from __future__ import annotations

import json
from typing import Any

import boto3


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
