"""The one seam between a caller and a run: submit a run, read its records as they come.

The CLI and the studio never call :func:`nst.engine.stylize` themselves: they hand the run to
an :class:`Executor` and iterate the :class:`RunHandle` it returns. :class:`LocalExecutor` runs
the engine in the thread that reads the records, optionally behind a :class:`Gate` (the
studio's per-device queue); :class:`nst.run.cluster.RayExecutor` runs them on a Ray cluster with
the same contract.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence

from PIL import Image

from nst.plan.device import device_key
from nst.engine import stylize
from nst.records import StepRecord
from nst.core.settings import Settings
from nst.model.vgg import VGG19Features, load_model

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


class Executor(Protocol):
    """Where runs execute."""

    def submit(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
               cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
               start: Image.Image | None = None) -> RunHandle:
        """A handle for a run of ``settings``; ``on_start`` is called once it leaves the queue.
        ``start``: the image a run with ``init="image"`` refines (see nst.core.settings.continued)."""
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


class LocalRun:
    """A run in this process, executed by the thread that iterates :meth:`records`."""

    def __init__(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                 gate: Gate | None, model: Callable[[str], VGG19Features], cancelled: Cancelled,
                 on_start: Callable[[], None], start: Image.Image | None = None) -> None:
        self.settings = settings
        self._inputs = (content, list(styles), start)
        self._gate, self._model, self._cancelled, self._on_start = gate, model, cancelled, on_start
        self._device = device_key(settings.device)
        self._started = False
        self._flag = _StopFlag(cancelled)

    def records(self) -> Iterator[StepRecord]:
        gate = self._gate
        if gate is not None and not gate.acquire(self._device, self, self._cancelled):
            return
        try:
            self._started = True
            self._on_start()
            content, styles, start = self._inputs
            # The fast method needs no VGG19: a first fast run must not wait for one to load.
            model = self._model(self.settings.weights) if self.settings.method == "gatys" else None
            yield from stylize(content, styles, self.settings, stop=self._flag, model=model, start=start)
        finally:
            self._inputs = ((), (), None)  # type: ignore[assignment]  # let the images go with the run
            if gate is not None:
                gate.release(self._device, self)

    def position(self) -> int:
        if self._started:
            return 0
        return self._gate.position(self._device, self) if self._gate is not None else 0

    def notice(self) -> str:
        return ""

    def progress(self) -> str:
        return self._flag.said if self._started else ""


class LocalExecutor:
    """Runs the engine in this process, behind ``gate`` when one is given."""

    def __init__(self, gate: Gate | None = None, model: Callable[[str], VGG19Features] = load_model) -> None:
        self.gate, self.model = gate, model

    def submit(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
               cancelled: Cancelled = never, on_start: Callable[[], None] = nothing,
               start: Image.Image | None = None) -> LocalRun:
        return LocalRun(content, styles, settings, self.gate, self.model, cancelled, on_start, start)


__all__ = ["Cancelled", "Executor", "Gate", "LocalExecutor", "LocalRun", "RunHandle", "never", "nothing"]
