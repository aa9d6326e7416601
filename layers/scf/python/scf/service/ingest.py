"""Use case: ingest one file dropped in the inbox (contract section 6; docs/ingestion.md).

`IngestFile` -> a report. Invariant: every row of a file is either applied or in its report, bytes
of a file processed before change nothing (DUPLICATE), and a file its prefix's partner did not
upload changes nothing (REJECTED). Only the notified object version is read, through `FileReaders`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scf.clock import Clock
from scf.domain.bank_files import BANK_FORMATS, ParseResult
from scf.domain.files import (
    DOCUMENTS,
    SUPPLIERS,
    CsvSyntaxError,
    Detection,
    DocumentRecord,
    RawRow,
    RowError,
    SupplierRecord,
    validate_document,
    validate_supplier,
)
from scf.domain.policy import CreditPolicy
from scf.events import FILE_PROCESSED, OutboxEvent
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
from scf.service.documents import (
    NEW,
    REJECTED_OUTCOMES,
    WINDOW_ROWS,
    DocKey,
    DocumentStore,
    RowOutcome,
    WindowApplier,
    is_sweepable,
)
from scf.service.metrics import FILE_ROWS, FILES, NO_METRICS, SWEEPS, Metrics
from scf.service.statements import StatementMatcher
from scf.service.sweeps import Sweep

PROCESSED = "PROCESSED"
DUPLICATE = "DUPLICATE"
REJECTED = "REJECTED"
PROCESSING = "PROCESSING"

NEW_OUTCOME = "NEW"
RESUME_OUTCOME = "RESUME"
DONE_OUTCOME = "DONE"
BUSY_OUTCOME = "BUSY"

SENDER_NOT_AUTHORIZED = "SENDER_NOT_AUTHORIZED"

PLATFORM_PARTNER = "platform"
PARTNER_FORMATS = {PLATFORM_PARTNER: frozenset({SUPPLIERS, DOCUMENTS})}
MAX_BANK_FILE_BYTES = 50 * 1024 * 1024  # the parsers' cap (docs/bank-files.md): read whole, then parsed
REPORTS_PREFIX = "reports/"
PARTS_PREFIX = f"{REPORTS_PREFIX}.parts/"  # report parts of long files, by file sha256 (removed when done)
DETAIL_FIELDS = ("errors", "sweeps")  # what a report part holds, per window

SUPPLIERS_PER_CHUNK = 25  # BatchWriteItem
LEASE_WITHOUT_DEADLINE_SECONDS = 900  # Lambda's longest timeout


@dataclass(frozen=True)
class IngestFile:
    bucket: str
    key: str
    sha256: str | None = None  # known for a continuation (the bytes are not read again to find it)
    version: str | None = None  # the object version the notification names: the only one read
    uploader: str | None = None  # who uploaded it, as the notification names them (the sender check)


@dataclass(frozen=True)
class FileClaim:
    """`NEW`: first time these bytes are seen; `RESUME`: the same key again (redelivery) before it
    finished; `DONE`: the same key again after it finished; `DUPLICATE`: the bytes came before
    under another key; `BUSY`: another invocation holds the file's lease (service/checkpoint.py).
    `checkpoint`: where an earlier invocation stopped (NEW and RESUME)."""

    outcome: str
    first_key: str | None = None
    checkpoint: Checkpoint | None = None


class FileReaders(Protocol):
    """How the service reads a file's content (scf.adapters.files.readers.FormatParsers)."""

    @property
    def head_bytes(self) -> int:
        """How much of the file's start `detect` needs."""
        ...

    def detect(self, head: bytes) -> Detection:
        """The format from the content, never from the name."""
        ...

    def csv_rows(self, lines: Iterable[str]) -> Iterator[RawRow]:
        """Data rows in file order; raises CsvSyntaxError where the rest cannot be split into rows."""
        ...

    def bank_file(self, file_format: str, data: bytes) -> ParseResult:
        """A whole bank file of one of BANK_FORMATS, parsed."""
        ...


class Inbox(Protocol):
    """`version`: read exactly that version of the object (None: the current one)."""

    def sha256(self, bucket: str, key: str, version: str | None = None) -> str: ...
    def head(self, bucket: str, key: str, size: int, version: str | None = None) -> bytes: ...
    def lines(self, bucket: str, key: str, start: int = 0, version: str | None = None) -> PositionedLines: ...
    def put_report(
        self, bucket: str, key: str, report: dict[str, Any], parts_prefix: str | None = None
    ) -> None:
        """Write the report; with `parts_prefix`, its DETAIL_FIELDS are the concatenation, in key
        order, of the parts under that prefix (which are removed afterwards)."""
        ...

    def put_part(self, bucket: str, key: str, items: list[dict[str, Any]]) -> None: ...


class IngestRepository(Protocol):
    def claim_file(
        self, sha256: str, key: str, now: datetime, lease: Lease | None = None, version: str | None = None
    ) -> FileClaim:
        """`version`: the object version the notification names; the same bytes uploaded again
        under the same key (another version) are a DUPLICATE, the same version again is a
        redelivery. Bytes whose file was REJECTED are not claimed: they are claimed anew."""
        ...

    def finish_file(
        self,
        sha256: str,
        status: str,
        file_format: str | None,
        report_key: str,
        now: datetime,
        owner: str | None = None,
        event: OutboxEvent | None = None,
    ) -> None:
        """The final status (and `event`, written once, in the same write)."""
        ...

    def save_checkpoint(self, sha256: str, owner: str, checkpoint: Checkpoint, now: datetime) -> bool:
        """Store the checkpoint and release the lease, if `owner` still holds it and the offset
        moves forward; False otherwise (someone else took the file over)."""
        ...

    def release_file(self, sha256: str, owner: str) -> None: ...
    def upsert_suppliers(self, records: list[SupplierRecord], source_key: str, now: datetime) -> None: ...


@dataclass
class Report:
    """Counters of the whole file; `errors` and `sweeps` of the window not yet written as a part."""

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
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    windows: int = 0  # windows of rows read so far; after the first, detail goes to parts
    window_line: int = 0  # first line of the current window (its part's name)

    def reject_row(self, errors: list[RowError]) -> None:
        self.rows_rejected += 1
        self.errors.extend(errors)

    @property
    def in_parts(self) -> bool:
        return self.windows > 1

    def processed_event(self, report_key: str) -> OutboxEvent:
        """`FileProcessed`, once per file (its sha256): the final report's counts and outcome."""
        return OutboxEvent(
            f"{FILE_PROCESSED}-{self.sha256}",
            FILE_PROCESSED,
            {
                "file_id": self.file_id,
                "key": self.key,
                "report_key": report_key,
                "format": self.format,
                "outcome": self.status,
                "rows_total": self.rows_total,
                "rows_accepted": self.rows_accepted,
                "rows_rejected": self.rows_rejected,
            },
        )

    def detail_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "errors": [e.to_json() for e in sorted(self.errors, key=lambda e: e.line)],
            "sweeps": self.sweeps,
        }

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
            **self.detail_json(),
            "matches": self.matches,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.duplicate_of:
            out["duplicate_of"] = self.duplicate_of
        return out


def report_key(key: str) -> str:
    return f"{REPORTS_PREFIX}{key}.report.json"


def parts_prefix(sha256: str) -> str:
    return f"{PARTS_PREFIX}{sha256}/"


def part_key(sha256: str, window_line: int, name: str) -> str:
    """Zero-padded, so key order is line order."""
    return f"{parts_prefix(sha256)}{window_line:012d}.{name}.json"


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


def _readable_rows(rows: Iterator[RawRow], report: Report, line_shift: int = 0) -> Iterator[RawRow]:
    """`rows` until the rest cannot be split into rows (e.g. an unterminated quote): the rows before
    stay applied and the report says from which line on nothing was read. `line_shift`: lines of
    the file before the first line `rows` numbers (a resumed read)."""
    try:
        for row in rows:
            yield RawRow(row.line + line_shift, row.values) if line_shift else row
    except CsvSyntaxError as exc:
        report.rows_total += 1
        report.reject_row(
            [RowError(exc.line + line_shift, None, exc.code, f"unreadable from this line on: {exc.message}")]
        )


@dataclass
class IngestService:
    """`policy`: the live one (its sweep switch and ratio apply to PAYMENT documents)."""

    inbox: Inbox
    repository: IngestRepository
    clock: Clock
    readers: FileReaders
    documents: DocumentStore  # documents, pools and sweeps
    policy: CreditPolicy
    bank_accounts: dict[str, list[str]] = field(default_factory=dict)  # {bank_code: [account ids]}
    # {partner: the identity that may upload under its prefix}; None: senders are not checked.
    senders: Mapping[str, str] | None = None
    matcher: StatementMatcher | None = None  # bank statements and payment status reports
    continuations: Continuations | None = None  # without: a file is finished in one invocation
    window_rows: int = WINDOW_ROWS
    wall_clock: Callable[[], float] = time.time  # lease expiry (epoch seconds), not the business date
    metrics: Metrics = NO_METRICS

    def ingest(self, command: IngestFile, deadline: Deadline | None = None) -> Report | None:
        """Process one file, or its next part (service/checkpoint.py): None when it is finished or
        another invocation holds it; status PROCESSING when it stopped before `deadline` and a
        continuation is on its way."""
        report = self._ingest(command, deadline)
        if report is not None and report.status != PROCESSING:  # the file is done: count it once
            self.metrics.put(FILES, 1, format=report.format or "unknown", outcome=report.status)
            self.metrics.put(FILE_ROWS, report.rows_accepted, outcome="ACCEPTED")
            self.metrics.put(FILE_ROWS, report.rows_rejected, outcome="REJECTED")
        return report

    def _ingest(self, command: IngestFile, deadline: Deadline | None) -> Report | None:
        sha = command.sha256 or self.inbox.sha256(command.bucket, command.key, command.version)
        refusal = self._sender_refusal(command)
        if refusal is not None:  # before the claim: a file from the wrong sender changes nothing
            report = Report(file_id=sha, key=command.key, sha256=sha, status=REJECTED, reason=refusal)
            report.errors.append(RowError(0, None, SENDER_NOT_AUTHORIZED, refusal))
            self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
            return report
        seconds = deadline.seconds_left() if deadline else LEASE_WITHOUT_DEADLINE_SECONDS
        now = self.wall_clock()
        lease = Lease(uuid.uuid4().hex, now, now + seconds)
        claim = self.repository.claim_file(sha, command.key, self.clock.now(), lease, command.version)
        if claim.outcome in (DONE_OUTCOME, BUSY_OUTCOME):
            return None
        report = Report(file_id=sha, key=command.key, sha256=sha)
        if claim.outcome == DUPLICATE:
            report.status, report.duplicate_of = DUPLICATE, claim.first_key
            earlier = " (an earlier upload of this key)" if claim.first_key == command.key else ""
            report.reason = f"the same bytes were received before as {claim.first_key}{earlier}"
            self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
            return report
        try:
            return self._process(command, report, claim.checkpoint, lease.owner, deadline)
        except Exception:
            # A retry (the message again) may start at once rather than when the lease expires.
            with suppress(Exception):
                self.repository.release_file(sha, lease.owner)
            raise

    def _sender_refusal(self, command: IngestFile) -> str | None:
        """Why the uploader may not send under the key's prefix (None: it may). Only a configured
        partner's prefix is checked here; any other prefix is rejected with the file."""
        partner = partner_of(command.key)
        if self.senders is None or partner is None:
            return None
        if partner not in PARTNER_FORMATS and partner not in self.bank_accounts:
            return None
        expected = self.senders.get(partner)
        if expected is not None and command.uploader == expected:
            return None
        return (
            f"uploaded by {command.uploader or '(unknown)'}, not by sender {partner!r}'s identity"
            if expected is not None
            else f"no identity is configured for sender {partner!r}"
        )

    def _process(
        self,
        command: IngestFile,
        report: Report,
        checkpoint: Checkpoint | None,
        owner: str,
        deadline: Deadline | None,
    ) -> Report:
        head = self.inbox.head(command.bucket, command.key, self.readers.head_bytes, command.version)
        stop_at = deadline if self.continuations is not None else None
        detection = self.readers.detect(head)
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
            else:
                source = self._csv_source(command, head, checkpoint, report)
                read = self._suppliers if detection.format == SUPPLIERS else self._documents
                if not read(source, command, report, stop_at):
                    return self._continue(command, source, report, owner)

        self._put_report(command, report)
        self.repository.finish_file(
            report.sha256,
            report.status,
            report.format,
            report_key(command.key),
            self.clock.now(),
            owner,
            event=report.processed_event(report_key(command.key)),
        )
        return report

    def _put_report(self, command: IngestFile, report: Report) -> None:
        if not report.in_parts:
            self.inbox.put_report(command.bucket, report_key(command.key), report.to_json())
            return
        self._flush_detail(command.bucket, report)
        self.inbox.put_report(
            command.bucket, report_key(command.key), report.to_json(), parts_prefix(report.sha256)
        )

    def _flush_detail(self, bucket: str, report: Report) -> None:
        """Write the current window's detail as its part (if it has any) and forget it."""
        for name, items in report.detail_json().items():
            if items:
                self.inbox.put_part(bucket, part_key(report.sha256, report.window_line, name), items)
        report.errors, report.sweeps = [], []

    def _start_window(self, bucket: str, report: Report, first_line: int) -> None:
        if report.windows:
            self._flush_detail(bucket, report)
        report.windows += 1
        report.window_line = first_line

    # ---- checkpoint and continue (service/checkpoint.py) ----------------------------------------

    def _csv_source(
        self, command: IngestFile, head: bytes, checkpoint: Checkpoint | None, report: Report
    ) -> CsvSource:
        if checkpoint is None:
            return CsvSource(self.inbox.lines(command.bucket, command.key, version=command.version))
        checkpoint.restore(report)
        lines = self.inbox.lines(command.bucket, command.key, checkpoint.offset, command.version)
        return CsvSource(lines, header_line(head), checkpoint.lines)

    def _continue(self, command: IngestFile, source: CsvSource, report: Report, owner: str) -> Report:
        self._flush_detail(command.bucket, report)
        checkpoint = source.checkpoint(report)
        if self.continuations is not None and self.repository.save_checkpoint(
            report.sha256, owner, checkpoint, self.clock.now()
        ):
            self.continuations.send(continuation_message(command, report.sha256, checkpoint.offset))
        report.status = PROCESSING
        return report

    # ---- the platform's CSV files --------------------------------------------------------------

    def _windows(
        self,
        source: CsvSource,
        command: IngestFile,
        report: Report,
        deadline: Deadline | None,
        apply: Callable[[list[RawRow]], None],
    ) -> bool:
        """Read the rows a window at a time and `apply` each; False when it stopped at the
        deadline (after a whole window, when the next one would not fit in what is left)."""
        rows_read = _readable_rows(self.readers.csv_rows(source), report, source.line_shift)
        for rows in _chunks(rows_read, self.window_rows):
            started = time.monotonic()
            self._start_window(command.bucket, report, rows[0].line)
            report.rows_total += len(rows)
            apply(rows)
            if deadline is not None and deadline.expired(1000 * (time.monotonic() - started)):
                return False
        return True

    def _suppliers(
        self, source: CsvSource, command: IngestFile, report: Report, deadline: Deadline | None
    ) -> bool:
        def apply(rows: list[RawRow]) -> None:
            records: list[SupplierRecord] = []
            for row in rows:
                result = validate_supplier(row)
                if isinstance(result, list):
                    report.reject_row(result)
                else:
                    report.rows_accepted += 1
                    records.append(result)
            # A later row for the same supplier wins (rows apply in file order).
            latest = list({record.supplier_id: record for record in records}.values())
            for chunk in _chunks(latest, SUPPLIERS_PER_CHUNK):
                self.repository.upsert_suppliers(chunk, command.key, self.clock.now())

        return self._windows(source, command, report, deadline, apply)

    # ---- bank files (docs/ingestion.md) ------------------------------------------------------

    def _bank_file(self, command: IngestFile, bank: str, file_format: str, report: Report) -> None:
        data = self.inbox.head(command.bucket, command.key, MAX_BANK_FILE_BYTES + 1, command.version)
        result = self.readers.bank_file(file_format, data)
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

    def _documents(
        self, source: CsvSource, command: IngestFile, report: Report, deadline: Deadline | None
    ) -> bool:
        applier = WindowApplier(self.documents, self.policy)
        today = self.clock.today()

        def apply(rows: list[RawRow]) -> None:
            records: list[DocumentRecord] = []
            for row in rows:
                result = validate_document(row, today)
                if isinstance(result, list):
                    report.reject_row(result)
                else:
                    records.append(result)
            if records:
                self._report_outcomes(applier.apply(records, command.key, today, self.clock.now()), report)

        return self._windows(source, command, report, deadline, apply)

    def _report_outcomes(self, outcomes: list[RowOutcome], report: Report) -> None:
        """Counters, conflicts and, per confirmed PAYMENT, its sweep: the one just made, or for a
        document that was there already the one recorded then (none recorded: nothing was swept)."""
        sweeping = self.policy.sweep_enabled
        recorded: dict[DocKey, Sweep] = {}
        if sweeping:
            earlier = [
                (o.record.supplier_id, o.record.document.document_id)
                for o in outcomes
                if o.status != NEW and o.status not in REJECTED_OUTCOMES and is_sweepable(o.record)
            ]
            recorded = self.documents.find_sweeps(list(dict.fromkeys(earlier))) if earlier else {}
        for outcome in outcomes:
            record = outcome.record
            if outcome.status in REJECTED_OUTCOMES:
                report.reject_row([outcome.error()])
                continue
            report.rows_accepted += 1
            if not sweeping or not is_sweepable(record):
                continue
            doc = record.document
            sweep = outcome.sweep or recorded.get((record.supplier_id, doc.document_id))
            if sweep is None:
                sweep = Sweep(
                    doc.document_id,
                    record.supplier_id,
                    record.currency,
                    doc.amount_minor,
                    (),
                    doc.amount_minor,
                )
            report.sweeps.append(sweep.to_json())
            self.metrics.put(SWEEPS, 1)
