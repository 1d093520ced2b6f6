"""Each browser's variant grid: small runs of one set of settings (:func:`nst.io.variants.variants`),
run one after another, each a :class:`studio.services.jobs.Job` on the shared queue like any run.

One job at a time per grid: the next starts when the previous ends (from that job's thread), so
a grid holds one device slot at most and other browsers' runs take their turn in between. A grid
keeps only its tiles' small images, in memory and never in the gallery: a variant is for
choosing settings; "Render full size" makes the result that is kept. Each browser's grid is kept
with its other runs (:mod:`studio.services.browser_runs`). Nothing here imports Streamlit.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from nst.core.settings import Settings
from nst.io.variants import Variant, variants
from studio.services.jobs import CANCELLED, DONE, FAILED, FINISHED, QUEUED, Job, Snapshot

_ids = itertools.count(1)


@dataclass
class Tile:
    """One variant and, once its run has ended, its image (None if it never ran or made none)."""

    variant: Variant
    status: str = QUEUED
    image: np.ndarray | None = None
    message: str = ""


class Grid:
    """The variants of ``base``; :meth:`start` runs them in order."""

    def __init__(self, base: Settings, content: Image.Image, styles: Sequence[Image.Image], n: int, rows: str = "auto",
                 *, overrides: Mapping[str, Any] | None = None, keepalive: Callable[[], bool] | None = None,
                 job_options: Mapping[str, Any] | None = None) -> None:
        """``n``, ``rows`` and ``overrides`` as :func:`nst.io.variants.variants` takes them; ``job_options``
        go to each :class:`~studio.services.jobs.Job`. SettingsError for a grid that cannot be made."""
        self.id = next(_ids)
        self.base = base
        self.tiles = [Tile(v) for v in variants(base, n, rows=rows, overrides=overrides)]
        self.chosen: int | None = None  # the tile whose settings were copied into the form
        self.collected = False  # the page has redrawn everything once since the grid ended
        self._inputs: tuple[Image.Image, list[Image.Image]] | None = (content, list(styles))
        self._keepalive = keepalive
        self._job_options = dict(job_options or {})
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._index = -1
        self._stopped = False
        self._done = threading.Event()

    def start(self) -> "Grid":
        self._next()
        return self

    def _next(self) -> None:
        with self._lock:
            self._index += 1
            if self._stopped or self._index >= len(self.tiles):
                for tile in self.tiles[self._index:]:
                    tile.status = CANCELLED
                self._job, self._inputs = None, None  # the photo and paintings go with the last run
                self._done.set()
                return
            content, styles = self._inputs  # type: ignore[misc]
            self._job = Job(content, styles, self.tiles[self._index].variant.settings, keepalive=self._keepalive,
                            on_finish=self._finished, **self._job_options)
            job = self._job
        job.start()

    def _finished(self, job: Job, snap: Snapshot) -> None:
        """A tile's run ended (on its job's thread): keep its image, then run the next one. A stopped
        or cancelled tile (Stop, or the page went away) ends the grid; a failed one does not."""
        with self._lock:
            tile = self.tiles[self._index]
            tile.status, tile.image, tile.message = snap.status, snap.result, snap.message
            if snap.status not in (DONE, FAILED):
                self._stopped = True
        self._next()

    def stop(self) -> None:
        """End the grid: the running tile stops (keeping its image), the rest never run."""
        with self._lock:
            self._stopped = True
            job = self._job
        if job is not None:
            job.stop()

    def heartbeat(self) -> None:
        job = self._job
        if job is not None:
            job.heartbeat()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the grid to end; True when it has."""
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def live(self) -> tuple[int, Snapshot] | None:
        """(tile index, snapshot) of the tile running or queued now."""
        with self._lock:
            job, index = self._job, self._index
        if job is None or job.finished:
            return None
        return index, job.snapshot()

    @property
    def done(self) -> int:
        """Tiles whose run has ended."""
        return sum(tile.status in FINISHED for tile in self.tiles)

    def images(self) -> list[np.ndarray]:
        return [tile.image for tile in self.tiles if tile.image is not None]

