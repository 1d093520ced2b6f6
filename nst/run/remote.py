"""What runs on the Ray cluster's workers: the run and clip tasks, the queue actor, and the records' wire form.

Everything here is plain Python that :mod:`nst.run.cluster` wraps with ``ray.remote`` when a cluster
is used, so importing this module never imports Ray. A worker process keeps what it loads
(:func:`nst.model.vgg.load_model` caches the VGG19 per process), and Ray reuses the process for the
next run, so the model is loaded once per worker, not once per run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from PIL import Image

from nst.engine import stylize
from nst.io.images import jpeg_bytes, png_bytes
from nst.io.video_files import VideoInfo
from nst.records import StepRecord
from nst.core.settings import Settings
from nst.model.vgg import load_model
from nst.video import StyledFrame, VideoOptions, styled_frames

PREVIEW_QUALITY = 90  # JPEG quality of a preview; the final image is always a lossless PNG
WAITING_TTL_S = 60.0  # a waiting run nobody has asked about for this long is dropped from the queue


@dataclass(frozen=True)
class Started:
    """The first item a run streams: it has left the queue, on this node and process."""

    node_id: str
    pid: int


Packed = tuple[StepRecord, bytes | None]  # a record without its image, and that image encoded


def pack(record: StepRecord, preview_side: int | None) -> Packed:
    """A record as it crosses the network: a preview as a JPEG of at most ``preview_side`` pixels
    (a PNG at full size when None), the final image as a full-size PNG."""
    image = record.image
    if image is None:
        return record, None
    if record.done or preview_side is None:
        data = png_bytes(image)
    else:
        data = jpeg_bytes(_shrunk(image, preview_side), quality=PREVIEW_QUALITY)
    return dataclasses.replace(record, image=None), data


def unpack(packed: Packed) -> StepRecord:
    """The record with its image decoded back to an RGB uint8 array."""
    record, data = packed
    if data is None:
        return record
    with Image.open(io.BytesIO(data)) as image:
        return dataclasses.replace(record, image=np.asarray(image.convert("RGB")))


def _shrunk(image: np.ndarray, side: int) -> np.ndarray:
    if max(image.shape[:2]) <= side:
        return image
    pil = Image.fromarray(image)
    pil.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(pil)


class _RemoteStop:
    """The stop event :func:`stylize` polls, set when the queue actor's ``stopped`` call returns.

    Checking is a local look at one object reference (well under a millisecond), so a run can
    check at every step and still end within one step of its reader pressing Stop.
    """

    def __init__(self, ref: Any) -> None:
        self._ref, self._set = ref, False

    def is_set(self) -> bool:
        import ray

        if self._ref is not None and ray.wait([self._ref], timeout=0)[0]:
            try:
                self._set = bool(ray.get(self._ref))
            except ray.exceptions.RayError:  # the queue actor is gone: only ray.cancel stops us now
                self._set = False
            self._ref = None
        return self._set


def _take(ticket: str, queue: Any) -> tuple[_RemoteStop, Started]:
    """What every task does as a worker takes it: leave the queue, listen for Stop, use the CPUs
    Ray granted; the :class:`Started` it streams first."""
    import ray
    import torch

    queue.start.remote(ticket)  # the queue place ends the moment a worker takes the run
    stop = _RemoteStop(queue.stopped.remote(ticket))
    # Ray grants the task its CPUs; torch would otherwise use every core of the node.
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    return stop, Started(ray.get_runtime_context().get_node_id(), os.getpid())


def stylize_task(content: np.ndarray, styles: list[Any], settings: Settings, ticket: str,
                 queue: Any, preview_side: int | None, start: np.ndarray | None = None) -> Iterator[Started | Packed]:
    """One run on a worker (a Ray streaming generator): a :class:`Started`, then every record packed.
    ``styles`` are object references (Ray resolves only top-level arguments); ``start`` is the image
    an ``init="image"`` run refines."""
    import ray

    stop, started = _take(ticket, queue)
    yield started
    try:
        # Cached per worker process; the fast method needs no VGG19.
        model = load_model(settings.weights) if settings.method == "gatys" else None
        for record in stylize(Image.fromarray(content), [Image.fromarray(s) for s in ray.get(styles)], settings,
                              stop=stop, model=model, start=None if start is None else Image.fromarray(start)):
            yield pack(record, preview_side)
    finally:
        queue.forget.remote(ticket)


FrameWire = str  # how a styled frame crosses the network: "raw" (the uint8 array) or "png" (lossless)


def pack_frame(frame: StyledFrame, wire: FrameWire) -> StyledFrame | tuple[StyledFrame, bytes]:
    """A styled frame as it crosses the network, losslessly: the frame itself (Ray moves a numpy
    array through its object store without pickling it) or its image as a PNG."""
    if wire == "raw":
        return frame
    return dataclasses.replace(frame, image=np.empty((0, 0, 3), np.uint8)), png_bytes(frame.image)


def unpack_frame(packed: StyledFrame | tuple[StyledFrame, bytes]) -> StyledFrame:
    """The styled frame with its image as a writable array of its own (not a view into Ray's
    object store, which it would pin for as long as it is held)."""
    if isinstance(packed, StyledFrame):
        return dataclasses.replace(packed, image=np.array(packed.image))
    frame, data = packed
    with Image.open(io.BytesIO(data)) as image:
        return dataclasses.replace(frame, image=np.asarray(image.convert("RGB")))


def clip_task(clip: bytes, suffix: str, info: VideoInfo, styles: list[Any], settings: Settings,
              options: VideoOptions, ticket: str, queue: Any, first: int, end: int | None,
              wire: FrameWire) -> Iterator[Started | StyledFrame | tuple[StyledFrame, bytes]]:
    """Frames ``first`` to ``end`` of a clip on a worker (a Ray streaming generator): a
    :class:`Started`, then each styled frame packed (:func:`pack_frame`). ``clip`` is the file's
    bytes, probed and checked by the submitter; ``styles`` are object references."""
    import ray

    stop, started = _take(ticket, queue)
    yield started
    path = None
    try:
        # The decoder reads a file: the clip's bytes go to a temporary one on this worker.
        with tempfile.NamedTemporaryFile(suffix=suffix, prefix="nst-clip-", delete=False) as file:
            file.write(clip)
            path = file.name
        for frame in styled_frames(path, info, [Image.fromarray(s) for s in ray.get(styles)], settings, options,
                                   stop=stop, first=first, end=end):
            yield pack_frame(frame, wire)
    finally:
        queue.forget.remote(ticket)
        if path is not None:
            os.unlink(path)


def warm_task(weights: str) -> str:
    """Load the VGG19 into this worker process ahead of its first run (Ray keeps the process for
    the runs that follow); returns the node's id."""
    import ray

    load_model(weights)
    return ray.get_runtime_context().get_node_id()


class RunQueue:
    """The cluster's waiting runs in the order they were submitted (per kind of slot), and the stop
    flag of every run. One named async actor on the head node, shared by every web node and CLI.

    The place it reports is the truth for runs submitted from one process (Ray starts tasks of one
    kind in submission order) and close to it across several: runs from different web nodes are
    interleaved by Ray's scheduler, not by this list.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[str, float]] = {}  # ticket -> (kind, last asked about); in order
        self._running: set[str] = set()
        self._stops: dict[str, asyncio.Event] = {}

    async def enqueue(self, ticket: str, kind: str) -> None:
        if ticket not in self._running:  # a worker's start can overtake its submitter's enqueue
            self._waiting[ticket] = (kind, time.monotonic())

    async def touch(self, ticket: str) -> None:
        """The run still waits (its reader is alive)."""
        if ticket in self._waiting:
            self._waiting[ticket] = (self._waiting[ticket][0], time.monotonic())

    async def place(self, ticket: str) -> int:
        """1-based place among the waiting runs of the same kind; 0 when not waiting."""
        self._expire()
        if ticket not in self._waiting:
            return 0
        await self.touch(ticket)
        kind = self._waiting[ticket][0]
        ahead = 0
        for other, (other_kind, _) in self._waiting.items():
            if other == ticket:
                break
            ahead += other_kind == kind
        return ahead + 1

    async def start(self, ticket: str) -> None:
        self._waiting.pop(ticket, None)
        self._running.add(ticket)

    async def stop(self, ticket: str) -> None:
        self._waiting.pop(ticket, None)
        self._event(ticket).set()

    async def stopped(self, ticket: str) -> bool:
        """Returns (True) once the run is asked to stop or forgotten."""
        await self._event(ticket).wait()
        return True

    async def forget(self, ticket: str) -> None:
        self._waiting.pop(ticket, None)
        self._running.discard(ticket)
        event = self._stops.pop(ticket, None)
        if event is not None:
            event.set()  # lets a pending ``stopped`` call finish

    async def size(self) -> int:
        """Runs waiting (all kinds)."""
        self._expire()
        return len(self._waiting)

    def _event(self, ticket: str) -> asyncio.Event:
        return self._stops.setdefault(ticket, asyncio.Event())

    def _expire(self) -> None:
        # A reader that died (a web node that crashed) leaves its tickets behind: let them go.
        oldest = time.monotonic() - WAITING_TTL_S
        for ticket in [t for t, (_, seen) in self._waiting.items() if seen < oldest]:
            del self._waiting[ticket]


__all__ = ["FrameWire", "Packed", "RunQueue", "Started", "clip_task", "pack", "pack_frame", "stylize_task", "unpack",
           "unpack_frame", "warm_task"]
