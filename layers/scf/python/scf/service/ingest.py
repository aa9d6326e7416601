"""Use case: ingest one file dropped in the inbox (contract section 6).

`IngestFile` -> a report. Steps: fingerprint the bytes (a file seen before is a DUPLICATE and changes
nothing), check the sender, detect the format from the content, stream the rows in file order,
validate each, apply the good ones in chunks and report the rest. Every chunk of documents is one
transaction: the new documents and each touched pool (optimistic lock on its version), so a
document's pool effect is applied exactly once however often the file is redelivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from scf.adapters.files.detect import HEAD_BYTES, detect
from scf.adapters.files.platform_csv import (
    DOCUMENTS,
    SUPPLIERS,
    CsvSyntaxError,
    DocumentRecord,
    RawRow,
    RowError,
    SupplierRecord,
    read_rows,
    validate_document,
    validate_supplier,
)
from scf.clock import Clock
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.domain.pool import Pool

PROCESSED = "PROCESSED"
DUPLICATE = "DUPLICATE"
REJECTED = "REJECTED"
PROCESSING = "PROCESSING"

NEW_OUTCOME = "NEW"
RESUME_OUTCOME = "RESUME"
DONE_OUTCOME = "DONE"

PLATFORM_PARTNER = "platform"
PARTNER_FORMATS = {PLATFORM_PARTNER: frozenset({SUPPLIERS, DOCUMENTS})}
REPORTS_PREFIX = "reports/"

DOCUMENTS_PER_CHUNK = 49  # + at most 49 pools: within TransactWriteItems' 100 actions and BatchGet's 100 keys
SUPPLIERS_PER_CHUNK = 25  # BatchWriteItem
MAX_CHUNK_ATTEMPTS = 5
MAX_REPORTED_ERRORS = 10_000

PoolKey = tuple[str, str]  # (supplier_id, currency)
DocKey = tuple[str, str]  # (supplier_id, document_id)


class ChunkConflict(Exception):
    """Another writer changed a pool or wrote a document of this chunk first: re-read and redo."""


@dataclass(frozen=True)
class IngestFile:
    bucket: str
    key: str


@dataclass(frozen=True)
class FileClaim:
    """`NEW`: first time these bytes are seen; `RESUME`: the same key again (redelivery) before it
    finished; `DONE`: the same key again after it finished; `DUPLICATE`: the bytes came before
    under another key."""

    outcome: str
    first_key: str | None = None


@dataclass
class PoolVersion:
    pool: Pool
    version: int | None  # None: the pool item does not exist yet


@dataclass(frozen=True)
class NewDocument:
    record: DocumentRecord
    source: str


class Inbox(Protocol):
    def sha256(self, bucket: str, key: str) -> str: ...
    def head(self, bucket: str, key: str, size: int) -> bytes: ...
    def lines(self, bucket: str, key: str) -> Iterator[str]: ...
    def put_report(self, bucket: str, key: str, report: dict[str, Any]) -> None: ...


class IngestRepository(Protocol):
    def claim_file(self, sha256: str, key: str, now: datetime) -> FileClaim: ...
    def finish_file(
        self, sha256: str, status: str, file_format: str | None, report_key: str, now: datetime
    ) -> None: ...
    def upsert_suppliers(self, records: list[SupplierRecord], source_key: str, now: datetime) -> None: ...
    def load_chunk(
        self, doc_keys: list[DocKey], pool_keys: list[PoolKey]
    ) -> tuple[dict[DocKey, str], dict[PoolKey, PoolVersion]]:
        """Content hashes of the documents that exist already, and the pools with their versions."""
        ...

    def commit_documents(
        self, documents: list[NewDocument], pools: dict[PoolKey, PoolVersion], now: datetime
    ) -> None: ...


@dataclass
class Report:
    file_id: str
    key: str
    sha256: str
    format: str | None = None
    status: str = PROCESSED
    rows_total: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    reason: str | None = None
    duplicate_of: str | None = None
    errors_truncated: int = 0

    def reject_row(self, errors: list[RowError]) -> None:
        self.rows_rejected += 1
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_truncated += max(len(errors) - max(room, 0), 0)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file_id": self.file_id,
            "key": self.key,
            "sha256": self.sha256,
            "format": self.format,
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "errors": [e.to_json() for e in self.errors],
            "sweeps": [],
            "matches": [],
        }
        if self.reason:
            out["reason"] = self.reason
        if self.duplicate_of:
            out["duplicate_of"] = self.duplicate_of
        if self.errors_truncated:
            out["errors_truncated"] = self.errors_truncated
        return out


def report_key(key: str) -> str:
    return f"{REPORTS_PREFIX}{key}.report.json"


def partner_of(key: str) -> str | None:
    first, sep, rest = key.partition("/")
    return first if sep and first and rest else None


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _readable_rows(lines: Iterable[str], report: Report) -> Iterator[RawRow]:
    """The rows of a CSV; where the rest of it cannot be split into rows (e.g. an unterminated
    quote), the rows before stay applied and the report says from which line on nothing was read."""
    try:
        yield from read_rows(lines)
    except CsvSyntaxError as exc:
        report.rows_total += 1
        report.reject_row(
            [RowError(exc.line, None, "CSV_SYNTAX", f"unreadable from this line on: {exc.message}")]
        )


@dataclass
class IngestService:
    inbox: Inbox
    repository: IngestRepository
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY

    def ingest(self, command: IngestFile) -> Report | None:
        """Process one file; None when it is a redelivery of a file already finished."""
        sha = self.inbox.sha256(command.bucket, command.key)
        report = Report(file_id=sha, key=command.key, sha256=sha)
        claim = self.repository.claim_file(sha, command.key, self.clock.now())
        if claim.outcome == DONE_OUTCOME:
            return None
        if claim.outcome == DUPLICATE:
            report.status, report.duplicate_of = DUPLICATE, claim.first_key
            report.reason = f"the same bytes were received before as {claim.first_key}"
            self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
            return report

        detection = detect(self.inbox.head(command.bucket, command.key, HEAD_BYTES))
        report.format = detection.format
        partner = partner_of(command.key)
        allowed = PARTNER_FORMATS.get(partner or "", frozenset())
        if not detection.usable or detection.format not in allowed:
            report.status = REJECTED
            if not detection.usable:
                report.reason = detection.problem
            else:
                report.reason = f"sender {partner or '(none)'!r} may not send {detection.format} files"
            report.errors.append(
                RowError(1 if detection.format else 0, None, "FILE_REJECTED", report.reason or "")
            )
        else:
            lines = self.inbox.lines(command.bucket, command.key)
            if detection.format == SUPPLIERS:
                self._suppliers(lines, command.key, report)
            else:
                self._documents(lines, command.key, report)

        self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
        self.repository.finish_file(
            sha, report.status, report.format, report_key(command.key), self.clock.now()
        )
        return report

    # ---- suppliers ---------------------------------------------------------------------------

    def _supplier_records(self, lines: Iterable[str], report: Report) -> Iterator[SupplierRecord]:
        for row in _readable_rows(lines, report):
            report.rows_total += 1
            result = validate_supplier(row)
            if isinstance(result, list):
                report.reject_row(result)
                continue
            report.rows_accepted += 1
            yield result

    def _suppliers(self, lines: Iterable[str], key: str, report: Report) -> None:
        for chunk in _chunks(self._supplier_records(lines, report), SUPPLIERS_PER_CHUNK):
            # A later row for the same supplier wins (rows apply in file order).
            latest = {record.supplier_id: record for record in chunk}
            self.repository.upsert_suppliers(list(latest.values()), key, self.clock.now())

    # ---- documents ---------------------------------------------------------------------------

    def _documents(self, lines: Iterable[str], key: str, report: Report) -> None:
        today = self.clock.today()

        def records() -> Iterator[DocumentRecord]:
            for row in _readable_rows(lines, report):
                report.rows_total += 1
                result = validate_document(row, today)
                if isinstance(result, list):
                    report.reject_row(result)
                else:
                    yield result

        for chunk in _chunks(records(), DOCUMENTS_PER_CHUNK):
            self._apply_chunk(chunk, key, today, report)

    def _apply_chunk(self, chunk: list[DocumentRecord], key: str, today: date, report: Report) -> None:
        doc_keys = list(dict.fromkeys((r.supplier_id, r.document.document_id) for r in chunk))
        pool_keys = list(dict.fromkeys((r.supplier_id, r.currency) for r in chunk))
        for attempt in range(MAX_CHUNK_ATTEMPTS):
            existing, pools = self.repository.load_chunk(doc_keys, pool_keys)
            seen: dict[DocKey, str] = dict(existing)
            new: list[NewDocument] = []
            rejected: list[RowError] = []
            for record in chunk:
                doc_key = (record.supplier_id, record.document.document_id)
                content = record.content_hash
                if doc_key in seen:
                    if seen[doc_key] != content:
                        rejected.append(
                            RowError(
                                record.line,
                                "document_id",
                                "DUPLICATE_CONFLICT",
                                f"document {record.document.document_id} was received before with other "
                                "content",
                            )
                        )
                    continue  # same content again: a no-op, accepted
                seen[doc_key] = content
                pool_key = (record.supplier_id, record.currency)
                pools.setdefault(pool_key, PoolVersion(Pool(), None)).pool.apply(record.document)
                new.append(NewDocument(record, f"{key}:{record.line}"))
            touched = {(n.record.supplier_id, n.record.currency) for n in new}
            for pool_key in touched:
                pools[pool_key].pool.prune(today, self.policy)
            try:
                if new:
                    self.repository.commit_documents(
                        new, {k: v for k, v in pools.items() if k in touched}, self.clock.now()
                    )
            except ChunkConflict:
                if attempt == MAX_CHUNK_ATTEMPTS - 1:
                    raise
                continue
            for error in rejected:
                report.reject_row([error])
            report.rows_accepted += len(chunk) - len(rejected)
            return
