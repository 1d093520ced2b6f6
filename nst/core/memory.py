"""Returning freed memory to the operating system, after a run and while a tight one runs."""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator


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


# glibc's malloc (M_MMAP_THRESHOLD, see mallopt(3)).
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 2**20  # 1 MB: see large_blocks_returned
GLIBC_CEILING = 32 * 2**20  # where glibc's own threshold ends up (DEFAULT_MMAP_THRESHOLD_MAX)
# Peak resident memory over the peak of the live tensors with glibc's defaults, measured on the
# engine at 256 to 1024 px (bf16 and fp32, whole and tiled): 1.2 to 1.9.
ALLOCATOR_SLACK = 1.9


@contextmanager
def large_blocks_returned() -> Iterator[None]:
    """While inside, have glibc map every block of LARGE_BLOCK bytes or more on its own, so that
    freeing it returns it to the OS at once (a no-op without glibc).

    By default glibc raises that threshold to the largest block freed so far (up to 32 MB), and
    freed blocks below it stay in its arenas, where a later pass cannot always reuse them. A
    1024 px run (four scales, the last in tiles) planned at 377 MiB peaked at 606 MiB resident
    with glibc's default, 447 MiB with the threshold at 4 MB, 365 MiB at 1 MB and 341 MiB at
    256 KB, taking 100, 109, 117 and 127 s. So the engine asks for it only where a run's memory
    is tight. It is process-wide; on leaving, the threshold goes to 32 MB, where glibc's own
    would have settled.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, GLIBC_CEILING)


def proc_bytes(path: str, field: str) -> int | None:
    """A "Field:  N kB" line of a Linux /proc file in bytes; None where there is none."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def resident() -> int:
    """This process's resident memory now, in bytes (what ``top`` shows as RES): Linux's
    /proc/self/status VmRSS; elsewhere the peak so far (getrusage), which is never less."""
    rss = proc_bytes("/proc/self/status", "VmRSS")
    if rss is not None:
        return rss
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
