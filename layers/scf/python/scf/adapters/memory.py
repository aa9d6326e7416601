"""One malloc arena for the ingesting process (`limit_arenas`, called before the writer threads
start), so its resident memory does not creep up over a long file (docs/benchmarks.md, "Settlement
ingestion", has the measurements). Only glibc has `mallopt`; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import lru_cache

M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


@lru_cache(maxsize=1)
def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols, libc's among them: no `ctypes.util.find_library`, which runs
        # `ldconfig -p` in a subprocess at every cold start.
        libc = ctypes.CDLL(None)
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
