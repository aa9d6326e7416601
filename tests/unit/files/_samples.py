"""The shared bank samples (../shared/samples beside the repo, as in CI) and small helpers.

Each sample's origin, licence and oddity is in that folder's MANIFEST.tsv.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scf.adapters.files.statements import BOOKED, Statement

SAMPLES = (Path(__file__).resolve().parents[3] / ".." / "shared" / "samples").resolve()
SKIP_REASON = f"the shared bank samples are not at {SAMPLES} (CI checks them out beside the repo)"


def sample_names(*folders: str) -> list[str]:
    """Sample files (names relative to SAMPLES) of the folders, for parametrize."""
    if not SAMPLES.is_dir():
        return []
    return sorted(str(p.relative_to(SAMPLES)) for folder in folders for p in (SAMPLES / folder).iterdir())


def read_sample(name: str) -> bytes:
    if not SAMPLES.is_dir():
        pytest.skip(SKIP_REASON)
    return (SAMPLES / name).read_bytes()


def reconciles(statement: Statement) -> bool:
    """Opening balance + booked entries == closing balance, in minor units."""
    opening, closing = statement.opening_balance, statement.closing_balance
    assert opening is not None and closing is not None
    assert opening.signed_minor is not None and closing.signed_minor is not None
    booked = [e.signed_minor for e in statement.entries if e.status == BOOKED]
    assert all(amount is not None for amount in booked)
    return opening.signed_minor + sum(a for a in booked if a is not None) == closing.signed_minor
