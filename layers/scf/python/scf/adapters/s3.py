"""The ingestion's `Inbox` on S3 (docs/ingestion.md): fingerprint, head and streamed lines of a
dropped file, its report and report parts. Invariant: no file or report is ever held whole in
memory (chunks of `CHUNK_BYTES` in, spooled multipart uploads out)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

from scf.domain.files import MAX_LINE_BYTES, LineTooLong

CHUNK_BYTES = 1024 * 1024
REPORT_PART_BYTES = 8 * 1024 * 1024  # S3's multipart minimum is 5 MB (but for the last part)
SPOOL_BYTES = 256 * 1024  # a report's bytes held in memory before they go to a temporary file
DETAIL_FIELDS = ("errors", "sweeps")


class S3ObjectLines:
    """The lines of a byte stream that starts at byte `start` of an object, endings kept (csv wants
        them). `position` is the offset, in the object, just after the last line handed out; `count` is
        how many lines were handed out. Lines are split on b"\n" only (a UTF-8 sequence never contains
        that byte); a BOM at offset 0 is dropped from the text (and counted in `position`). A line over
    MAX_LINE_BYTES raises LineTooLong rather than grow without bound."""

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
                if len(part) > MAX_LINE_BYTES:
                    raise LineTooLong
                yield part + b"\n"
            if len(rest) > MAX_LINE_BYTES:
                raise LineTooLong
        if rest:
            yield rest

    def __iter__(self) -> S3ObjectLines:
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


def uploader_id(principal_id: str | None) -> str | None:
    """The IAM unique id of who caused an S3 event (`userIdentity.principalId`): an assumed role's
    `AWS:AROA...:session` gives the role's id (`AROA...`), an IAM user's `AWS:AIDA...` the user's;
    None when the event names nobody (docs/ingestion.md, "Who sent a file")."""
    if not principal_id:
        return None
    return principal_id.removeprefix("AWS:").split(":", 1)[0] or None


def _version(version: str | None) -> dict[str, str]:
    return {"VersionId": version} if version else {}


class S3Inbox:
    def __init__(self, client: Any | None = None, endpoint_url: str | None = None) -> None:
        self._client = client
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("s3", endpoint_url=self._endpoint_url)
        return self._client

    def sha256(self, bucket: str, key: str, version: str | None = None) -> str:
        body = self.client.get_object(Bucket=bucket, Key=key, **_version(version))["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, bucket: str, key: str, size: int, version: str | None = None) -> bytes:
        try:
            answer = self.client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}", **_version(version)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object
                return b""
            raise
        data: bytes = answer["Body"].read()
        return data

    def lines(self, bucket: str, key: str, start: int = 0, version: str | None = None) -> S3ObjectLines:
        """The object's lines from byte `start` (the start of a line) to its end, streamed."""
        try:
            ranged = {"Range": f"bytes={start}-"} if start else {}
            answer = self.client.get_object(Bucket=bucket, Key=key, **ranged, **_version(version))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # start is the end
                return S3ObjectLines(iter(()), start)
            raise
        body = answer["Body"]
        return S3ObjectLines(iter(lambda: body.read(CHUNK_BYTES), b""), start)

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
                    if self._splice(bucket, part, upload, first):
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

    def _splice(self, bucket: str, part: str, upload: _StreamedObject, first: bool) -> bool:
        """Copy a part's items (its JSON array without the brackets, a chunk at a time) into
        `upload`, after a comma unless `first`; whether it had any."""
        answer = self.client.get_object(Bucket=bucket, Key=part)
        body, left = answer["Body"], answer["ContentLength"] - 2  # put_part wrote "[...]"
        try:
            if left <= 0:
                return False
            if body.read(1) != b"[":
                raise ValueError(f"report part {part} is not a JSON array")
            if not first:
                upload.write(b",")
            while left:
                chunk = body.read(min(CHUNK_BYTES, left))
                if not chunk:
                    raise ValueError(f"report part {part} ended early")
                upload.write(chunk)
                left -= len(chunk)
            return True
        finally:
            body.close()

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
    REPORT_PART_BYTES, else a multipart upload of parts of about that size. What is written waits
    in a spool that moves to a temporary file beyond SPOOL_BYTES, and goes out from there, so a
    report's size (megabytes for a long file) never shows in the process's memory."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        # Lives across write() calls; close() and abort() close it.
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.size = 0
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.spool.write(data)
        self.size += len(data)
        if self.size >= REPORT_PART_BYTES:
            self._send()

    def _send(self) -> None:
        if self.upload_id is None:
            started = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType=JSON)
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        self.spool.seek(0)
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=self.spool
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.spool.seek(0)
        self.spool.truncate()
        self.size = 0

    def close(self) -> None:
        if self.upload_id is None:
            self.spool.seek(0)
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self.spool, ContentType=JSON)
            self.spool.close()
            return
        if self.size:
            self._send()
        self.spool.close()
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        self.spool.close()
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
