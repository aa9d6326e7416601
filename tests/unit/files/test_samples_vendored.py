"""The vendored bank samples are the team's shared samples, byte for byte (when those are beside the
repository; a clean clone elsewhere has only the vendored copy, which the sample tests read)."""

from __future__ import annotations

import pytest

from ._samples import FOLDERS, SAMPLES, SHARED, sample_names

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared samples at {SHARED} to compare with"),
]


def test_the_vendored_copy_has_every_shared_sample_with_the_same_bytes() -> None:
    shared = sample_names(*FOLDERS, root=SHARED)
    assert sample_names(*FOLDERS) == shared
    changed = [name for name in shared if (SAMPLES / name).read_bytes() != (SHARED / name).read_bytes()]
    assert changed == []
    for listing in ("MANIFEST.tsv", "SOURCES.tsv"):
        assert (SAMPLES / listing).read_bytes() == (SHARED / listing).read_bytes()
