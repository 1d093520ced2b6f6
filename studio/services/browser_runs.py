"""Each browser's work on the device, kept by its token (:mod:`studio.session.identity`): its
Stylize runs, its variant grid and its layer reconstructions. Nothing here imports Streamlit.

Kept process-wide by token, not in the Streamlit session, so a reloaded page (a new session) finds
its runs and its grid; every job runs on the shared device queue (:mod:`studio.services.jobs`).

* **Runs**: at most :data:`MAX_LIVE` going at once, one running and one queued behind it. An
  ended run stays until a page collects it (:func:`take_ended`), which leaves its note.
* **The variant grid**: one per browser, at most :data:`MAX_GRIDS` in all, the oldest stopped and
  dropped first; a browser's new grid stops its old one.
* **Reconstructions** (the Layer explorer): one at a time per browser, waited for by the page that
  asked (:func:`reconstruct`); a new one stops the one before. What they make is the session's to
  keep (:mod:`studio.session.memo`), not this module's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from PIL import Image

from nst.core.settings import Settings
from nst.io.adjust import Adjustments
from studio.services.jobs import Job, Snapshot
from studio.services.variant_grids import Grid

MAX_LIVE = 2  # runs one browser may have going at once: the one running and one queued behind it
MAX_GRIDS = 16  # grids kept in all; a grid of nine 256 px tiles holds about 1.3 MB
POLL_SECONDS = 0.25  # how often a waited-for reconstruction tells its page how far it is


@dataclass
class ActiveRun:
    """A job and what its result will be saved with."""

    job: Job
    owner: str
    content_name: str
    style_names: list[str]
    saved: list[int] = field(default_factory=list)  # the stored result's number, once saved
    adjustments: Adjustments | None = None  # a loaded recipe's, for the result's controls


_lock = threading.Lock()
_runs: dict[str, list[ActiveRun]] = {}  # owner -> runs no page has collected yet, oldest first
_grids: OrderedDict[str, Grid] = OrderedDict()  # owner -> grid, least recently started first
_reconstructions: dict[str, Job] = {}  # owner -> the reconstruction running for it


# -- runs --------------------------------------------------------------------------------------
def add(run: ActiveRun) -> None:
    """Keep a started run as its browser's (its job already started)."""
    with _lock:
        _runs.setdefault(run.owner, []).append(run)


def _owned(owner: str) -> list[ActiveRun]:
    with _lock:
        return list(_runs.get(owner, ()))


def live_runs(owner: str) -> list[ActiveRun]:
    """This browser's runs still going (running or queued), oldest first."""
    return [run for run in _owned(owner) if not run.job.finished]


def active(owner: str) -> ActiveRun | None:
    """The run the stage shows: this browser's oldest run still going."""
    live = live_runs(owner)
    return live[0] if live else None


def uncollected(owner: str) -> bool:
    """This browser has a run no page has collected yet (going, or ended since the last redraw)."""
    return bool(_owned(owner))


def ended(owner: str) -> bool:
    """A run of this browser has ended and waits to be collected."""
    return any(run.job.finished for run in _owned(owner))


def take_ended(owner: str) -> list[ActiveRun]:
    """This browser's ended runs, let go of (oldest first)."""
    with _lock:
        runs = _runs.get(owner, [])
        gone = [run for run in runs if run.job.finished]
        _runs[owner] = [run for run in runs if run not in gone]
    return gone


def waiting(owner: str) -> int:
    """This browser's runs queued behind the one the stage shows."""
    return max(0, len(live_runs(owner)) - 1)


def running(owner: str) -> bool:
    return bool(live_runs(owner))


def stopping(owner: str) -> bool:
    """The run the stage shows has been asked to stop and has not ended yet."""
    run = active(owner)
    return run is not None and run.job.stopping


def busy(owner: str) -> bool:
    """A run is on and has not been asked to stop: a new one would queue behind it."""
    return any(not run.job.stopping for run in live_runs(owner))


# -- the variant grid ----------------------------------------------------------------------------
def grid(owner: str) -> Grid | None:
    with _lock:
        return _grids.get(owner)


def start_grid(owner: str, grid_: Grid) -> Grid:
    """Make ``grid_`` this browser's grid (stopping the one it had) and start it."""
    with _lock:
        dropped = [_grids.pop(owner)] if owner in _grids else []
        _grids[owner] = grid_
        while len(_grids) > MAX_GRIDS:
            dropped.append(_grids.popitem(last=False)[1])
    for old in dropped:
        old.stop()
    return grid_.start()


def close_grid(owner: str) -> None:
    """Stop and forget this browser's grid."""
    with _lock:
        old = _grids.pop(owner, None)
    if old is not None:
        old.stop()


def grid_running(owner: str) -> bool:
    found = grid(owner)
    return found is not None and not found.finished


# -- reconstructions -------------------------------------------------------------------------------
def reconstruct(owner: str, content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                on_update: Callable[[Snapshot], None]) -> Snapshot:
    """Run one reconstruction as this browser's and wait for it, calling ``on_update`` with its
    snapshot every :data:`POLL_SECONDS`; returns its last snapshot. A reconstruction this browser
    still had going is stopped; so is this one when ``on_update`` raises (its page went away)."""
    job = Job(content, styles, settings).start()
    with _lock:
        before = _reconstructions.get(owner)
        _reconstructions[owner] = job
    if before is not None:
        before.stop()
    try:
        while not job.join(POLL_SECONDS):
            job.heartbeat()
            on_update(job.snapshot())
    finally:
        if not job.finished:
            job.stop()
        with _lock:
            if _reconstructions.get(owner) is job:
                del _reconstructions[owner]
    return job.snapshot()

