"""One malloc arena for the ingesting process, so that its resident memory does not creep up with
a long file.

The ingestion's Python heap is flat with the file (docs/benchmarks.md), but the documents are sent
from writer threads (and boto3 may start threads of its own), and glibc gives each thread its own
malloc arena, up to eight per core, each keeping the memory freed in it for later. Over a long file
each arena's share of freed-but-kept memory grows; measured, 1,000,000 rows peaked 16 MB higher
with the default arenas than with one. With `limit_arenas()` before the threads start, they share
the process's one arena and its freed memory. The writers spend their time waiting on the store,
so they hardly contend for its lock (the throughput did not change).

Only glibc has `mallopt` (Lambda's runtime and most Linux); elsewhere (macOS, musl) this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import lru_cache

M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


@lru_cache(maxsize=1)
def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def limit_arenas(arenas: int = 1) -> bool:
    """At most `arenas` malloc arenas from now on (threads started later share them); whether the
    allocator took it."""
    mallopt = _mallopt()
    return bool(mallopt(M_ARENA_MAX, arenas)) if mallopt is not None else False
