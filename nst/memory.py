"""Returning freed memory to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim() -> None:
    """Hand freed heap pages back to the OS (glibc's malloc_trim; a no-op elsewhere).

    glibc keeps freed blocks in its arenas, so after a run or a weights-file load the resident
    memory would stay at its high-water mark although nothing uses it.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
