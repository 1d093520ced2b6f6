"""A run's stop signal, checked between layers, tiles and passes, and its word on what it is doing.

:func:`nst.engine.stylize` polls its stop signal not only between steps: at 4096 px one step
takes minutes, so every pass checks it before each layer (forward) and as the backward reaches
each layer, and before each tile. A stop found there raises :class:`Stopped`, which the engine
catches: the step in progress is abandoned (the optimisers change nothing before their closure
returns and its backward ends) and the run ends with the last image it finished.

A stop signal that also has ``progress(text)`` is told what the run is doing as it goes
("preparing the style targets", "scale 2 of 3, step 41, gradient pass, tile 3 of 8"): the one
streaming seam stays :func:`nst.engine.stylize`, and a viewer learns this without new records.
"""

from __future__ import annotations

from typing import Protocol


class StopSignal(Protocol):
    """What :func:`nst.engine.stylize` polls: a ``threading.Event`` or anything with ``is_set``
    (it may also have ``progress(text: str)``, see the module's docstring)."""

    def is_set(self) -> bool: ...


class Stopped(Exception):
    """The stop signal was found set inside a step or pass; only the engine catches it."""


class Watch:
    """One run's view of its stop signal: :meth:`check` raises :class:`Stopped` once it is set;
    :meth:`doing` and :meth:`tile` tell the signal's ``progress`` (if any) what runs now, then check."""

    def __init__(self, stop: StopSignal | None = None) -> None:
        self._stop = stop
        self._progress = getattr(stop, "progress", None)
        self.context = ""  # the pass in progress, e.g. "scale 2 of 3, step 41"; tiles are told within it

    def check(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped

    def doing(self, context: str) -> None:
        """A new pass begins: ``context`` says which."""
        self.context = context
        self._tell(context)

    def tile(self, label: str, index: int, count: int) -> None:
        """Tile ``index`` (1-based) of ``count`` of the current pass begins (``label``: which of a
        step's passes, or "")."""
        self._tell(", ".join(part for part in (self.context, label, f"tile {index} of {count}") if part))

    def _tell(self, text: str) -> None:
        if self._progress is not None:
            self._progress(text)
        self.check()


NOT_WATCHED = Watch()  # for passes made outside a run (tests, calibration): never stops, tells no one
