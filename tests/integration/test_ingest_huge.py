"""Huge files: memory that does not grow with the file, and a file split across many invocations
(checkpoint and continue through the queue). The 1,000,000-row run is a benchmark
(bench/ingest_throughput.py); here 20,000 rows with a deadline every few chunks."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from scf.adapters.files.platform_csv import read_rows
from scf.adapters.files.readers import FormatParsers
from scf.adapters.s3 import S3ObjectLines
from scf.clock import FixedClock
from scf.domain.files import validate_document
from scf.domain.policy import DEFAULT_POLICY
from scf.domain.pool import Pool
from scf.service.checkpoint import Checkpoint, Lease
from scf.service.documents import PoolVersion, Unit
from scf.service.ingest import NEW_OUTCOME, FileClaim, IngestFile, IngestService
from tests.reliability.ingest_harness import HEADER, documents_file, ingest_world

pytestmark = pytest.mark.integration


def test_positioned_lines_know_the_offset_of_every_line_across_chunk_boundaries() -> None:
    data = '\ufeffa,b\r\nx,"multi\nline"\n\u00e9t\u00e9,2\nlast'.encode()
    for size in (1, 2, 3, 5, 64):
        chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
        lines = S3ObjectLines(chunks)
        seen = [(line, lines.position) for line in lines]
        assert [line for line, _ in seen] == ["a,b\r\n", 'x,"multi\n', 'line"\n', "\u00e9t\u00e9,2\n", "last"]
        for line, position in seen:  # a read resumed at any offset starts at the next line
            assert data[:position].decode("utf-8-sig").endswith(line)
        assert lines.count == 5 and lines.position == len(data)
    resumed = S3ObjectLines(iter([data[seen[2][1] :]]), start=seen[2][1])
    assert list(resumed) == ["\u00e9t\u00e9,2\n", "last"] and resumed.position == len(data)


@dataclass
class GeneratedInbox:
    """An inbox whose one file is generated as it is read: nothing of it is ever held whole."""

    rows: int
    parts: dict[str, int] = field(default_factory=dict)
    part_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    parts_prefix: str | None = None

    def _bytes(self) -> Iterator[bytes]:
        yield HEADER
        for i in range(self.rows):
            bad = b"-1.00" if i % 10 == 0 else b"12.50"  # every 10th row is rejected
            yield b"S-%d,D-%d,PURCHASE_ORDER,2026-11-01,,%s,CNY,CONFIRMED,\n" % (i % 300, i, bad)

    def sha256(self, bucket: str, key: str, version: str | None = None) -> str:
        return "0" * 64

    def head(self, bucket: str, key: str, size: int, version: str | None = None) -> bytes:
        return next(self._bytes())

    def lines(self, bucket: str, key: str, start: int = 0, version: str | None = None) -> S3ObjectLines:
        return S3ObjectLines(self._bytes(), start)

    def put_report(
        self, bucket: str, key: str, report: dict[str, Any], parts_prefix: str | None = None
    ) -> None:
        self.report, self.parts_prefix = report, parts_prefix

    def put_part(self, bucket: str, key: str, items: list[dict[str, Any]]) -> None:
        self.parts[key] = len(items)
        self.part_items[key] = items if key.endswith(".errors.json") else []

    def assembled(self) -> dict[str, Any]:
        """The report as S3Inbox streams it together (tests/integration/test_report_parts.py)."""
        if self.parts_prefix is None:
            return self.report
        errors = [e for key in sorted(self.part_items) for e in self.part_items[key]]
        return self.report | {"errors": errors}


@dataclass
class CountingRepository:
    """Keeps counts, not rows: what the service holds is all that is measured."""

    def claim_file(
        self, sha256: str, key: str, now: datetime, lease: Lease | None = None, version: str | None = None
    ) -> FileClaim:
        return FileClaim(NEW_OUTCOME)

    def finish_file(self, *args: Any, **kwargs: Any) -> None:
        pass

    def save_checkpoint(self, sha256: str, owner: str, checkpoint: Checkpoint, now: datetime) -> bool:
        raise AssertionError("no deadline was given")

    def release_file(self, sha256: str, owner: str) -> None:
        pass

    def upsert_suppliers(self, *args: Any) -> None:
        raise AssertionError("a documents file")


@dataclass
class CountingStore:
    """A document store that keeps counts, not documents or pools (what the pools hold is the
    store's, measured by bench/ingest_throughput.py)."""

    committed: int = 0

    def load_pools(self, keys: list[Any], *, fresh: bool = False) -> dict[Any, PoolVersion]:
        return {key: PoolVersion(Pool(), None) for key in keys}

    def document_hashes(self, keys: list[Any]) -> dict[Any, str]:
        return {}

    def writer(self, now: datetime) -> CountingStore:
        return self

    def add(self, unit: Unit) -> int:
        self.committed += len(unit.documents)
        return 0

    def finish(self) -> set[int]:
        return set()

    def find_sweeps(self, keys: list[Any]) -> dict[Any, Any]:
        return {}

    def loans_to_sweep(self, keys: list[Any], as_of: date) -> dict[Any, Any]:
        return {}


def ingest_peak(rows: int) -> tuple[int, dict[str, Any]]:
    inbox, store = GeneratedInbox(rows), CountingStore()
    service = IngestService(
        inbox,  # type: ignore[arg-type]
        CountingRepository(),  # type: ignore[arg-type]
        FixedClock(date(2026, 11, 28)),
        readers=FormatParsers(),
        documents=store,  # type: ignore[arg-type]
        policy=DEFAULT_POLICY,
    )
    tracemalloc.start()
    service.ingest(IngestFile("b", "platform/huge.csv"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert store.committed == rows - rows // 10
    return peak, inbox.assembled()


def test_memory_does_not_grow_with_the_file() -> None:
    small_peak, small = ingest_peak(20_000)
    big_peak, big = ingest_peak(200_000)
    assert (small["rows_total"], small["rows_rejected"]) == (20_000, 2_000)
    assert (big["rows_total"], big["rows_accepted"], big["rows_rejected"]) == (200_000, 180_000, 20_000)
    # Every rejected row is in the report (written in parts, a window at a time), in line order,
    # and ten times the rows need no more memory.
    assert [e["line"] for e in big["errors"]] == list(range(2, 200_002, 10))
    assert len(small["errors"]) == 2_000
    assert big_peak < small_peak * 1.5 + 512 * 1024, (small_peak, big_peak)


def expected_outcome(data: bytes) -> tuple[int, list[int], int]:
    """(accepted, rejected lines, distinct documents) by the parser alone, independent of windows."""
    first: dict[tuple[str, str], str] = {}
    accepted, rejected = 0, []
    for row in read_rows(data.decode().splitlines(keepends=True)):
        record = validate_document(row, date(2026, 11, 28))
        if isinstance(record, list):
            rejected.append(row.line)
            continue
        key = (record.supplier_id, record.document.document_id)
        if first.setdefault(key, record.content_hash) != record.content_hash:
            rejected.append(row.line)  # DUPLICATE_CONFLICT
        else:
            accepted += 1
    return accepted, rejected, len(first)


def test_a_20000_row_file_completes_across_many_invocations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = documents_file(20_000, seed=5, suppliers=300, payments=False)
    accepted, rejected, documents = expected_outcome(data)
    with ingest_world(monkeypatch, tmp_path, window_rows=500) as world:
        world.put("platform/huge/documents.csv", data)
        world.notify("platform/huge/documents.csv")
        world.drain(chunks=4)
        report = world.report("platform/huge/documents.csv")
        assert (report["status"], report["rows_total"]) == ("PROCESSED", 20_000)
        assert (report["rows_accepted"], report["rows_rejected"]) == (accepted, len(rejected))
        # Every rejected row is reported, in line order, from the parts of 40 windows.
        assert len(rejected) > 100
        assert sorted({e["line"] for e in report["errors"]}) == rejected
        assert [e["line"] for e in report["errors"]] == sorted(e["line"] for e in report["errors"])
        # 4 windows of 500 rows per invocation: ten invocations, none left in the queue, no part left.
        assert world.invocations >= 10
        assert "Contents" not in world.s3.list_objects_v2(Bucket="scf-inbox", Prefix="reports/.parts/")
        assert "Messages" not in world.sqs.receive_message(QueueUrl=world.queue_url)
        stored = 0
        for page in (
            boto3.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName="scf-business",
                FilterExpression="begins_with(sk, :d)",
                ExpressionAttributeValues={":d": {"S": "DOC#"}},
                Select="COUNT",
            )
        ):
            stored += page["Count"]
        assert stored == documents
