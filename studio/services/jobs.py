"""Background runs for the studio: a worker thread per run, read by the page through snapshots.

Nothing here imports Streamlit. A :class:`Job` submits its run to an executor (the
:class:`nst.run.executor.Executor` seam: local behind the per-device queue, or a cluster) and folds
the records its worker thread reads into a :class:`Snapshot` the page polls.

A job whose page stops calling :meth:`Job.heartbeat` (the tab was closed) stops itself after
``heartbeat_timeout`` seconds (the policy's ``NST_HEARTBEAT_TIMEOUT``) unless its ``keepalive``
callback says the session is still there. When a job ends it drops its inputs and handle so
their memory can be reclaimed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
from PIL import Image

from nst.plan.device import device_key
from nst.plan.budget import RunPlan
from nst.plan.estimate import StepCost, remaining_seconds
from nst.core.errors import NSTError
from nst.run.executor import Executor, RunHandle
from nst.core.memory import trim
from nst.records import StepRecord, loss_row
from nst.core.settings import Settings
from studio.services.executors import default_executor
from studio.services.limiter import Limiter, queue_wait
from studio.services.policy import policy

log = logging.getLogger(__name__)

PREVIEW_SIDE = 384  # max side of the live preview kept by a job
PREVIEW_INTERVAL = 0.5  # seconds between preview updates (the final image always lands)

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, FAILED = "queued", "running", "done", "stopped", "cancelled", "failed"
FINISHED = frozenset({DONE, STOPPED, CANCELLED, FAILED})


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's state for drawing; ``rows`` holds one dict per finished step."""

    status: str
    message: str
    device: str
    queue_position: int
    step: int
    total_steps: int
    scale: int
    n_scales: int
    elapsed: float
    losses: dict[str, float]
    rows: list[dict[str, float]]
    preview: np.ndarray | None
    preview_step: int
    result: np.ndarray | None
    plan: RunPlan | None = None  # the run's plan, from its first record: what the ETA prices
    shape: tuple[int, int] = (0, 0)  # (height, width) of the scale of the latest step
    planned: float | None = None  # the run's estimated seconds before it began (None: not known)
    cost: StepCost | None = None  # the device's step cost the estimate was made at (None: not measured)
    phase: str = ""  # what the running run is doing now, as the engine last said (nst.core.progress)
    stopping: bool = False  # Stop was pressed and the run has not ended yet
    wait: float | None = None  # while queued: estimated seconds until it starts (None: not known)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float:
        """Share of the steps done, 0..1."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def steps_per_second(self) -> float | None:
        """Recent optimisation speed (last 20 steps), excluding model and target set-up."""
        recent = self.rows[-21:]
        if len(recent) < 2:
            return None
        dt = recent[-1]["elapsed_s"] - recent[0]["elapsed_s"]
        return (len(recent) - 1) / dt if dt > 0 else None

    @property
    def paced(self) -> bool:
        """Whether the ETA follows steps timed here (else it is the plan's figure)."""
        return self.plan is not None and remaining_seconds(self.plan, self.rows, self.step) is not None

    @property
    def eta(self) -> float | None:
        """Seconds left: once the run's plan has come (its first record), the plan's seconds for the
        steps to come at the pace of the steps timed so far (nst.plan.estimate.remaining_seconds,
        the model of the estimate before Start); before it, that estimate less the time spent (a
        long first step, at 4096 px minutes, has an ETA too). None when neither is known or the
        estimate's time is spent."""
        if self.finished:
            return None
        if self.plan is not None:
            left = remaining_seconds(self.plan, self.rows, self.step, self.cost)
            if left is not None:
                return left
        if self.planned is None:
            return None
        left = self.planned - self.elapsed
        return left if left > 0 else None


W = TypeVar("W", bound="Watched")


class Watched:
    """What every background run of the studio shares (a :class:`Job`, a clip's
    :class:`studio.services.clip_jobs.ClipJob`): its worker thread, Stop, and the heartbeat by
    which a run whose page has gone stops itself. A subclass keeps its state in ``_state`` (with a
    ``status``), changes it with ``_update`` and does its work in ``_work``."""

    _state: Any

    def __init__(self, name: str, heartbeat_timeout: float | None, keepalive: Callable[[], bool] | None,
                 on_finish: Callable[[Any, Any], None] | None) -> None:
        """``on_finish(job, snapshot)`` is called from the worker once the run has ended (it saves
        the result, so nothing depends on a page watching then)."""
        self._on_finish = on_finish
        self._began: float | None = None  # monotonic time the run left the queue
        self._heartbeat_timeout = policy().heartbeat_timeout if heartbeat_timeout is None else heartbeat_timeout
        self._keepalive = keepalive
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._beat = time.monotonic()

    def _work(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def _started(self) -> None:
        self._began = time.monotonic()
        self._update(status=RUNNING)

    def _hand_over(self) -> None:
        """Give the ended run's snapshot to ``on_finish`` (its failure is logged, never raised)."""
        if self._on_finish is not None:
            try:  # saved from here, so a result is kept even when no page is watching
                self._on_finish(self, self.snapshot())
            except Exception:
                log.exception("saving a finished run failed")

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)

    def start(self: W) -> W:
        """Start the worker thread (its run first waits for a place on the device)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end: within a layer of its pass (or a frame) when running
        (nst.core.progress), at its next queue check when queued."""
        self._stop.set()

    def heartbeat(self) -> None:
        """Tell the job its page is still watching."""
        self._beat = time.monotonic()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The run has ended and its worker is done (its result handed to ``on_finish``)."""
        return self._state.status in FINISHED and not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Stop was asked for and the run has not ended yet (it will within a layer of its pass)."""
        return self._stop.is_set() and self._state.status not in FINISHED

    def _should_stop(self) -> bool:
        """The run's cancel check: Stop was pressed, or the page has gone away (which sets Stop)."""
        if self._stop.is_set():
            return True
        if time.monotonic() - self._beat <= self._heartbeat_timeout:
            return False
        if self._keepalive is not None and self._keepalive():
            self.heartbeat()
            return False
        log.info("stopping an abandoned job (no heartbeat for %.0f s)", self._heartbeat_timeout)
        self._update(message="Stopped: the page that started this run went away.")
        self._stop.set()
        return True


class Job(Watched):
    """One run on a worker thread. Thread-safe; makes no UI calls."""

    def __init__(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        settings: Settings,
        *,
        executor: Executor | None = None,
        preview_side: int = PREVIEW_SIDE,
        preview_interval: float = PREVIEW_INTERVAL,
        heartbeat_timeout: float | None = None,
        keepalive: Callable[[], bool] | None = None,
        on_finish: Callable[["Job", Snapshot], None] | None = None,
        start: Image.Image | None = None,
        estimate: float | None = None,
        cost: StepCost | None = None,
    ) -> None:
        """``start``: the image a run with ``init="image"`` refines (Continue at 2×); ``estimate``:
        the run's seconds by its plan on this device (nst.plan.estimate.estimate_seconds) at ``cost``,
        the device's step cost, which the ETA goes on pricing the plan at; the estimate is also the
        wait of the runs queued behind it."""
        self.settings = settings
        self._inputs: tuple[Image.Image, list[Image.Image], Image.Image | None] | None = (content, list(styles), start)
        self._executor = executor if executor is not None else default_executor()
        self._handle: RunHandle | None = None
        self._preview_side = preview_side
        self._preview_interval = preview_interval
        super().__init__("nst-job", heartbeat_timeout, keepalive, on_finish)
        self._preview_at = -math.inf
        self._last_image: np.ndarray | None = None  # full size, the newest a record carried
        self._state = Snapshot(status=QUEUED, message="", device=device_key(settings.device), queue_position=0,
                               step=0, total_steps=settings.steps, scale=0, n_scales=1, elapsed=0.0, losses={},
                               rows=[], preview=None, preview_step=0, result=None, planned=estimate, cost=cost)

    def snapshot(self) -> Snapshot:
        """The latest state, safe to read while the worker runs."""
        with self._lock:
            state = dataclasses.replace(self._state, rows=list(self._state.rows))
        # Outside our lock: a local handle asks the limiter, whose lock the waiting worker holds.
        handle = self._handle
        queue = handle.position() if state.status == QUEUED and handle is not None else 0
        # A cluster run retried after its worker was lost says so (while it runs and once it is done).
        notice = handle.notice() if handle is not None and not state.message else ""
        changes: dict[str, Any] = dict(queue_position=queue, message=notice or state.message,
                                       stopping=self._stop.is_set() and not state.finished)
        began = self._began
        if state.status == RUNNING and began is not None:
            # Counted here, not by the records: a step at 4096 px takes minutes, and the time must move.
            changes["elapsed"] = max(state.elapsed, time.monotonic() - began)
            changes["phase"] = handle.progress() if handle is not None else ""
        if queue:
            changes["wait"] = self._queue_wait(handle)
        return dataclasses.replace(state, **changes)

    def remaining(self) -> float | None:
        """Seconds until this run ends, by its ETA; queued, its whole estimate (None: not known)."""
        snap = self.snapshot() if self._state.status == RUNNING else self._state
        return snap.eta if snap.status == RUNNING else snap.planned

    def _queue_wait(self, handle: RunHandle | None) -> float | None:
        """Seconds until this queued run gets the device: the runs ahead's remaining estimates (a
        local run's queue only: a cluster's workers are not timed here)."""
        gate = getattr(self._executor, "gate", None)
        if handle is None or not isinstance(gate, Limiter):
            return None
        running, queued = gate.ahead(self._state.device, handle)
        jobs = dict(_JOBS)  # a copy: other threads add and remove theirs
        lefts = [jobs[ticket].remaining() if ticket in jobs else None for ticket in running]
        wholes = [jobs[ticket].remaining() if ticket in jobs else None for ticket in queued]
        if any(t is None for t in (*lefts, *wholes)):
            return None
        return queue_wait(lefts, wholes, gate.slots)  # type: ignore[arg-type]

    # -- worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            content, styles, start = self._inputs  # type: ignore[misc]
            self._handle = self._executor.submit(content, styles, self.settings, cancelled=self._should_stop,
                                                 on_start=self._started, start=start)
            _JOBS[self._handle] = self
            for record in self._handle.records():
                self._take(record)
            if self._state.status not in FINISHED:  # no closing record: cancelled before it started
                self._update(status=CANCELLED, message=self._state.message or "Cancelled while waiting for the device.")
        except NSTError as exc:  # the last image seen stays the result: nothing made is lost
            self._update(status=FAILED, message=str(exc), result=self._last_image)
        except Exception as exc:  # the page must keep working whatever the engine does
            log.exception("style-transfer job failed")
            self._update(status=FAILED, message=f"The run failed unexpectedly ({exc.__class__.__name__}: {exc}).",
                         result=self._last_image)
        finally:
            _JOBS.pop(self._handle, None)
            self._inputs = None  # drop the images; the result stays
            trim()  # the run's activations are freed: give the pages back to the OS
        self._hand_over()

    def _take(self, record: StepRecord) -> None:
        """Fold one record into the state: a loss row, a throttled preview, the final image."""
        changes: dict[str, Any] = dict(step=record.step, total_steps=record.total_steps, scale=record.scale,
                                       n_scales=record.n_scales, elapsed=record.elapsed,
                                       losses=dict(record.losses), shape=record.shape)
        if record.plan is not None:  # the first record: the plan the run keeps to
            changes["plan"] = record.plan
        rows = self._state.rows
        if record.losses and (not rows or record.step > rows[-1]["step"]):
            row = loss_row(record)
            with self._lock:
                rows.append(row)  # readers copy the list under the same lock
        now = time.monotonic()
        if record.image is not None:
            self._last_image = record.image
        if record.image is not None and (record.done or now - self._preview_at >= self._preview_interval):
            self._preview_at = now
            changes.update(preview=downscale(record.image, self._preview_side), preview_step=record.step)
        if record.done:
            changes.update(result=record.image, status=STOPPED if record.stopped else DONE,
                           message=self._state.message if record.stopped else "")
        self._update(**changes)


# The job of each run not yet ended, by its handle: the limiter queues handles, and a queued job
# prices its wait by the jobs ahead of it. A job leaves when its run ends.
_JOBS: dict[object, Job] = {}


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """A copy of an RGB array with its longer side at most ``max_side``."""
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image.copy()
    pil = Image.fromarray(image)
    pil.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(pil)


__all__ = ["Job", "Snapshot", "Watched", "downscale", "QUEUED", "RUNNING", "DONE", "STOPPED", "CANCELLED", "FAILED", "FINISHED"]
