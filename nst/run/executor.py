"""The one seam between a caller and a run: submit a run, read its records as they come.

The CLI and the studio never call :func:`nst.engine.stylize` themselves: they hand the run to
an :class:`Executor` and iterate the :class:`RunHandle` it returns. :class:`LocalExecutor` runs
the engine in the thread that reads the records, optionally behind a :class:`Gate` (the
studio's per-device queue); :class:`nst.run.cluster.RayExecutor` runs them on a Ray cluster with
the same contract. A clip goes through the same seam (:meth:`Executor.submit_clip`): its handle
streams :class:`nst.video.FrameRecord` s from :func:`nst.video.stylize_video`, the last one naming
the finished clip, which lies at the path the caller chose on this machine wherever it ran.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, Protocol, Sequence, TypeVar

from PIL import Image

from nst.plan.device import device_key
from nst.engine import stylize
from nst.records import StepRecord
from nst.core.settings import Settings
from nst.model.vgg import VGG19Features, load_model
from nst.video import FrameRecord, VideoOptions, stylize_video

Cancelled = Callable[[], bool]  # polled at least once per step; True ends the run


def never() -> bool:
    return False


def nothing() -> None:
    pass


class RunHandle(Protocol):
    """One submitted run."""

    def records(self) -> Iterator[StepRecord]:
        """The run's records in order, the last with ``done=True``. Nothing at all when it was
        cancelled before it started; a stopped run still ends with its current image."""
        ...

    def position(self) -> int:
        """1-based place in the queue while the run waits behind another; 0 once it has started or
        while nothing is ahead of it (it is about to start)."""
        ...

    def notice(self) -> str:
        """Something that happened to the run its viewer should know (a retry on another cluster
        worker after one was lost); "" when nothing did."""
        ...

    def progress(self) -> str:
        """What the running run is doing now, as the engine last said ("scale 2 of 3, step 41,
        gradient pass, tile 3 of 8", see nst.core.progress); "" when not known."""
        ...


class ClipHandle(Protocol):
    """One submitted clip: :meth:`records` streams a record per frame and a closing one (``done``)
    whose ``path`` is the finished clip; nothing at all when it was cancelled before it started.
    ``position``, ``notice`` and ``progress`` as for :class:`RunHandle`."""

    def records(self) -> Iterator[FrameRecord]: ...

    def position(self) -> int: ...

    def notice(self) -> str: ...

    def progress(self) -> str: ...


class Executor(Protocol):
    """Where runs execute."""

    def submit(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
               cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
               start: Image.Image | None = None) -> RunHandle:
        """A handle for a run of ``settings``; ``on_start`` is called once it leaves the queue.
        ``start``: the image a run with ``init="image"`` refines (see nst.core.settings.continued)."""
        ...

    def submit_clip(self, source: str | os.PathLike, styles: Sequence[Image.Image], settings: Settings,
                    out: str | os.PathLike, options: VideoOptions = VideoOptions(), *,
                    cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
                    name: str | None = None, extra: Mapping[str, Any] | None = None) -> ClipHandle:
        """A handle for the clip at ``source`` styled into ``out`` (see :func:`nst.video.stylize_video`;
        ``name`` labels the input in messages, ``extra`` goes into the recipe)."""
        ...


class Gate(Protocol):
    """Admission to a device: who may run on it now (see ``studio.services.limiter.Limiter``)."""

    def acquire(self, device: str, ticket: object, cancelled: Cancelled) -> bool: ...

    def release(self, device: str, ticket: object) -> None: ...

    def position(self, device: str, ticket: object) -> int: ...


class _StopFlag:
    """``cancelled`` as the stop signal :func:`stylize` polls; it keeps what the run last said it
    was doing (nst.core.progress)."""

    def __init__(self, cancelled: Cancelled) -> None:
        self.is_set = cancelled
        self.said = ""

    def progress(self, text: str) -> None:
        self.said = text


Record = TypeVar("Record", StepRecord, FrameRecord)


class _GatedRun(Generic[Record]):
    """What every run in this process shares: it waits at its device's gate (when there is one),
    is executed by the thread that iterates :meth:`records`, and lets its inputs go when it ends."""

    def __init__(self, settings: Settings, gate: Gate | None, cancelled: Cancelled,
                 on_start: Callable[[], None]) -> None:
        self.settings = settings
        self._gate, self._cancelled, self._on_start = gate, cancelled, on_start
        self._device = device_key(settings.device)
        self._started = False
        self._flag = _StopFlag(cancelled)

    def records(self) -> Iterator[Record]:
        gate = self._gate
        if gate is not None and not gate.acquire(self._device, self, self._cancelled):
            return
        try:
            self._started = True
            self._on_start()
            yield from self._run()
        finally:
            self._drop()
            if gate is not None:
                gate.release(self._device, self)

    def _run(self) -> Iterator[Record]:
        raise NotImplementedError

    def _drop(self) -> None:
        """Let the inputs go with the run."""

    def position(self) -> int:
        if self._started:
            return 0
        return self._gate.position(self._device, self) if self._gate is not None else 0

    def notice(self) -> str:
        return ""

    def progress(self) -> str:
        return self._flag.said if self._started else ""


class LocalRun(_GatedRun[StepRecord]):
    """A run of an image in this process."""

    def __init__(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                 gate: Gate | None, model: Callable[[str], VGG19Features], cancelled: Cancelled,
                 on_start: Callable[[], None], start: Image.Image | None = None) -> None:
        super().__init__(settings, gate, cancelled, on_start)
        self._inputs = (content, list(styles), start)
        self._model = model

    def _run(self) -> Iterator[StepRecord]:
        content, styles, start = self._inputs
        # The fast method needs no VGG19: a first fast run must not wait for one to load.
        model = self._model(self.settings.weights) if self.settings.method == "gatys" else None
        yield from stylize(content, styles, self.settings, stop=self._flag, model=model, start=start)

    def _drop(self) -> None:
        self._inputs = ((), (), None)  # type: ignore[assignment]


class LocalClipRun(_GatedRun[FrameRecord]):
    """A clip in this process, behind the gate of its device like any run."""

    def __init__(self, source: Path, styles: Sequence[Image.Image], settings: Settings, out: Path,
                 options: VideoOptions, gate: Gate | None, cancelled: Cancelled, on_start: Callable[[], None],
                 name: str | None, extra: Mapping[str, Any] | None) -> None:
        super().__init__(settings, gate, cancelled, on_start)
        self.options = options
        self._source, self._styles, self._out = source, list(styles), out
        self._name, self._extra = name, extra

    def _run(self) -> Iterator[FrameRecord]:
        yield from stylize_video(self._source, self._styles, self.settings, self._out, self.options,
                                 stop=self._flag, name=self._name, extra=self._extra)

    def _drop(self) -> None:
        self._styles = []


class LocalExecutor:
    """Runs the engine in this process, behind ``gate`` when one is given."""

    def __init__(self, gate: Gate | None = None, model: Callable[[str], VGG19Features] = load_model) -> None:
        self.gate, self.model = gate, model

    def submit(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
               cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
               start: Image.Image | None = None) -> LocalRun:
        return LocalRun(content, styles, settings, self.gate, self.model, cancelled, on_start, start)

    def submit_clip(self, source: str | os.PathLike, styles: Sequence[Image.Image], settings: Settings,
                    out: str | os.PathLike, options: VideoOptions = VideoOptions(), *,
                    cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
                    name: str | None = None, extra: Mapping[str, Any] | None = None) -> LocalClipRun:
        return LocalClipRun(Path(source), styles, settings, Path(out), options, self.gate, cancelled, on_start,
                            name, extra)


__all__ = ["Cancelled", "ClipHandle", "Executor", "Gate", "LocalClipRun", "LocalExecutor", "LocalRun", "RunHandle", "never", "nothing"]
