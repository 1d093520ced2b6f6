"""Background style-transfer runs for the studio: a worker thread per run and a per-device limiter.

Nothing here imports Streamlit. A :class:`Job` owns one :func:`nst.engine.stylize` iterator
running on its own thread; the page polls :meth:`Job.snapshot` for a consistent copy of the
latest state. A process-wide :class:`Limiter` lets a fixed number of runs use each device at a
time (``NST_MAX_RUNS_PER_DEVICE``, default 1); other jobs wait in FIFO order and can see their
place in the queue or be cancelled with :meth:`Job.stop`.

A job whose page stops calling :meth:`Job.heartbeat` (the tab was closed) stops itself after
``heartbeat_timeout`` seconds (default ``NST_HEARTBEAT_TIMEOUT``, 20) unless its ``keepalive``
callback says the session is still there.
When a job ends it drops its inputs, model and iterator so their memory can be reclaimed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from nst.device import DeviceError, resolve_device
from nst.engine import stylize
from nst.images import ImageError
from nst.memory import trim
from nst.records import StepRecord, loss_row
from nst.settings import Settings, SettingsError
from nst.weights import WeightsError

log = logging.getLogger(__name__)

ENV_MAX_RUNS = "NST_MAX_RUNS_PER_DEVICE"
ENV_HEARTBEAT_TIMEOUT = "NST_HEARTBEAT_TIMEOUT"
PREVIEW_SIDE = 384  # max side of the live preview kept by a job
PREVIEW_INTERVAL = 0.5  # seconds between preview updates (the final image always lands)


def heartbeat_timeout_from_env(default: float = 20.0) -> float:
    """Seconds without a heartbeat before an abandoned job stops itself: ``NST_HEARTBEAT_TIMEOUT`` or ``default``."""
    raw = os.environ.get(ENV_HEARTBEAT_TIMEOUT)
    if raw is None:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        log.warning("%s=%r is not a positive number of seconds; using %g", ENV_HEARTBEAT_TIMEOUT, raw, default)
        return default
    return seconds


HEARTBEAT_TIMEOUT = heartbeat_timeout_from_env()  # a live session's keepalive renews it, so it may be short

# Engine errors whose message is written for the user.
USER_ERRORS = (SettingsError, DeviceError, WeightsError, ImageError, FloatingPointError)

QUEUED, RUNNING, DONE, STOPPED, CANCELLED, FAILED = "queued", "running", "done", "stopped", "cancelled", "failed"
FINISHED = frozenset({DONE, STOPPED, CANCELLED, FAILED})


class Limiter:
    """At most ``slots`` concurrent runs per device key; the rest wait first come, first served."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: dict[str, list[object]] = {}
        self._running: dict[str, set[object]] = {}

    @classmethod
    def from_env(cls) -> "Limiter":
        """A limiter sized by ``NST_MAX_RUNS_PER_DEVICE`` (default 1; bad values fall back to 1)."""
        raw = os.environ.get(ENV_MAX_RUNS, "1")
        try:
            slots = max(1, int(raw))
        except ValueError:
            log.warning("%s=%r is not a whole number; using 1", ENV_MAX_RUNS, raw)
            slots = 1
        return cls(slots)

    def acquire(self, device: str, ticket: object, cancelled: Callable[[], bool], poll: float = 0.2) -> bool:
        """Block until ``ticket`` may run on ``device`` (True) or ``cancelled()`` turns true (False)."""
        with self._cond:
            queue = self._waiting.setdefault(device, [])
            running = self._running.setdefault(device, set())
            queue.append(ticket)
            try:
                while True:
                    if cancelled():
                        return False
                    if queue[0] is ticket and len(running) < self.slots:
                        queue.pop(0)
                        running.add(ticket)
                        return True
                    self._cond.wait(poll)
            finally:
                if ticket in queue:
                    queue.remove(ticket)
                self._cond.notify_all()

    def release(self, device: str, ticket: object) -> None:
        """Give ``ticket``'s slot to the next waiter."""
        with self._cond:
            self._running.get(device, set()).discard(ticket)
            self._cond.notify_all()

    def position(self, device: str, ticket: object) -> int:
        """1-based place of a waiting ticket in its device's queue; 0 when not waiting."""
        with self._cond:
            queue = self._waiting.get(device, [])
            return queue.index(ticket) + 1 if ticket in queue else 0

    def busy(self, device: str) -> int:
        """Runs now holding a slot on ``device``."""
        with self._cond:
            return len(self._running.get(device, ()))

    def wake(self) -> None:
        """Let waiters re-check their cancel flags now."""
        with self._cond:
            self._cond.notify_all()


LIMITER = Limiter.from_env()


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
    def eta(self) -> float | None:
        """Seconds left at the recent speed; None until it can be estimated."""
        rate = self.steps_per_second
        if rate is None or self.finished:
            return None
        return max(0.0, (self.total_steps - self.step) / rate)


class Job:
    """One stylize run on a worker thread. Thread-safe; makes no UI calls."""

    def __init__(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        settings: Settings,
        *,
        model: Any = None,
        limiter: Limiter = LIMITER,
        preview_side: int = PREVIEW_SIDE,
        preview_interval: float = PREVIEW_INTERVAL,
        heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
        keepalive: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self._inputs: tuple[Image.Image, list[Image.Image], Any] | None = (content, list(styles), model)
        self._limiter = limiter
        self._preview_side = preview_side
        self._preview_interval = preview_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._keepalive = keepalive
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="nst-job", daemon=True)
        self._beat = time.monotonic()
        self._preview_at = -math.inf
        self._state = Snapshot(status=QUEUED, message="", device=_device_key(settings.device), queue_position=0,
                               step=0, total_steps=settings.steps, scale=0, n_scales=1, elapsed=0.0, losses={},
                               rows=[], preview=None, preview_step=0, result=None)

    # -- control -------------------------------------------------------------------------------
    def start(self) -> "Job":
        """Start the worker thread (it first waits for a device slot)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end: within one step when running, at once when queued."""
        self._stop.set()
        self._limiter.wake()

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
        return self._state.status in FINISHED

    def snapshot(self) -> Snapshot:
        """The latest state, safe to read while the worker runs."""
        with self._lock:
            state = dataclasses.replace(self._state, rows=list(self._state.rows))
        # Outside our lock: the worker takes the limiter's lock before ours while it waits.
        queue = self._limiter.position(state.device, self) if state.status == QUEUED else 0
        return dataclasses.replace(state, queue_position=queue)

    # -- worker ---------------------------------------------------------------------------------
    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)

    def _abandoned(self) -> bool:
        """True (and the job is told to stop) when the page has gone away."""
        if time.monotonic() - self._beat <= self._heartbeat_timeout:
            return False
        if self._keepalive is not None and self._keepalive():
            self.heartbeat()
            return False
        if not self._stop.is_set():
            log.info("stopping an abandoned job (no heartbeat for %.0f s)", self._heartbeat_timeout)
            self._update(message="Stopped: the page that started this run went away.")
            self._stop.set()
        return True

    def _work(self) -> None:
        device = self._state.device
        try:
            if not self._limiter.acquire(device, self, lambda: self._stop.is_set() or self._abandoned()):
                self._update(status=CANCELLED, message=self._state.message or "Cancelled while waiting for the device.")
                return
            try:
                self._update(status=RUNNING)
                content, styles, model = self._inputs  # type: ignore[misc]
                for record in stylize(content, styles, self.settings, stop=self._stop, model=model):
                    self._take(record)
                    self._abandoned()
            finally:
                self._limiter.release(device, self)
        except USER_ERRORS as exc:
            self._update(status=FAILED, message=str(exc))
        except Exception as exc:  # the page must keep working whatever the engine does
            log.exception("style-transfer job failed")
            self._update(status=FAILED, message=f"The run failed unexpectedly ({exc.__class__.__name__}: {exc}).")
        finally:
            self._inputs = None  # drop images and the model reference; the result stays
            trim()  # the run's activations are freed: give the pages back to the OS

    def _take(self, record: StepRecord) -> None:
        """Fold one record into the state: a loss row, a throttled preview, the final image."""
        changes: dict[str, Any] = dict(step=record.step, total_steps=record.total_steps, scale=record.scale,
                                       n_scales=record.n_scales, elapsed=record.elapsed,
                                       losses=dict(record.losses))
        rows = self._state.rows
        if record.losses and (not rows or record.step > rows[-1]["step"]):
            row = loss_row(record)
            with self._lock:
                rows.append(row)  # readers copy the list under the same lock
        now = time.monotonic()
        if record.image is not None and (record.done or now - self._preview_at >= self._preview_interval):
            self._preview_at = now
            changes.update(preview=_downscale(record.image, self._preview_side), preview_step=record.step)
        if record.done:
            changes.update(result=record.image, status=STOPPED if record.stopped else DONE,
                           message=self._state.message if record.stopped else "")
        self._update(**changes)


def _downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """A copy of an RGB array with its longer side at most ``max_side``."""
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image.copy()
    pil = Image.fromarray(image)
    pil.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(pil)


def _device_key(name: str) -> str:
    """The limiter key for a device setting, e.g. 'cpu' or 'cuda:0'; the raw name if unresolvable."""
    try:
        device = resolve_device(name)
    except DeviceError:
        return name  # the run itself will fail with the engine's message
    if device.type == "cuda":
        return f"cuda:{device.index or 0}"
    return device.type


__all__ = ["Job", "Limiter", "LIMITER", "Snapshot", "QUEUED", "RUNNING", "DONE", "STOPPED",
           "CANCELLED", "FAILED", "FINISHED"]
