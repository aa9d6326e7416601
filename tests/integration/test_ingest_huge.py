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

from scf.adapters.files.platform_csv import read_rows, validate_document
from scf.adapters.s3 import PositionedLines
from scf.clock import FixedClock
from scf.service.checkpoint import Checkpoint, Lease
from scf.service.ingest import NEW_OUTCOME, FileClaim, IngestFile, IngestService
from tests.reliability.ingest_harness import HEADER, documents_file, ingest_world

pytestmark = pytest.mark.integration


def test_positioned_lines_know_the_offset_of_every_line_across_chunk_boundaries() -> None:
    data = '\ufeffa,b\r\nx,"multi\nline"\n\u00e9t\u00e9,2\nlast'.encode()
    for size in (1, 2, 3, 5, 64):
        chunks = iter([data[i : i + size] for i in range(0, len(data), size)])
        lines = PositionedLines(chunks)
        seen = [(line, lines.position) for line in lines]
        assert [line for line, _ in seen] == ["a,b\r\n", 'x,"multi\n', 'line"\n', "\u00e9t\u00e9,2\n", "last"]
        for line, position in seen:  # a read resumed at any offset starts at the next line
            assert data[:position].decode("utf-8-sig").endswith(line)
        assert lines.count == 5 and lines.position == len(data)
    resumed = PositionedLines(iter([data[seen[2][1] :]]), start=seen[2][1])
    assert list(resumed) == ["\u00e9t\u00e9,2\n", "last"] and resumed.position == len(data)


@dataclass
class GeneratedInbox:
    """An inbox whose one file is generated as it is read: nothing of it is ever held whole."""

    rows: int

    def _bytes(self) -> Iterator[bytes]:
        yield HEADER
        for i in range(self.rows):
            bad = b"-1.00" if i % 10 == 0 else b"12.50"  # every 10th row is rejected
            yield b"S-%d,D-%d,PURCHASE_ORDER,2026-11-01,,%s,CNY,CONFIRMED,\n" % (i % 300, i, bad)

    def sha256(self, bucket: str, key: str) -> str:
        return "0" * 64

    def head(self, bucket: str, key: str, size: int) -> bytes:
        return next(self._bytes())

    def lines(self, bucket: str, key: str, start: int = 0) -> PositionedLines:
        return PositionedLines(self._bytes(), start)

    def put_report(self, bucket: str, key: str, report: dict[str, Any]) -> None:
        self.report = report


@dataclass
class CountingRepository:
    """Keeps counts, not rows: what the service holds is all that is measured."""

    committed: int = 0
    pools: dict[Any, Any] = field(default_factory=dict)

    def claim_file(self, sha256: str, key: str, now: datetime, lease: Lease | None = None) -> FileClaim:
        return FileClaim(NEW_OUTCOME)

    def finish_file(self, *args: Any, **kwargs: Any) -> None:
        pass

    def save_checkpoint(self, sha256: str, owner: str, checkpoint: Checkpoint, now: datetime) -> bool:
        raise AssertionError("no deadline was given")

    def release_file(self, sha256: str, owner: str) -> None:
        pass

    def upsert_suppliers(self, *args: Any) -> None:
        raise AssertionError("a documents file")

    def load_chunk(self, doc_keys: list[Any], pool_keys: list[Any]) -> tuple[dict[Any, str], dict[Any, Any]]:
        return {}, {}

    def commit_documents(self, documents: list[Any], pools: dict[Any, Any], now: datetime) -> None:
        self.committed += len(documents)


def ingest_peak(rows: int) -> tuple[int, dict[str, Any]]:
    inbox, repository = GeneratedInbox(rows), CountingRepository()
    service = IngestService(inbox, repository, FixedClock(date(2026, 11, 28)))  # type: ignore[arg-type]
    tracemalloc.start()
    service.ingest(IngestFile("b", "platform/huge.csv"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert repository.committed == rows - rows // 10
    return peak, inbox.report


def test_memory_does_not_grow_with_the_file() -> None:
    small_peak, small = ingest_peak(20_000)
    big_peak, big = ingest_peak(200_000)
    assert (small["rows_total"], small["rows_rejected"]) == (20_000, 2_000)
    assert (big["rows_total"], big["rows_accepted"], big["rows_rejected"]) == (200_000, 180_000, 20_000)
    # Ten times the rows (and 20,000 rejected rows): the errors kept are capped, nothing else grows.
    assert len(big["errors"]) == len(small["errors"]) == 1_000
    assert big["errors_truncated"] == 19_000
    assert big_peak < small_peak * 1.5 + 512 * 1024, (small_peak, big_peak)


def expected_outcome(data: bytes) -> tuple[int, int, int]:
    """(accepted, rejected, distinct documents) by the parser alone, independent of chunks."""
    first: dict[tuple[str, str], str] = {}
    accepted = rejected = 0
    for row in read_rows(data.decode().splitlines(keepends=True)):
        record = validate_document(row, date(2026, 11, 28))
        if isinstance(record, list):
            rejected += 1
            continue
        key = (record.supplier_id, record.document.document_id)
        if first.setdefault(key, record.content_hash) != record.content_hash:
            rejected += 1  # DUPLICATE_CONFLICT
        else:
            accepted += 1
    return accepted, rejected, len(first)


def test_a_20000_row_file_completes_across_many_invocations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = documents_file(20_000, seed=5, suppliers=300, payments=False)
    accepted, rejected, documents = expected_outcome(data)
    with ingest_world(monkeypatch, tmp_path) as world:
        world.put("platform/huge/documents.csv", data)
        world.notify("platform/huge/documents.csv")
        world.drain(chunks=40)
        report = world.report("platform/huge/documents.csv")
        assert (report["status"], report["rows_total"]) == ("PROCESSED", 20_000)
        assert (report["rows_accepted"], report["rows_rejected"]) == (accepted, rejected)
        assert len(report["errors"]) == min(rejected, 1_000) and rejected > 100
        # 40 chunks of 49 documents per invocation: about ten invocations, none left in the queue.
        assert world.invocations >= 9
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
