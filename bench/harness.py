"""The process harness of the benchmarks: one run in a fresh spawned process (its peak RSS and its
whole-process time are its own), and the CPU that other processes took meanwhile."""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class RunResult:
    """What one tool's child process reports back."""

    tool: str
    settings: str
    steps: int
    wall: float  # seconds, model load to final image
    step_seconds: float  # mean seconds per optimiser step
    peak_rss_mib: float
    image: np.ndarray  # RGB uint8 (H, W, 3)
    notes: dict[str, float] = field(default_factory=dict)
    process: float = 0.0  # seconds from spawning its process to receiving this result (set by in_child)


def _child(conn: Any, fn: Callable[..., RunResult], args: tuple) -> None:
    """Child entry point: run, add this process's peak RSS, send the result (or the traceback)."""
    try:
        result = fn(*args)
        result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        conn.send(result)
    except BaseException:
        conn.send(traceback.format_exc())
    finally:
        conn.close()


def in_child(fn: Callable[..., RunResult], *args: Any) -> RunResult:
    """Run ``fn(*args)`` in a fresh spawned process, so its peak RSS is its own."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, fn, args))
    spawned = time.perf_counter()
    process.start()
    sender.close()  # so recv() sees EOF if the child dies without sending
    try:
        result = receiver.recv()  # before join(): a large result would block the child's send
    except EOFError:
        process.join()
        raise RuntimeError(f"{fn.__name__} died with exit code {process.exitcode} (out of memory?)") from None
    received = time.perf_counter()
    process.join()
    if isinstance(result, str):
        raise RuntimeError(f"{fn.__name__} failed in its child process:\n{result}")
    result.process = received - spawned
    return result


def mean_interval(times: list[float]) -> float:
    """Mean gap between successive timestamps; skips the first step, which also pays for the
    scale's targets."""
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:9]]
    busy = sum(jiffies) - jiffies[3] - jiffies[4]  # all but idle and iowait
    # Children count once joined, which in_child's processes are by the time this is read.
    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    own = sum(u.ru_utime + u.ru_stime for u in usages)
    return busy / os.sysconf("SC_CLK_TCK"), own


def contention(before: tuple[float, float], after: tuple[float, float], seconds: float) -> str:
    """Share of the machine's CPU that other processes used during the benchmark: the timings
    are only clean when it is near 0 %, since they compete for the same cores."""
    others = (after[0] - before[0]) - (after[1] - before[1])
    share = max(0.0, others) / (seconds * (os.cpu_count() or 1))
    return f"- other processes used {share:.0%} of the CPU during the benchmark (timings are clean near 0%)"


class Contention:
    """Watches the machine from its creation: :meth:`line` is :func:`contention` since then."""

    def __init__(self) -> None:
        self._started, self._before = time.perf_counter(), cpu_seconds()

    def line(self) -> str:
        return contention(self._before, cpu_seconds(), time.perf_counter() - self._started)
