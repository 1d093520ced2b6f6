"""A clip's parts back in order (nst.run.clip_parts), without Ray: parts are plain generators run
by threads, as RayClipRun's are. The spool keeps order across memory and disk and holds no more
than its budget in memory; a stopped part ends the clip at the gap; a part's error comes out."""

from __future__ import annotations

import threading
from typing import Iterator

import numpy as np
import pytest

from nst.run.clip_parts import MIN_PART_FRAMES, Spool, in_order, spans
from nst.video import StyledFrame

pytestmark = pytest.mark.unit


def frame(index: int) -> StyledFrame:
    rng = np.random.default_rng(index)
    return StyledFrame(index, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), float(index) / 10, index % 7 == 0)


def test_spans_split_a_clip_into_near_equal_parts_none_too_short() -> None:
    assert spans(100, 2) == [(0, 50), (50, 100)]
    assert spans(100, 3) == [(0, 33), (33, 67), (67, 100)]
    assert spans(2 * MIN_PART_FRAMES - 1, 2) == [(0, 2 * MIN_PART_FRAMES - 1)]  # too short for two
    assert spans(10, 1) == [(0, 10)] and spans(5, 0) == [(0, 5)]


def test_a_spool_keeps_the_order_across_memory_and_disk_and_its_memory_budget() -> None:
    one = frame(0).image.nbytes
    spool = Spool(memory_bytes=3 * one)
    for n in range(5):
        spool.put(frame(n))
    assert spool.spilled == 2 and spool._held == 3 * one  # two went to disk: memory holds its budget only
    back = [spool.get(0) for _ in range(4)]
    spool.put(frame(5))  # frames are still on disk: this one goes after them, not into memory
    spool.close()
    back += [spool.get(0), spool.get(0)]
    with pytest.raises(EOFError):
        spool.get(0)
    for n, got in enumerate(back):  # lossless and complete, the metadata kept
        want = frame(n)
        assert (got.index, got.flicker, got.cut) == (want.index, want.flicker, want.cut)
        assert np.array_equal(got.image, want.image)
    assert spool.spilled == 3


def part(first: int, end: int, started: threading.Event | None = None) -> Iterator[StyledFrame]:
    for index in range(first, end):
        if started is not None:
            started.wait(10)  # the later part waits until the first one runs: both run at once
        yield frame(index)


def test_parts_read_at_once_come_back_in_order() -> None:
    bounds = [(0, 10), (10, 25), (25, 30)]
    started = threading.Event()

    def first() -> Iterator[StyledFrame]:
        started.set()
        yield from part(0, 10)

    parts = [first, lambda: part(10, 25, started), lambda: part(25, 30, started)]
    got = list(in_order(parts, bounds, memory_bytes=2 * frame(0).image.nbytes))
    assert [f.index for f in got] == list(range(30))
    assert all(np.array_equal(f.image, frame(f.index).image) for f in got)


def test_a_part_that_ends_short_ends_the_clip_at_the_gap() -> None:
    bounds = [(0, 10), (10, 20)]
    got = list(in_order([lambda: part(0, 4), lambda: part(10, 20)], bounds))
    assert [f.index for f in got] == [0, 1, 2, 3]


def test_a_parts_error_comes_out_while_the_first_part_is_still_read() -> None:
    release, fail = threading.Event(), threading.Event()

    def slow() -> Iterator[StyledFrame]:
        yield frame(0)
        release.wait(10)  # the first part stalls: the error of the second must not wait for it
        yield from part(1, 10)

    def failing() -> Iterator[StyledFrame]:
        yield frame(10)
        fail.wait(10)
        raise RuntimeError("the worker said no")

    frames = in_order([slow, failing], [(0, 10), (10, 20)])
    assert next(frames).index == 0
    fail.set()
    with pytest.raises(RuntimeError, match="the worker said no"):
        next(frames)
    release.set()
