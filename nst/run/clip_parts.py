"""A clip fanned out in parts: where the parts start and end, and their frames back in order.

The parts of a clip run at once (each on its own worker), but the clip is written in order. Each
part is read as it comes by a thread of its own into a :class:`Spool`, and the writer reads the
spools one after the other; a spool keeps at most ``memory_bytes`` of frames in memory and spills the rest,
losslessly compressed, to a temporary file that it reads back in order. So the workers never wait
for the writer (their parts run in parallel to the end) while the memory held stays bounded
whatever the clip's length; the disk holds what runs ahead of the writer.

Nothing here knows Ray: a part is any callable that streams :class:`nst.video.StyledFrame` s.
"""

from __future__ import annotations

import collections
import pickle
import tempfile
import threading
from dataclasses import replace
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from nst.video import StyledFrame

MIN_PART_FRAMES = 24  # a part also styles the frame before it, unshown, and loads the painter: not for a few frames
SPOOL_MEMORY_BYTES = 64 * 2**20  # frames a part read ahead may hold in memory before spilling to disk
WAIT_S = 0.05  # how often the writer, waiting for a frame, looks at the other parts' failures

Part = Callable[[], Iterator[StyledFrame]]


def spans(frames: int, parts: int) -> list[tuple[int, int]]:
    """``[first, end)`` of each of at most ``parts`` near-equal parts of ``frames`` frames, none
    shorter than :data:`MIN_PART_FRAMES` (one part when the clip is too short to split)."""
    count = max(1, min(parts, frames // MIN_PART_FRAMES))
    edges = [round(frames * n / count) for n in range(count + 1)]
    return list(zip(edges, edges[1:]))


class Spool:
    """A first-in first-out queue of styled frames between one producer thread and one reader:
    in memory up to ``memory_bytes``, then in a temporary file (PNG at the fastest compression:
    lossless) until the reader has caught up with it. Every frame in memory precedes every frame
    on disk, so the order is kept."""

    def __init__(self, memory_bytes: int = SPOOL_MEMORY_BYTES) -> None:
        self.memory_bytes = memory_bytes
        self._memory: collections.deque[StyledFrame] = collections.deque()
        self._held = 0  # bytes of the frames in memory
        self._disk: tempfile.SpooledTemporaryFile | None = None  # type: ignore[type-arg]
        self._offsets: collections.deque[tuple[int, int]] = collections.deque()  # (offset, length) on disk
        self._end = 0  # where the next frame goes on disk
        self._closed = self._gone = False
        self.error: BaseException | None = None
        self.spilled = 0  # frames that went to disk (for the benchmark and the tests)
        self._ready = threading.Condition()

    def put(self, frame: StyledFrame) -> None:
        with self._ready:
            if self._gone:  # the reader has left: the part is being stopped
                return
            if not self._offsets and self._held + frame.image.nbytes <= self.memory_bytes:
                self._memory.append(frame)
                self._held += frame.image.nbytes
            else:
                self._spill(frame)
            self._ready.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """No more frames will come (``error``: because the part failed)."""
        with self._ready:
            self._closed, self.error = True, error
            self._ready.notify_all()

    def get(self, timeout: float) -> StyledFrame | None:
        """The next frame, waiting up to ``timeout`` s; None when none came meanwhile. EOFError once
        the part is closed and read to its end."""
        with self._ready:
            if not self._memory and not self._offsets and not self._closed:
                self._ready.wait(timeout)
            if self._memory:
                frame = self._memory.popleft()
                self._held -= frame.image.nbytes
                return frame
            if self._offsets:
                return self._unspill()
            if self._closed:
                raise EOFError
            return None

    def discard(self) -> None:
        """Let every frame held go (the reader will read no more)."""
        with self._ready:
            self._gone = True
            self._memory.clear()
            self._offsets.clear()
            self._held = 0
            if self._disk is not None:
                self._disk.close()
                self._disk = None

    def _spill(self, frame: StyledFrame) -> None:
        if self._disk is None:
            self._disk = tempfile.TemporaryFile(prefix="nst-part-")
        ok, png = cv2.imencode(".png", frame.image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok, "PNG encoding of a uint8 frame cannot fail"
        data = pickle.dumps((replace(frame, image=np.empty((0, 0, 3), np.uint8)), png.tobytes()))
        self._disk.seek(self._end)
        self._disk.write(data)
        self._offsets.append((self._end, len(data)))
        self._end += len(data)
        self.spilled += 1

    def _unspill(self) -> StyledFrame:
        assert self._disk is not None
        offset, length = self._offsets.popleft()
        self._disk.seek(offset)
        frame, png = pickle.loads(self._disk.read(length))  # our own file, written just above
        if not self._offsets:  # caught up: the file starts again from its beginning
            self._disk.truncate(0)
            self._end = 0
        # cv2 keeps the channels in the order given (no colour conversion), so RGB comes back as RGB.
        return replace(frame, image=cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED))


def in_order(parts: Sequence[Part], bounds: Sequence[tuple[int, int]], *,
             memory_bytes: int = SPOOL_MEMORY_BYTES) -> Iterator[StyledFrame]:
    """The frames of every part, part after part, while all run at once (a thread reads each into
    a :class:`Spool`). A part that ends short of its ``bounds`` (it was stopped) ends the clip
    there: what follows would leave a gap. A part's error is raised as soon as it happens. Closing
    this generator lets the spools go; each part is expected to end on its own once asked to stop
    (see :class:`nst.run.cluster.RayClipRun`), and its thread with it."""
    spools = [Spool(memory_bytes) for _ in parts]
    threads = [threading.Thread(target=_drain, args=(part, spool), daemon=True, name=f"clip-part-{n}")
               for n, (part, spool) in enumerate(zip(parts, spools))]
    for thread in threads:
        thread.start()
    try:
        for spool, (first, end) in zip(spools, bounds):
            expected = first
            while True:
                for other in spools:
                    if other.error is not None:
                        raise other.error
                try:
                    frame = spool.get(WAIT_S)
                except EOFError:
                    break
                if frame is None:
                    continue
                assert frame.index == expected, f"frame {frame.index} came where {expected} was due"
                expected += 1
                yield frame
            if expected < end:
                return  # stopped: the clip ends with the last frame before the gap
    finally:
        for spool in spools:
            spool.discard()


def _drain(part: Part, spool: Spool) -> None:
    try:
        for frame in part():
            spool.put(frame)
    except BaseException as exc:  # handed to the writer's thread, which raises it there
        spool.close(exc)
    else:
        spool.close()


__all__ = ["MIN_PART_FRAMES", "SPOOL_MEMORY_BYTES", "Part", "Spool", "in_order", "spans"]
