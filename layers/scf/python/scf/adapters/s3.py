"""The inbox bucket: fingerprint, head and streamed lines of a dropped file, and its report.

Nothing here holds a whole file in memory: the fingerprint and the lines are read in chunks.
Bytes that are not UTF-8 become U+FFFD, which the row validation reports per field.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

CHUNK_BYTES = 1024 * 1024


class S3Inbox:
    def __init__(self, client: Any | None = None, endpoint_url: str | None = None) -> None:
        self._client = client
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("s3", endpoint_url=self._endpoint_url)
        return self._client

    def sha256(self, bucket: str, key: str) -> str:
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, bucket: str, key: str, size: int) -> bytes:
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object
                return b""
            raise
        data: bytes = answer["Body"].read()
        return data

    def lines(self, bucket: str, key: str) -> Iterator[str]:
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        reader = codecs.getreader("utf-8-sig")(body, "replace")
        # csv wants lines with their endings kept; StreamReader yields them so.
        yield from reader

    def put_report(self, bucket: str, key: str, report: dict[str, Any]) -> None:
        self.client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(report, indent=1).encode(),
            ContentType="application/json",
        )
