"""scf.adapters.memory: the process's threads share one malloc arena (glibc); elsewhere nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from scf.adapters import memory

pytestmark = pytest.mark.unit

# In a fresh interpreter, maybe with the arenas limited to one: four threads allocate at once,
# then glibc's malloc_stats() prints one "Arena N:" block per arena (to stderr).
ARENAS = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, threading
    from scf.adapters.memory import limit_arenas

    if sys.argv[1] == "limit":
        assert limit_arenas(1)
    barrier = threading.Barrier(4)

    def work():
        kept = [bytes(5_000) for _ in range(2_000)]
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()
    """
)


def arenas(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", ARENAS, mode], check=True, capture_output=True, text=True)
    return sum(line.startswith("Arena ") for line in run.stderr.splitlines())


@pytest.mark.skipif(memory._mallopt() is None, reason="glibc's mallopt only")
def test_limited_arenas_make_threads_share_one() -> None:
    assert arenas("default") > 1  # each thread its own arena, as glibc does by default
    assert arenas("limit") == 1


def test_without_glibc_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_mallopt", lambda: None)
    assert memory.limit_arenas() is False
