"""The bank samples (tests/fixtures/bank-samples: the team's shared samples, vendored) and small
helpers.

Each sample's origin, licence and oddity is in that folder's MANIFEST.tsv.
"""

from __future__ import annotations

from pathlib import Path

from scf.domain.bank_files import BOOKED, Statement
from tests.support import ROOT, SAMPLES

SHARED = (ROOT / ".." / "shared" / "samples").resolve()  # the team's copy, when it is beside the repo
FOLDERS = ("camt053", "camt054", "mt940", "pain001", "pain002")


def sample_names(*folders: str, root: Path = SAMPLES) -> list[str]:
    """Sample files (names relative to `root`) of the folders, for parametrize."""
    return sorted(str(p.relative_to(root)) for folder in folders for p in (root / folder).iterdir())


def read_sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def reconciles(statement: Statement) -> bool:
    """Opening balance + booked entries == closing balance, in minor units."""
    opening, closing = statement.opening_balance, statement.closing_balance
    assert opening is not None and closing is not None
    assert opening.signed_minor is not None and closing.signed_minor is not None
    booked = [e.signed_minor for e in statement.entries if e.status == BOOKED]
    assert all(amount is not None for amount in booked)
    return opening.signed_minor + sum(a for a in booked if a is not None) == closing.signed_minor
