"""The inbox bucket: fingerprint, head and streamed lines of a dropped file, and its report.

Nothing here holds a whole file in memory: the fingerprint and the lines are read in chunks of
`CHUNK_BYTES`. Lines are read from any byte offset (a ranged GET), and the reader tells the offset of
the next unread line, so a file can be read in several invocations (checkpoint and continue).
Bytes that are not UTF-8 become U+FFFD, which the row validation reports per field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

CHUNK_BYTES = 1024 * 1024


class PositionedLines:
    """The lines of a byte stream that starts at byte `start` of an object, endings kept (csv wants
    them). `position` is the offset, in the object, just after the last line handed out; `count` is
    how many lines were handed out. Lines are split on b"\n" only (a UTF-8 sequence never contains
    that byte); a BOM at offset 0 is dropped from the text (and counted in `position`)."""

    def __init__(self, chunks: Iterator[bytes], start: int = 0) -> None:
        self.position = start
        self.count = 0
        self._at_start = start == 0
        self._lines = self._split(chunks)

    @staticmethod
    def _split(chunks: Iterator[bytes]) -> Iterator[bytes]:
        rest = b""
        for chunk in chunks:
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for part in parts:
                yield part + b"\n"
        if rest:
            yield rest

    def __iter__(self) -> PositionedLines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.position += len(raw)
        self.count += 1
        text = raw.decode("utf-8", "replace")
        if self._at_start:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        return text


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

    def lines(self, bucket: str, key: str, start: int = 0) -> PositionedLines:
        """The object's lines from byte `start` (the start of a line) to its end, streamed."""
        try:
            ranged = {"Range": f"bytes={start}-"} if start else {}
            answer = self.client.get_object(Bucket=bucket, Key=key, **ranged)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # start is the end
                return PositionedLines(iter(()), start)
            raise
        body = answer["Body"]
        return PositionedLines(iter(lambda: body.read(CHUNK_BYTES), b""), start)

    def put_report(self, bucket: str, key: str, report: dict[str, Any]) -> None:
        self.client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(report, indent=1).encode(),
            ContentType="application/json",
        )
