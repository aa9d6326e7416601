"""The inbox bucket: fingerprint, head and streamed lines of a dropped file, and its report.

Nothing here holds a whole file in memory: the fingerprint and the lines are read in chunks of
`CHUNK_BYTES`. Lines are read from any byte offset (a ranged GET), and the reader tells the offset of
the next unread line, so a file can be read in several invocations (checkpoint and continue).
Bytes that are not UTF-8 become U+FFFD, which the row validation reports per field.

A long file's report is written from parts (scf.service.ingest): streamed into the report object
(one PUT while it is small, a multipart upload beyond `REPORT_PART_BYTES`), so no report is ever
held whole, then the parts are deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

CHUNK_BYTES = 1024 * 1024
REPORT_PART_BYTES = 8 * 1024 * 1024  # S3's multipart minimum is 5 MB (but for the last part)
DETAIL_FIELDS = ("errors", "sweeps")


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

    def put_report(
        self, bucket: str, key: str, report: dict[str, Any], parts_prefix: str | None = None
    ) -> None:
        if parts_prefix is None:
            self.client.put_object(
                Bucket=bucket, Key=key, Body=json.dumps(report, indent=1).encode(), ContentType=JSON
            )
            return
        parts = self._keys(bucket, parts_prefix)
        upload = _StreamedObject(self.client, bucket, key)
        try:
            head = {name: value for name, value in report.items() if name not in DETAIL_FIELDS}
            upload.write(json.dumps(head)[:-1].encode())  # the object without its closing brace
            for name in DETAIL_FIELDS:
                upload.write(f', "{name}": ['.encode())
                first = True
                for part in (k for k in parts if k.endswith(f".{name}.json")):
                    items = self.client.get_object(Bucket=bucket, Key=part)["Body"].read().strip()[1:-1]
                    if items.strip():
                        upload.write(items if first else b"," + items)
                        first = False
                upload.write(b"]")
            upload.write(b"}")
            upload.close()
        except BaseException:
            upload.abort()
            raise
        for start in range(0, len(parts), 1000):
            self.client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in parts[start : start + 1000]], "Quiet": True},
            )

    def put_part(self, bucket: str, key: str, items: list[dict[str, Any]]) -> None:
        """One JSON array (a window's errors or sweeps): put_report splices it in as it is."""
        body = json.dumps(items, separators=(",", ":")).encode()
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=JSON)

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return sorted(keys)


JSON = "application/json"


class _StreamedObject:
    """Bytes written in order become one object: a single PUT if they stay under
    REPORT_PART_BYTES, else a multipart upload of parts of that size."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= REPORT_PART_BYTES:
            self._send(bytes(self.buffer[:REPORT_PART_BYTES]))
            del self.buffer[:REPORT_PART_BYTES]

    def _send(self, data: bytes) -> None:
        if self.upload_id is None:
            started = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType=JSON)
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def close(self) -> None:
        if self.upload_id is None:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer), ContentType=JSON
            )
            return
        if self.buffer:
            self._send(bytes(self.buffer))
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
