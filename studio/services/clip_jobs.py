"""A clip styled in the background: a worker thread reading the executor's clip handle
(:meth:`nst.run.executor.Executor.submit_clip`), folded into a :class:`ClipSnapshot` the Video page
polls. Nothing here imports Streamlit.

Stop, the heartbeat and the statuses are a :class:`studio.services.jobs.Job`'s (the shared
:class:`studio.services.jobs.Watched`); Stop keeps the frames done as a shorter, playable clip.
Each browser has at most one clip going; it is kept here by the browser's token, so a reloaded page
finds it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from nst.core.errors import NSTError
from nst.core.memory import trim
from nst.core.settings import Settings
from nst.plan.device import device_key
from nst.run.executor import ClipHandle, Executor
from nst.video import FrameRecord, VideoOptions
from studio.services.executors import default_executor
from studio.services.jobs import (CANCELLED, DONE, FAILED, FINISHED, PREVIEW_INTERVAL, PREVIEW_SIDE, QUEUED, RUNNING,
                                  STOPPED, Watched, downscale)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipSnapshot:
    """A consistent copy of a clip job's state: ``done`` frames of ``total``, the pace, the newest
    frame (downscaled), the flicker of every frame so far (None: the first frame or a cut) and,
    once ended, the clip's ``path`` (None when no frame was written)."""

    status: str
    message: str
    device: str
    total: int = 0
    done: int = 0
    elapsed: float = 0.0
    fps: float | None = None
    eta: float | None = None
    flicker: tuple[float | None, ...] = ()
    latest: np.ndarray | None = field(default=None, repr=False)
    poster: np.ndarray | None = field(default=None, repr=False)  # the first frame styled, full size
    path: Path | None = None
    codec: str | None = None
    sound: str | None = None
    queue_position: int = 0
    stopping: bool = False

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


class ClipJob(Watched):
    """One clip on a worker thread, styled from ``source`` into ``out``. Thread-safe; no UI calls."""

    def __init__(self, source: Path, styles: Sequence[Image.Image], settings: Settings, out: Path,
                 options: VideoOptions = VideoOptions(), *, executor: Executor | None = None,
                 name: str | None = None, extra: dict[str, Any] | None = None,
                 preview_side: int = PREVIEW_SIDE, preview_interval: float = PREVIEW_INTERVAL,
                 heartbeat_timeout: float | None = None, keepalive: Callable[[], bool] | None = None,
                 on_finish: Callable[["ClipJob", ClipSnapshot], None] | None = None) -> None:
        self.settings, self.options, self.source, self.out, self.name = settings, options, source, out, name
        self._styles: list[Image.Image] = list(styles)
        self._extra = extra
        self._executor = executor if executor is not None else default_executor()
        self._handle: ClipHandle | None = None
        self._preview_side, self._preview_interval = preview_side, preview_interval
        self._preview_at = -float("inf")
        self._state = ClipSnapshot(status=QUEUED, message="", device=device_key(settings.device))
        super().__init__("nst-clip", heartbeat_timeout, keepalive, on_finish)

    def snapshot(self) -> ClipSnapshot:
        """The latest state, safe to read while the worker runs."""
        with self._lock:
            state = self._state
        handle = self._handle  # asked outside the lock: a local handle asks the limiter
        changes: dict[str, Any] = dict(stopping=self._stop.is_set() and not state.finished,
                                       queue_position=handle.position() if state.status == QUEUED and handle else 0)
        notice = handle.notice() if handle is not None and not state.message else ""
        if notice:
            changes["message"] = notice
        if state.status == RUNNING and self._began is not None:  # the time moves between frames too
            changes["elapsed"] = max(state.elapsed, time.monotonic() - self._began)
        return dataclasses.replace(state, **changes)

    def _work(self) -> None:
        try:
            self._handle = self._executor.submit_clip(
                self.source, self._styles, self.settings, self.out, self.options, cancelled=self._should_stop,
                on_start=self._started, name=self.name, extra=self._extra)
            for record in self._handle.records():
                self._take(record)
            if self._state.status not in FINISHED:  # no closing record: cancelled before it started
                self._update(status=CANCELLED, message=self._state.message or "Cancelled while waiting for the device.")
        except NSTError as exc:  # a clip the limits refuse, a damaged frame: one sentence
            self._update(status=FAILED, message=str(exc))
        except Exception as exc:  # the page must keep working whatever the engine does
            log.exception("clip job failed")
            self._update(status=FAILED, message=f"The clip failed unexpectedly ({exc.__class__.__name__}: {exc}).")
        finally:
            self._styles = []
            trim()
        self._hand_over()

    def _take(self, record: FrameRecord) -> None:
        """Fold one frame's record (or the closing one) into the state."""
        if record.done:
            ended = FAILED if record.error else STOPPED if record.stopped else DONE
            message = record.error or (self._state.message if record.stopped else "")
            self._update(status=ended, message=message, path=record.path, codec=record.codec, sound=record.sound,
                         done=record.index + 1, total=record.total, elapsed=record.elapsed,
                         fps=record.fps if record.fps is not None else self._state.fps, eta=None)
            return
        changes: dict[str, Any] = dict(done=record.index + 1, total=record.total, elapsed=record.elapsed,
                                       fps=record.fps, eta=record.eta,
                                       flicker=(*self._state.flicker, record.flicker))
        now = time.monotonic()
        if record.image is not None:
            if self._state.poster is None:
                changes["poster"] = record.image
            if now - self._preview_at >= self._preview_interval or record.index + 1 == record.total:
                self._preview_at = now
                changes["latest"] = downscale(record.image, self._preview_side)
        self._update(**changes)


@dataclass
class ClipRun:
    """A browser's clip job and what its result is saved with."""

    job: ClipJob
    owner: str
    clip_name: str
    style_names: list[str]
    saved: list[int] = field(default_factory=list)  # the stored result's number, once saved
    collected: bool = False  # a page has shown how it ended


_lock = threading.Lock()
_runs: dict[str, ClipRun] = {}  # owner -> the browser's latest clip run


def add(run: ClipRun) -> bool:
    """Keep a started clip run as its browser's; False (and not kept) while another still runs."""
    with _lock:
        current = _runs.get(run.owner)
        if current is not None and not current.job.finished:
            return False
        _runs[run.owner] = run
        return True


def current(owner: str) -> ClipRun | None:
    """The browser's latest clip run, going or ended, until a new one replaces it."""
    with _lock:
        return _runs.get(owner)


def running(owner: str) -> bool:
    run = current(owner)
    return run is not None and not run.job.finished


__all__ = ["ClipJob", "ClipRun", "ClipSnapshot", "add", "current", "running"]
