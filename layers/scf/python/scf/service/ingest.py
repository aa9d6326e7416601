"""Use case: ingest one file dropped in the inbox (contract section 6).

`IngestFile` -> a report. Steps: fingerprint the bytes (a file seen before is a DUPLICATE and changes
nothing), check the sender, detect the format from the content, stream the rows in file order,
validate each, apply the good ones in chunks and report the rest. Every chunk of documents is one
transaction: the new documents and each touched pool (optimistic lock on its version), so a
document's pool effect is applied exactly once however often the file is redelivered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from scf.adapters.files.bank_detect import PARSERS as BANK_PARSERS
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
from scf.service.checkpoint import (
    Checkpoint,
    Continuations,
    CsvSource,
    Deadline,
    Lease,
    PositionedLines,
    continuation_message,
    header_line,
)
from scf.service.statements import StatementMatcher
from scf.service.sweeps import Sweeper

PROCESSED = "PROCESSED"
DUPLICATE = "DUPLICATE"
REJECTED = "REJECTED"
PROCESSING = "PROCESSING"

NEW_OUTCOME = "NEW"
RESUME_OUTCOME = "RESUME"
DONE_OUTCOME = "DONE"
BUSY_OUTCOME = "BUSY"

PLATFORM_PARTNER = "platform"
PARTNER_FORMATS = {PLATFORM_PARTNER: frozenset({SUPPLIERS, DOCUMENTS})}
BANK_FORMATS = frozenset(BANK_PARSERS)  # what a configured bank may send (about accounts it holds)
MAX_BANK_FILE_BYTES = 50 * 1024 * 1024  # the parsers' cap (docs/bank-files.md): read whole, then parsed
REPORTS_PREFIX = "reports/"

DOCUMENTS_PER_CHUNK = 49  # + at most 49 pools: within TransactWriteItems' 100 actions and BatchGet's 100 keys
SUPPLIERS_PER_CHUNK = 25  # BatchWriteItem
MAX_CHUNK_ATTEMPTS = 5
MAX_REPORTED_ERRORS = 1_000  # kept in the checkpoint between invocations: well within an item's 400 KB
LEASE_WITHOUT_DEADLINE_SECONDS = 900  # Lambda's longest timeout

PoolKey = tuple[str, str]  # (supplier_id, currency)
DocKey = tuple[str, str]  # (supplier_id, document_id)


class ChunkConflict(Exception):
    """Another writer changed a pool or wrote a document of this chunk first: re-read and redo."""


@dataclass(frozen=True)
class IngestFile:
    bucket: str
    key: str
    sha256: str | None = None  # known for a continuation (the bytes are not read again to find it)


@dataclass(frozen=True)
class FileClaim:
    """`NEW`: first time these bytes are seen; `RESUME`: the same key again (redelivery) before it
    finished; `DONE`: the same key again after it finished; `DUPLICATE`: the bytes came before
    under another key; `BUSY`: another invocation holds the file's lease (service/checkpoint.py).
    `checkpoint`: where an earlier invocation stopped (NEW and RESUME)."""

    outcome: str
    first_key: str | None = None
    checkpoint: Checkpoint | None = None


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
    def lines(self, bucket: str, key: str, start: int = 0) -> PositionedLines: ...
    def put_report(self, bucket: str, key: str, report: dict[str, Any]) -> None: ...


class IngestRepository(Protocol):
    def claim_file(self, sha256: str, key: str, now: datetime, lease: Lease | None = None) -> FileClaim: ...
    def finish_file(
        self,
        sha256: str,
        status: str,
        file_format: str | None,
        report_key: str,
        now: datetime,
        owner: str | None = None,
    ) -> None: ...
    def save_checkpoint(self, sha256: str, owner: str, checkpoint: Checkpoint, now: datetime) -> bool:
        """Store the checkpoint and release the lease, if `owner` still holds it and the offset
        moves forward; False otherwise (someone else took the file over)."""
        ...

    def release_file(self, sha256: str, owner: str) -> None: ...
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
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)

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
            "sweeps": self.sweeps,
            "matches": self.matches,
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


def _readable_rows(lines: Iterable[str], report: Report, line_shift: int = 0) -> Iterator[RawRow]:
    """The rows of a CSV; where the rest of it cannot be split into rows (e.g. an unterminated
    quote), the rows before stay applied and the report says from which line on nothing was read.
    `line_shift`: lines of the file before the first data line of `lines` (a resumed read)."""
    try:
        for row in read_rows(lines):
            yield RawRow(row.line + line_shift, row.values) if line_shift else row
    except CsvSyntaxError as exc:
        report.rows_total += 1
        report.reject_row(
            [
                RowError(
                    exc.line + line_shift, None, "CSV_SYNTAX", f"unreadable from this line on: {exc.message}"
                )
            ]
        )


@dataclass
class IngestService:
    inbox: Inbox
    repository: IngestRepository
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY
    bank_accounts: dict[str, list[str]] = field(default_factory=dict)  # {bank_code: [account ids]}
    matcher: StatementMatcher | None = None  # bank statements and payment status reports
    sweeper: Sweeper | None = None  # PAYMENT documents repay the supplier's loans
    continuations: Continuations | None = None  # without: a file is finished in one invocation
    wall_clock: Callable[[], float] = time.time  # lease expiry (epoch seconds), not the business date

    def ingest(self, command: IngestFile, deadline: Deadline | None = None) -> Report | None:
        """Process one file, or its next part (service/checkpoint.py): None when it is finished or
        another invocation holds it; status PROCESSING when it stopped before `deadline` and a
        continuation is on its way."""
        sha = command.sha256 or self.inbox.sha256(command.bucket, command.key)
        seconds = deadline.seconds_left() if deadline else LEASE_WITHOUT_DEADLINE_SECONDS
        now = self.wall_clock()
        lease = Lease(uuid.uuid4().hex, now, now + seconds)
        claim = self.repository.claim_file(sha, command.key, self.clock.now(), lease)
        if claim.outcome in (DONE_OUTCOME, BUSY_OUTCOME):
            return None
        report = Report(file_id=sha, key=command.key, sha256=sha)
        if claim.outcome == DUPLICATE:
            report.status, report.duplicate_of = DUPLICATE, claim.first_key
            report.reason = f"the same bytes were received before as {claim.first_key}"
            self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
            return report
        try:
            return self._process(command, report, claim.checkpoint, lease.owner, deadline)
        except Exception:
            # A retry (the message again) may start at once rather than when the lease expires.
            with suppress(Exception):
                self.repository.release_file(sha, lease.owner)
            raise

    def _process(
        self,
        command: IngestFile,
        report: Report,
        checkpoint: Checkpoint | None,
        owner: str,
        deadline: Deadline | None,
    ) -> Report:
        head = self.inbox.head(command.bucket, command.key, HEAD_BYTES)
        stop_at = deadline if self.continuations is not None else None
        detection = detect(head)
        report.format = detection.format
        partner = partner_of(command.key)
        allowed = PARTNER_FORMATS.get(partner or "", frozenset())
        if partner in self.bank_accounts and partner not in PARTNER_FORMATS:
            allowed = BANK_FORMATS
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
            if detection.format in BANK_FORMATS:
                self._bank_file(command, partner or "", detection.format, report)
            elif detection.format == SUPPLIERS:
                source = self._csv_source(command, head, checkpoint, report)
                if not self._suppliers(source, command.key, report, stop_at):
                    return self._continue(command, source, report, owner)
            else:
                source = self._csv_source(command, head, checkpoint, report)
                if not self._documents(source, command.key, report, stop_at):
                    return self._continue(command, source, report, owner)

        self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
        self.repository.finish_file(
            report.sha256, report.status, report.format, report_key(command.key), self.clock.now(), owner
        )
        return report

    # ---- checkpoint and continue (service/checkpoint.py) ----------------------------------------

    def _csv_source(
        self, command: IngestFile, head: bytes, checkpoint: Checkpoint | None, report: Report
    ) -> CsvSource:
        if checkpoint is None:
            return CsvSource(self.inbox.lines(command.bucket, command.key))
        checkpoint.restore(report)
        lines = self.inbox.lines(command.bucket, command.key, checkpoint.offset)
        return CsvSource(lines, header_line(head), checkpoint.lines)

    def _continue(self, command: IngestFile, source: CsvSource, report: Report, owner: str) -> Report:
        checkpoint = source.checkpoint(report)
        if self.continuations is not None and self.repository.save_checkpoint(
            report.sha256, owner, checkpoint, self.clock.now()
        ):
            self.continuations.send(
                continuation_message(command.bucket, command.key, report.sha256, checkpoint.offset)
            )
        report.status = PROCESSING
        return report

    # ---- suppliers ---------------------------------------------------------------------------

    def _supplier_records(self, source: CsvSource, report: Report) -> Iterator[SupplierRecord]:
        for row in _readable_rows(source, report, source.line_shift):
            report.rows_total += 1
            result = validate_supplier(row)
            if isinstance(result, list):
                report.reject_row(result)
                continue
            report.rows_accepted += 1
            yield result

    def _suppliers(self, source: CsvSource, key: str, report: Report, deadline: Deadline | None) -> bool:
        """Apply the rows; False when it stopped at the deadline (after a whole chunk)."""
        for chunk in _chunks(self._supplier_records(source, report), SUPPLIERS_PER_CHUNK):
            # A later row for the same supplier wins (rows apply in file order).
            latest = {record.supplier_id: record for record in chunk}
            self.repository.upsert_suppliers(list(latest.values()), key, self.clock.now())
            if deadline is not None and deadline.expired():
                return False
        return True

    # ---- bank files (docs/ingestion.md) ------------------------------------------------------

    def _bank_file(self, command: IngestFile, bank: str, file_format: str, report: Report) -> None:
        data = self.inbox.head(command.bucket, command.key, MAX_BANK_FILE_BYTES + 1)
        result = BANK_PARSERS[file_format](data)
        if self.matcher is None or result.rejected:
            report.status = REJECTED
            report.errors.extend(RowError(e.line, e.field, e.code, e.message) for e in result.errors)
            report.reason = result.errors[0].message if result.errors else "nothing usable in the file"
            return
        outcome = self.matcher.process(bank, command.key, result)
        report.errors.extend(RowError(e.line, e.field, e.code, e.message) for e in outcome.errors)
        report.matches = outcome.matches
        report.rows_total, report.rows_accepted = outcome.rows_total, outcome.rows_accepted
        report.rows_rejected = outcome.rows_rejected
        if not outcome.usable:
            report.status = REJECTED
            report.reason = f"no statement in the file is about an account bank {bank!r} holds"

    # ---- documents ---------------------------------------------------------------------------

    def _documents(self, source: CsvSource, key: str, report: Report, deadline: Deadline | None) -> bool:
        """Apply the rows; False when it stopped at the deadline (after a whole chunk)."""
        today = self.clock.today()

        def records() -> Iterator[DocumentRecord]:
            for row in _readable_rows(source, report, source.line_shift):
                report.rows_total += 1
                result = validate_document(row, today)
                if isinstance(result, list):
                    report.reject_row(result)
                else:
                    yield result

        for chunk in _chunks(records(), DOCUMENTS_PER_CHUNK):
            self._apply_chunk(chunk, key, today, report)
            if deadline is not None and deadline.expired():
                return False
        return True

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
            conflicted = {error.line for error in rejected}
            self._sweep([r for r in chunk if r.line not in conflicted], key, report)
            report.rows_accepted += len(chunk) - len(rejected)
            return

    def _sweep(self, applied: list[DocumentRecord], key: str, report: Report) -> None:
        """Each CONFIRMED PAYMENT of a committed chunk is swept once (keyed by the document, so a
        resumed or redelivered file, or the same document in another file, never sweeps it again)."""
        if self.sweeper is None:
            return
        for record in applied:
            doc = record.document
            if doc.document_type != "PAYMENT" or doc.status != "CONFIRMED":
                continue
            sweep = self.sweeper.sweep(
                record.supplier_id, doc.document_id, record.currency, doc.amount_minor, f"{key}:{record.line}"
            )
            report.sweeps.append(sweep.to_json())
