"""Runs on a Ray cluster, behind the same executor seam as local runs (:mod:`nst.run.executor`).

Each run is a Ray task that streams its records (a streaming generator, :func:`nst.run.remote.stylize_task`):
previews travel as small JPEGs, the final image as a full-size PNG. The task asks for what the
run's device needs (one GPU for a GPU run, ``cpus_per_run`` CPUs for a CPU run, plus one unit of
an optional custom ``resource``), so Ray's scheduler queues runs when the cluster is full. A
named queue actor (:class:`nst.run.remote.RunQueue`) tells each waiting run its place and carries
Stop to the worker, which ends within one step and streams its current image; ``ray.cancel``
ends a run that is still queued, or one that does not stop in time. A worker or node that dies
mid-run is retried once on another worker (steps already shown are skipped, so a seeded run
continues where it was); if that fails too the reader gets one :class:`WorkerLostError`.

A clip (:meth:`RayExecutor.submit_clip`, :class:`RayClipRun`) is checked here, its bytes sent once,
and styled by one task per part (:func:`nst.run.remote.clip_task`), with the same queue, Stop and
retry (:class:`_Followed`, shared with image runs); its frames come back losslessly and this
process writes the clip, in order, with the local clip's sound.

Ray is imported only when a :class:`RayExecutor` connects: the engine and the CLI never need it
otherwise. Ray Client (``ray://``) cannot carry streaming generators, so the process that submits
runs must be a node of the cluster (``ray start --address=HEAD:6379``, then address ``auto``).

Ray 2.60 protects a cluster with a token when the head has one (see :func:`authenticate`): this
process sends the token it finds where Ray looks when the cluster asks for one, whatever the
address, and a cluster that refuses what it can send is one sentence (:func:`token_refused`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from PIL import Image

from nst.core.errors import ClusterError, ClusterUnreachableError, DeviceError, WorkerLostError
from nst.run.clip_parts import in_order, spans
from nst.run.executor import Cancelled, never, nothing
from nst.io.images import to_array
from nst.io.video_files import VideoInfo
from nst.records import StepRecord
from nst.run.remote import FrameWire, RunQueue, Started, clip_task, stylize_task, unpack, unpack_frame, warm_task
from nst.core.settings import Settings
from nst.video import FrameRecord, StyledFrame, VideoOptions, checked_clip, clip_recipe, write_clip

log = logging.getLogger(__name__)

ENV_ADDRESS = "NST_RAY_ADDRESS"  # auto, or host:port of the head node (its GCS)
ENV_CPUS = "NST_RAY_CPUS"  # CPUs a CPU run asks for (default 1)
ENV_RESOURCE = "NST_RAY_RESOURCE"  # a custom resource each run also needs one unit of (optional)
ENV_CLIP_CHUNKS = "NST_RAY_CLIP_CHUNKS"  # parts a clip is split into at most (0: as many as the cluster can run)
CLIP_CHUNKS = 1  # the default: bench/video_fanout.py, see docs/scale-out.md
FRAME_WIRE: FrameWire = "raw"  # a styled frame crosses the network as its array: bench/video_fanout.py

PREVIEW_SIDE = 512  # longest side of a streamed preview
BACKPRESSURE = 8  # records a worker may run ahead of its reader before it waits
POLL_S = 0.05  # how often a reader waiting for the next record checks Stop
TOUCH_S = 10.0  # how often a waiting run tells the queue its reader is alive
STOP_GRACE_S = 15.0  # a run that has not ended this long after Stop is cancelled by Ray
RETRY_WAIT_S = 60.0  # how long the retry of a lost run may wait for a free worker
CONNECT_TIMEOUT_S = 5.0
QUEUE_NAME, NAMESPACE = "nst-run-queue", "nst"
AUTH_MODE_ENV = "RAY_AUTH_MODE"  # Ray's switch: "token" sends the token, "disabled" sends none
# Where Ray looks for the token, in its order (its C++ AuthenticationTokenLoader); named for the messages only.
TOKEN_ENV, TOKEN_PATH_ENV, TOKEN_FILE = "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token"


@dataclass(frozen=True)
class ClusterConfig:
    """Where runs go and what each asks for."""

    address: str = "auto"
    cpus_per_run: int = 1
    resource: str | None = None
    clip_chunks: int = CLIP_CHUNKS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ClusterConfig | None":
        """The cluster ``NST_RAY_ADDRESS`` names (None when unset); a bad ``NST_RAY_CPUS`` or
        ``NST_RAY_CLIP_CHUNKS`` is logged and its default used."""
        address = environ.get(ENV_ADDRESS, "").strip()
        if not address:
            return None
        return cls(address, _whole(environ, ENV_CPUS, 1, least=1), environ.get(ENV_RESOURCE, "").strip() or None,
                   _whole(environ, ENV_CLIP_CHUNKS, CLIP_CHUNKS, least=0))


def _whole(environ: Mapping[str, str], name: str, default: int, least: int) -> int:
    raw = environ.get(name, str(default))
    try:
        value = int(raw)
        if value < least:
            raise ValueError(raw)
    except ValueError:
        log.warning("%s=%r is not a whole number of at least %d; using %d", name, raw, least, default)
        value = default
    return value


class _Lost(Exception):
    """The worker running an attempt died (internal: the run retries or raises WorkerLostError);
    ``waited`` when it is the retry that found no free worker in time."""

    def __init__(self, reason: str, waited: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.waited = reason, waited


def _lost_message(first: tuple[str, int] | None, last: _Lost, shown: int, wait: float, unit: str = "step") -> str:
    """WorkerLostError's sentence: what happened to the worker, and to the retry if there was one."""
    if first is None:  # lost while stopping: no retry for a run that is ending anyway
        return f"The Ray worker running this run {last.reason} at {unit} {shown}."
    reason, step = first
    if last.waited:
        return (f"The Ray worker running this run {reason} at {unit} {step}, and no other worker was free to run it"
                f" again within {wait:.0f} s.")
    return (f"The Ray worker running this run {reason} at {unit} {step}, and the worker that ran it again"
            f" {last.reason} too.")


@dataclass(frozen=True)
class _Placement:
    """What a run asks the cluster for, and its settings as the worker runs them."""

    options: dict[str, Any]
    kind: str  # runs of one kind wait in one queue
    settings: Settings


class RayExecutor:
    """Submits runs to a Ray cluster. Connects on the first :meth:`submit` (or :meth:`connect`);
    a cluster that cannot be reached raises :class:`ClusterUnreachableError` there."""

    def __init__(self, address: str = "auto", *, cpus_per_run: int = 1, resource: str | None = None,
                 preview_side: int | None = PREVIEW_SIDE, retry_wait: float = RETRY_WAIT_S,
                 stop_grace: float = STOP_GRACE_S, clip_chunks: int = CLIP_CHUNKS,
                 frame_wire: FrameWire = FRAME_WIRE) -> None:
        """``clip_chunks``: the parts a clip is split into at most, run at once (0: as many as the
        cluster can run; fewer when it cannot run that many or the clip is short, see
        :func:`nst.run.clip_parts.spans`). ``frame_wire``: "raw" or "png" (see :func:`nst.run.remote.pack_frame`)."""
        self.address, self.cpus_per_run, self.resource = address, cpus_per_run, resource
        self.preview_side, self.retry_wait, self.stop_grace = preview_side, retry_wait, stop_grace
        self.clip_chunks, self.frame_wire = clip_chunks, frame_wire
        self._lock = threading.Lock()
        self.submitting = threading.Lock()
        self.queue: Any = None  # the RunQueue actor, once connected

    @classmethod
    def from_config(cls, config: ClusterConfig, **kwargs: Any) -> "RayExecutor":
        return cls(config.address, cpus_per_run=config.cpus_per_run, resource=config.resource,
                   clip_chunks=config.clip_chunks, **kwargs)

    def connect(self) -> None:
        """Join the cluster (once per process) and find or create its queue actor."""
        with self._lock:
            if self.queue is not None:
                return
            ray = _ray()
            if not ray.is_initialized():
                _join(self.address)
            joined = ray.get_runtime_context().gcs_address
            if self.address not in ("auto", joined):
                raise ClusterError(f"This process has already joined the Ray cluster at {joined}, not {self.address}.")
            try:
                self.queue = _queue_actor().options(
                    name=QUEUE_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                    num_cpus=0, resources={"node:__internal_head__": 0.001}).remote()
            except ray.exceptions.RayError as exc:
                raise ClusterError(f"The Ray cluster's run queue could not be started ({_first_line(exc)}).") from None
            self._warm()

    def _warm(self) -> None:
        """Start a worker process on every node that can take a CPU run and load the VGG19 there, so
        the first run does not wait for Python, torch and the model (seconds). Not waited for."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        demand = {"CPU": float(self.cpus_per_run), **({self.resource: 1.0} if self.resource else {})}
        for node in _ray().nodes():
            if node.get("Alive") and _fits(node["Resources"], demand):
                _warm_task().options(num_cpus=demand["CPU"], resources={k: v for k, v in demand.items() if k != "CPU"},
                                     scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                                     ).remote("bundled")

    def submit(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
               cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
               start: Image.Image | None = None) -> "RayRun":
        self.connect()
        return RayRun(self, content, styles, self.placement(settings), cancelled, on_start, start)

    def submit_clip(self, source: str | os.PathLike, styles: Sequence[Image.Image], settings: Settings,
                    out: str | os.PathLike, options: VideoOptions = VideoOptions(), *,
                    cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
                    name: str | None = None, extra: Mapping[str, Any] | None = None) -> "RayClipRun":
        """The clip is checked here (every refusal before anything is sent), styled on the cluster
        and written into ``out`` on this machine (see :class:`RayClipRun`)."""
        info = checked_clip(source, styles, settings, options, name)
        self.connect()
        placement = self.placement(settings)
        chunks = self.clip_chunks or self.capacity(settings)
        if chunks > 1:
            chunks = min(chunks, self.capacity(settings))
        return RayClipRun(self, Path(source), info, styles, placement, Path(out), options,
                          clip_recipe(settings, options, extra), chunks,
                          cancelled, on_start)

    def nodes(self) -> list[dict[str, float]]:
        """The total resources of each live node."""
        self.connect()
        return [dict(node["Resources"]) for node in _ray().nodes() if node.get("Alive")]

    def placement(self, settings: Settings) -> _Placement:
        """The task options a run of ``settings`` needs; DeviceError or ClusterError when no node has them."""
        nodes = self.nodes()
        device = settings.device
        if device == "auto":
            device = "cuda" if any(node.get("GPU", 0) >= 1 for node in nodes) else "cpu"
        if device == "cuda" or device.startswith("cuda:"):
            # Ray hands the task one GPU and makes it the only one the worker sees: cuda:N means nothing there.
            demand, device = {"GPU": 1.0, "CPU": 1.0}, "cuda"
        else:
            demand = {"CPU": float(self.cpus_per_run)}
        if self.resource:
            demand[self.resource] = 1.0
        if not any(_fits(node, demand) for node in nodes):
            if "GPU" in demand and not any(node.get("GPU", 0) >= 1 for node in nodes):
                raise DeviceError("No node of the Ray cluster has a GPU; choose the CPU.")
            wanted = ", ".join(f"{value:g} {name}" for name, value in demand.items())
            raise ClusterError(f"No node of the Ray cluster offers what a run needs ({wanted}).")
        resources = {name: value for name, value in demand.items() if name not in ("CPU", "GPU")}
        options = dict(num_cpus=demand["CPU"], num_gpus=demand.get("GPU", 0.0), resources=resources,
                       _generator_backpressure_num_objects=BACKPRESSURE)
        kind = ",".join(f"{name}={value:g}" for name, value in sorted(demand.items()))
        return _Placement(options, kind, settings.replace(device=device))

    def capacity(self, settings: Settings) -> int:
        """How many runs of ``settings`` the cluster can execute at once (at least 1)."""
        demand = self.placement(settings).options
        need = {"CPU": demand["num_cpus"], "GPU": demand["num_gpus"], **demand["resources"]}
        total = sum(min(math.floor(node.get(name, 0) / value) for name, value in need.items() if value > 0)
                    for node in self.nodes())
        return max(1, total)


def _fits(node: Mapping[str, float], demand: Mapping[str, float]) -> bool:
    return all(node.get(name, 0) >= value for name, value in demand.items())


class _Followed:
    """One task on the cluster, submitted and followed by the thread that iterates :meth:`records`:
    its place in the queue, Stop through the queue actor, and a worker lost mid-task tried again
    once on another. A subclass says how an attempt is launched and where an item stands in the
    task (its ``unit``: the last one the reader has seen is where a retry continues from)."""

    unit = "step"

    def __init__(self, executor: RayExecutor, placement: _Placement, cancelled: Cancelled,
                 on_start: Callable[[], None], inputs: Any, shown: int = 0) -> None:
        self.settings = placement.settings
        self._executor, self._placement = executor, placement
        self._cancelled, self._on_start = cancelled, on_start
        self._inputs = inputs  # object references, put once so that a retry does not send them again
        self._shown = shown  # where the task stands before its first item
        self._ticket: str | None = None
        self._generator: Any = None
        self._started = self._stopping = self._announced = False
        self._place = 1
        self._notice = ""
        self.node_id: str | None = None  # the node of the worker running it, once started

    def _launch(self, ticket: str, shown: int) -> Any:
        """Submit one attempt (options: ``self._placement.options``); its streaming generator.
        ``shown``: where the reader stands (a retry may start there rather than from the start)."""
        raise NotImplementedError

    def _unpack(self, item: Any) -> Any:
        raise NotImplementedError

    def _at(self, record: Any) -> int:
        """Where ``record`` stands in the task (a step, a frame's number from 1); a record at or
        before what the reader has seen is skipped, unless it is the closing one."""
        raise NotImplementedError

    def records(self) -> Iterator[Any]:
        shown = self._shown  # where the reader stands
        first: tuple[str, int] | None = None  # how and where the first worker was lost
        try:
            for attempt in (1, 2):
                try:
                    for record in self._attempt(attempt, shown):
                        at = self._at(record)
                        if at <= shown and not getattr(record, "done", False):
                            continue  # a retry that runs again through what the reader has seen
                        shown = max(shown, at)
                        yield record
                    return
                except _Lost as lost:
                    if first is None and not self._stopping:
                        first = (lost.reason, shown)
                        self._notice = (f"The Ray worker running this run {lost.reason} at {self.unit} {shown}; "
                                        "the run was started again on another worker.")
                        log.warning("%s", self._notice)
                        continue
                    raise WorkerLostError(_lost_message(first, lost, shown, self._executor.retry_wait,
                                                        self.unit)) from None
        finally:
            self._end()

    def _attempt(self, attempt: int, shown: int) -> Iterator[Any]:
        """Submit the task once and stream its records; _Lost when its worker dies."""
        ray, queue = _ray(), self._executor.queue
        assert self._inputs is not None
        self._ticket = ticket = uuid.uuid4().hex
        self._started = False
        with self._executor.submitting:  # the queue's order is the order Ray gets the tasks in
            queue.enqueue.remote(ticket, self._placement.kind)
            self._generator = generator = self._launch(ticket, shown)
        submitted = touched = time.monotonic()
        stop_asked: float | None = None
        while True:
            now = time.monotonic()
            if stop_asked is None and self._cancelled():
                stop_asked, self._stopping = now, True
                queue.stop.remote(ticket)  # a running task ends within a step and streams its image
                if not self._started:
                    ray.cancel(generator)  # a queued one simply leaves the queue
                    return
            if stop_asked is not None and now - stop_asked > self._executor.stop_grace:
                ray.cancel(generator, force=True)
                raise ClusterError(f"The run did not stop within {self._executor.stop_grace:.0f} s of Stop;"
                                   " Ray has cancelled it.")
            if not self._started:
                if attempt > 1 and now - submitted > self._executor.retry_wait:
                    ray.cancel(generator)
                    raise _Lost("found no free worker", waited=True)
                if now - touched > TOUCH_S:
                    queue.touch.remote(ticket)
                    touched = now
            if not ray.wait([generator], timeout=POLL_S)[0]:
                continue
            try:
                ref = next(generator)
            except StopIteration:
                self._generator = None
                return
            item = _fetch(ref, self._stopping)
            if item is None:  # cancelled on our own request
                return
            if isinstance(item, Started):
                self._started, self.node_id = True, item.node_id
                if not self._announced:
                    self._announced = True
                    self._on_start()
                continue
            yield self._unpack(item)

    def _end(self) -> None:
        """Whatever way the reading ended: cancel a task still going, let the ticket and inputs go."""
        ray = _ray()
        queue, ticket, generator = self._executor.queue, self._ticket, self._generator
        if generator is not None:  # the reader stopped early (closed, or an error on our side)
            queue.stop.remote(ticket)
            try:
                ray.cancel(generator)
            except Exception:  # already ended, or its worker is gone: nothing left to cancel
                pass
        if ticket is not None:
            queue.forget.remote(ticket)
        self._generator, self._inputs, self._started = None, None, True

    @property
    def started(self) -> bool:
        """Whether a worker has taken the task (True again once it has ended)."""
        return self._started

    def position(self) -> int:
        """1-based place in the cluster's queue while waiting for a worker; 0 once running."""
        if self._started:
            return 0
        ticket = self._ticket
        if ticket is None:  # not submitted yet
            return self._place
        ray = _ray()
        try:
            place = ray.get(self._executor.queue.place.remote(ticket), timeout=1.0)
        except ray.exceptions.RayError:  # the queue is slow or gone: the last known place
            return self._place
        self._place = place or self._place
        return place

    def notice(self) -> str:
        """What happened to the run that its viewer should know (a retry after a lost worker)."""
        return self._notice

    def progress(self) -> str:
        """"": a worker's word on its pass in progress does not travel back (only its records do)."""
        return ""


class RayRun(_Followed):
    """One run on the cluster (:func:`nst.run.remote.stylize_task`); a retry runs again from the
    start and the steps the reader has seen are skipped."""

    def __init__(self, executor: RayExecutor, content: Image.Image, styles: Sequence[Image.Image],
                 placement: _Placement, cancelled: Cancelled, on_start: Callable[[], None],
                 start: Image.Image | None = None) -> None:
        ray = _ray()
        super().__init__(executor, placement, cancelled, on_start, (
            ray.put(to_array(content)), [ray.put(to_array(style)) for style in styles],
            None if start is None else ray.put(to_array(start))))

    def _launch(self, ticket: str, shown: int) -> Any:
        content, styles, start = self._inputs
        return _task().options(**self._placement.options).remote(
            content, styles, self.settings, ticket, self._executor.queue, self._executor.preview_side, start)

    def _unpack(self, item: Any) -> StepRecord:
        return unpack(item)

    def _at(self, record: StepRecord) -> int:
        return record.step


class _ClipPart(_Followed):
    """Frames ``first`` to ``end`` of a clip on one worker (:func:`nst.run.remote.clip_task`); a
    retry starts at the frame after the last one the reader has (warmed on the frame before it,
    as every part is), so no frame is styled twice for the reader nor missed."""

    unit = "frame"

    def __init__(self, executor: RayExecutor, placement: _Placement, cancelled: Cancelled,
                 on_start: Callable[[], None], inputs: tuple[Any, ...], first: int, end: int) -> None:
        super().__init__(executor, placement, cancelled, on_start, inputs, shown=first)
        self.end = end

    def _launch(self, ticket: str, shown: int) -> Any:
        clip, suffix, info, styles, options = self._inputs
        return _clip_task().options(**self._placement.options).remote(
            clip, suffix, info, styles, self.settings, options, ticket, self._executor.queue, shown, self.end,
            self._executor.frame_wire)

    def _unpack(self, item: Any) -> StyledFrame:
        return unpack_frame(item)

    def _at(self, frame: StyledFrame) -> int:
        return frame.index + 1  # frames seen so far, counted from the clip's start


class RayClipRun:
    """One clip on the cluster, with the :class:`nst.run.executor.ClipHandle` contract. The clip
    was checked here; its bytes go to the object store once, and one task per part (one part, or
    ``chunks`` that run at once, :mod:`nst.run.clip_parts`) styles its frames and streams them
    back, losslessly; this process writes them in order into ``out`` with the local clip's sound."""

    def __init__(self, executor: RayExecutor, source: Path, info: VideoInfo, styles: Sequence[Image.Image],
                 placement: _Placement, out: Path, options: VideoOptions, recipe: Mapping[str, Any],
                 chunks: int, cancelled: Cancelled, on_start: Callable[[], None]) -> None:
        ray = _ray()
        self.settings, self.options, self.info = placement.settings, options, info
        self._source, self._out, self._recipe = source, out, recipe
        self._cancelled, self._on_start, self._abandoned = cancelled, on_start, False
        inputs = (ray.put(source.read_bytes()), source.suffix, info, [ray.put(to_array(s)) for s in styles], options)
        self.bounds = spans(info.frames, chunks)
        self.parts = [_ClipPart(executor, placement, self._stop_asked, self._part_started, inputs, first, end)
                      for first, end in self.bounds]
        self._announced = False
        self._announcing = threading.Lock()  # parts start in threads of their own

    def _stop_asked(self) -> bool:
        return self._abandoned or self._cancelled()

    def _part_started(self) -> None:
        with self._announcing:
            if self._announced:
                return
            self._announced = True  # the first part a worker takes starts the clip
        self._on_start()

    def records(self) -> Iterator[FrameRecord]:
        parts = self.parts
        frames = parts[0].records() if len(parts) == 1 else in_order([part.records for part in parts], self.bounds)
        try:
            for record in write_clip(frames, self.info, self._out, sound_from=self._source, recipe=self._recipe):
                if record.done and record.path is None and not self._announced:
                    return  # cancelled while it waited: nothing at all, as for a queued image run
                yield record
        finally:
            self._abandoned = True  # parts still running (an error, a reader that left) stop within a frame
            frames.close()

    def position(self) -> int:
        """The first part's place in the queue until a part starts; 0 from then on."""
        return 0 if self._announced else self.parts[0].position()

    def notice(self) -> str:
        return " ".join(part.notice() for part in self.parts if part.notice())

    def progress(self) -> str:
        return ""


_LOST_REASONS = {
    "NodeDiedError": "lost its node",
    "LocalRayletDiedError": "lost its node",
    "WorkerCrashedError": "died",
    "OutOfMemoryError": "was killed for lack of memory",
    "ObjectLostError": "lost its results",
}


def _fetch(ref: Any, stopping: bool) -> Any:
    """The item behind ``ref``: the worker's own NSTError re-raised as is, a dead worker as _Lost,
    None for a task we cancelled ourselves."""
    ray = _ray()
    try:
        return ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        if stopping:
            return None
        raise ClusterError("The run was cancelled on the Ray cluster.") from None
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, ray.exceptions.TaskCancelledError) and stopping:
            return None
        missing = re.search(r"No module named '[\w.]+'", str(cause))
        if isinstance(cause, ray.exceptions.RaySystemError) and missing:
            raise ClusterError(f"A Ray worker cannot import this project ({missing[0]}): start every node from a"
                               " checkout of it at the same path as this one, or from its Docker image.") from None
        if isinstance(cause, Exception):
            raise cause from None  # an NSTError keeps its one sentence; anything else its own type
        raise
    except ray.exceptions.RayError as exc:
        for kind in type(exc).__mro__:
            if kind.__name__ in _LOST_REASONS:
                raise _Lost(_LOST_REASONS[kind.__name__]) from None
        raise


def _join(address: str) -> None:
    """``ray.init`` on a cluster this machine is a node of; ClusterUnreachableError in one sentence."""
    ray = _ray()
    if address.startswith("ray://"):
        raise ClusterUnreachableError(
            f"{address} is a Ray Client address, which cannot stream runs: join this machine to the cluster with"
            " `ray start --address=HEAD:6379` and use the address auto.")
    from ray._private import services

    try:
        gcs = services.canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as exc:
        raise ClusterUnreachableError(
            f"No Ray cluster was found at {address!r} ({_first_line(exc).rstrip('.')}): start its head node (ray start"
            " --head), or join this machine to it (ray start --address=HEAD:6379).") from None
    host, _, port = gcs.rpartition(":")
    try:
        # ray.init waits minutes for a head that is not there; a plain connection says so at once.
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise ClusterUnreachableError(
            f"The Ray cluster at {gcs} cannot be reached ({getattr(exc, 'strerror', None) or exc}); check that its"
            " head node is running and this machine can reach it.") from None
    authenticate(gcs)
    try:
        ray.init(address=gcs, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError … here
        raise ClusterUnreachableError(f"Could not join the Ray cluster at {gcs} ({_first_line(exc)}).") from None


def token_found() -> bool:
    """Whether this machine has a Ray authentication token where Ray looks (Ray's own loader)."""
    from ray._raylet import AuthenticationTokenLoader

    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()  # a token copied in after a refusal counts at the studio's next Start
    try:
        return loader.has_token(ignore_auth_mode=True)
    except _ray().exceptions.AuthenticationError as exc:  # RAY_AUTH_TOKEN_PATH names no readable file
        raise ClusterUnreachableError(
            f"This machine's Ray authentication token cannot be read ({exc.message}).") from None


def send_token() -> bool:
    """Turn Ray's token mode on in this process (and its children) when RAY_AUTH_MODE is unset and
    this machine has a token; whether this process now sends one."""
    mode = os.environ.get(AUTH_MODE_ENV)
    if mode is not None:
        return mode.strip().lower() == "token"
    if not token_found():
        return False
    from ray._private.authentication.authentication_token_setup import _enable_token_auth

    _enable_token_auth()  # Ray's own: RAY_AUTH_MODE=token in os.environ, and its config reloaded
    return True


def authenticate(gcs: str, accepts: Callable[[str], bool] | None = None) -> None:
    """Match the cluster's token authentication before ray.init joins it; ClusterUnreachableError
    with :func:`token_refused`'s sentence when it refuses what this process can send.

    Ray 2.60 protects a cluster with a token when ``ray start --head`` finds one on the head (in
    RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token, which a local
    ``ray.init()`` writes), and a process sends its token only under ``RAY_AUTH_MODE=token``.
    Ray turns that on for itself only when it finds the cluster on its own (``ray.init("auto")``,
    whatever the cluster does); here, with RAY_AUTH_MODE unset, it is turned on exactly when the
    cluster refuses a process without a token and this machine has one. Both ways round matter: a
    process that sends no token is refused by a protected cluster, and one that sends a token
    refuses the workers of an unprotected one (they call it back without a token: its runs hang).
    An explicit RAY_AUTH_MODE is kept as it is. ``accepts(gcs)``: whether the GCS takes this
    process's connection as it now is (default: :func:`_accepts`).
    """
    accepts = accepts or _accepts
    explicit = os.environ.get(AUTH_MODE_ENV) is not None
    if accepts(gcs):
        return
    sent = send_token()
    if not explicit and sent and accepts(gcs):
        return
    raise ClusterUnreachableError(token_refused(gcs, sent))


def token_refused(gcs: str, sent: bool) -> str:
    """The sentence for a cluster that refused this process's token (``sent``) or wanted one it did not send."""
    if sent:
        what = f"The Ray cluster at {gcs} refused this machine's Ray authentication token"
    else:
        what = f"The Ray cluster at {gcs} requires a Ray authentication token and this machine sent none"
    return (f"{what}: set {TOKEN_ENV} to the cluster's token, or {TOKEN_PATH_ENV} to a file holding it (or copy the"
            f" head node's {TOKEN_FILE} here), as README's \"Scale out\" section says.")


def _accepts(gcs: str) -> bool:
    """Whether the GCS gives this process its cluster id, as ray.init asks first: False when it
    refuses the token (ray.init would retry for 20 s, logging every refusal, then say only that it
    failed); True for anything else, which ray.init reports in its own words."""
    ray = _ray()
    from ray._raylet import GcsClient

    try:
        with _stderr_without(b"gcs_client.cc"):  # Ray's C++ client logs the refusal it also raises
            GcsClient(address=gcs)
    except ray.exceptions.AuthenticationError:
        return False
    except Exception:
        pass
    return True


@contextmanager
def _stderr_without(marker: bytes) -> Iterator[None]:
    """Hold what this process writes to file descriptor 2 meanwhile (Ray's C++ logs go there directly,
    past sys.stderr) and pass it on afterwards, less the lines containing ``marker``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            with os.fdopen(2, "wb", closefd=False) as stderr:
                stderr.writelines(line for line in held.read().splitlines(keepends=True) if marker not in line)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _ray() -> Any:
    import ray  # only here: the engine and CLI must not need Ray unless a cluster is used

    return ray


@lru_cache(maxsize=1)
def _task() -> Any:
    # max_retries=0: the run's own retry (above) tells the reader, Ray's would be silent.
    # max_calls=0: keep the worker (and its loaded VGG19) for the next run; Ray's default for a
    # GPU task would start a fresh process every time.
    return _ray().remote(num_returns="streaming", max_retries=0, max_calls=0)(stylize_task)


@lru_cache(maxsize=1)
def _clip_task() -> Any:
    return _ray().remote(num_returns="streaming", max_retries=0, max_calls=0)(clip_task)


@lru_cache(maxsize=1)
def _warm_task() -> Any:
    return _ray().remote(max_retries=0, max_calls=0)(warm_task)


@lru_cache(maxsize=1)
def _queue_actor() -> Any:
    return _ray().remote(RunQueue)


__all__ = ["CLIP_CHUNKS", "ClusterConfig", "RayClipRun", "RayExecutor", "RayRun", "ENV_ADDRESS", "ENV_CLIP_CHUNKS",
           "ENV_CPUS", "ENV_RESOURCE", "FRAME_WIRE", "authenticate", "send_token", "token_found", "token_refused"]
