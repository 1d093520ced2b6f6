"""Each browser's runs: starting and stopping jobs, finding them again after a reload, and the note
about the last one.

Jobs are kept process-wide by browser token (:mod:`studio.session.identity`), not in the Streamlit
session, so a reloaded page (a new session) finds its running job. A job saves its own result to
the store when it ends, so nothing depends on a page watching at that moment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import streamlit as st
from PIL import Image
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from nst.io.adjust import Adjustments
from nst.core.errors import NSTError, SettingsError
from nst.io.images import fit_problems
from nst.model.regions import as_run
from nst.core.settings import RULES, Settings, continued
from studio.views import recipes, result_view
from studio.session import state
from studio.services.labels import labelled
from studio.services.jobs import CANCELLED, DONE, FAILED, STOPPED, Job, Snapshot
from studio.services.painted_regions import region_problem
from studio.services.policy import policy
from studio.session.resources import cached_fast_networks, cached_model
from studio.session.results import save_result
from studio.session.sizing import plan_refusal, run_seconds
from studio.session.uploads import Upload

_MESSAGE = "run_message"
NOTES = (_MESSAGE,)  # session keys of the note about the last attempt, stale once the inputs change
_CLEARED_ON_START = (recipes.NOTE, state.REJECTED)


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


def _owned(owner: str) -> list[ActiveRun]:
    with _lock:
        return list(_runs.get(owner, ()))


MAX_LIVE = 2  # runs one browser may have going at once: the one running and one queued behind it


def active(owner: str) -> ActiveRun | None:
    """The run the stage shows: this browser's oldest run still going."""
    live = live_runs(owner)
    return live[0] if live else None


def live_runs(owner: str) -> list[ActiveRun]:
    """This browser's runs still going (running or queued), oldest first."""
    return [run for run in _owned(owner) if not run.job.finished]


def uncollected(owner: str) -> bool:
    """This browser has a run no page has collected yet (going, or ended since the last redraw)."""
    return bool(_owned(owner))


def ended(owner: str) -> bool:
    """A run of this browser has ended and waits to be collected."""
    return any(run.job.finished for run in _owned(owner))


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


def message(n_styles: int = 0) -> tuple[str, str] | None:
    """(kind, text) about the last run or attempt: kind is 'error', 'warning', 'info' or 'success'.
    A note about settings tells only those of its settings that are still wrong (``n_styles``: the
    style sources the blend weights cover), and goes once they are all put right."""
    note = st.session_state.get(_MESSAGE)
    if note is None or not note[2:] or not note[2]:
        return None if note is None else note[:2]
    still = {name: text for name, text in state.problems(st.session_state, n_styles).items() if name in note[2]}
    if not still:
        st.session_state.pop(_MESSAGE, None)
        return None
    return note[0], labelled(str(SettingsError(still)))


def say(kind: str, text: str, fields: Iterable[str] = ()) -> None:
    """Set the note shown under the Start and Stop buttons (plain text: the page shows it with
    :func:`studio.session.text.say`, file names and all literally); a SettingsError's text names settings by
    their controls' labels. ``fields``: the settings it is about (a refused Start's), so it goes when
    they are put right."""
    text = labelled(text) if text.startswith(SettingsError.PREFIX) else text  # a refusal's file names stay
    st.session_state[_MESSAGE] = (kind, text, tuple(name for name in fields if name in RULES))


def session_alive() -> Callable[[], bool]:
    """A thread-safe check that this browser session is still connected."""
    ctx = get_script_run_ctx()
    session_id = ctx.session_id if ctx else None

    def alive() -> bool:
        return session_id is not None and Runtime.exists() and Runtime.instance().is_active_session(session_id)

    return alive


def clear_notes() -> None:
    """Drop the notes about earlier attempts: they belong to old runs (call when one starts)."""
    for key in (_MESSAGE, *_CLEARED_ON_START):
        st.session_state.pop(key, None)


def refusal(content: Upload | None, styles: list[Upload], settings: Settings) -> str | None:
    """Why these inputs cannot run (a missing or too small image, weights that do not load), or None.
    Loads the model on first use, with a spinner and its error on the page."""
    if content is None:
        return "Upload a content image first, or pick an example photo."
    if not styles and not settings.builtin_styles and (settings.style_weight > 0 or settings.method == "fast"):
        return ("Upload at least one style image, or pick one from the style library"
                + (" (or set the style weight β to 0)." if settings.method == "gatys" else "."))
    too_small = fit_problems(content.image.size, [s.image.size for s in styles], settings.size,
                             settings.style_scale, labels=[content.name, *(s.name for s in styles)])
    if too_small:
        return " ".join(too_small)
    if settings.mask is not None and settings.regions is not None:
        problem = region_problem(settings.mask, settings.regions, content.image.size, len(styles))
        if problem:
            return problem
    too_big = plan_refusal(settings, content.image.size, [s.image.size for s in styles])
    if too_big:
        return too_big
    too_long = policy().run_refusal(_seconds(content, styles, settings))
    if too_long:
        return too_long
    try:  # here, with a spinner and its error on the page; a cluster's workers hold their own
        if policy().cluster is None:
            if settings.method == "gatys":
                cached_model(settings.weights)
            if settings.method == "fast" or settings.init == "fast":
                cached_fast_networks(settings.device)
    except NSTError as exc:
        return str(exc)
    return None


def start(owner: str, content: Upload | None, styles: list[Upload], settings: Settings,
          from_image: Image.Image | None = None) -> None:
    """Start a job (it queues behind this browser's run still going, if any) unless MAX_LIVE are
    going already or an input is missing; the outcome goes to :func:`message`. ``from_image``: the
    image an ``init="image"`` run refines."""
    settings = as_run(settings)  # what regions leave unused is not recorded as used (said before Start)
    if sum(1 for run in live_runs(owner) if not run.job.stopping) >= MAX_LIVE:
        say("warning", f"{MAX_LIVE} runs are already going: one runs and one waits. Stop one, or wait.")
        return
    refused = refusal(content, styles, settings)
    if refused:
        say("error", refused)
        return
    assert content is not None
    clear_notes()
    run = ActiveRun(None, owner, content.name, [s.name for s in styles],  # type: ignore[arg-type]
                    adjustments=st.session_state.pop(recipes.PENDING_ADJUSTMENTS, None))
    estimate = _seconds(content, styles, settings)

    def finished(job: Job, snap: Snapshot) -> None:
        result = save_result(owner, snap, job.settings, content.image, content.name, run.style_names)
        if result is not None:
            run.saved.append(result.number)

    run.job = Job(content.image, [s.image for s in styles], settings, keepalive=session_alive(),
                  on_finish=finished, start=from_image, estimate=estimate).start()
    with _lock:
        _runs.setdefault(owner, []).append(run)


def _seconds(content: Upload, styles: list[Upload], settings: Settings) -> float | None:
    """The run's time on this server's device by its plan (None: not known, see sizing.run_seconds)."""
    return run_seconds(settings, content.image.size, [s.image.size for s in styles])


def wait(owner: str, seconds: float) -> None:
    """Wait up to ``seconds`` for this browser's runs to end (a fast run: its result in this redraw),
    then collect them."""
    deadline = time.monotonic() + seconds
    for run in live_runs(owner):
        run.job.join(max(0.0, deadline - time.monotonic()))
    collect(owner)


def refine(owner: str, content: Upload | None, styles: list[Upload], settings: Settings) -> None:
    """Optimise from the fast result with these settings (Refine on a fast result)."""
    start(owner, content, styles, settings.refine())


def continue_larger(owner: str, content: Upload | None, styles: list[Upload], result: Settings,
                    image: Image.Image) -> None:
    """Continue at 2×: refine the result ``image`` (made with ``result``) at twice its size, from it
    upscaled, for a few steps (see nst.core.settings.continued)."""
    start(owner, content, styles, continued(result), from_image=image)


def stop(owner: str) -> None:
    """Stop the run the stage shows (it keeps its current image); a run queued behind it goes on."""
    run = active(owner)
    if run is None or run.job.finished:
        say("info", "Nothing is running.")
        return
    run.job.stop()


def collect(owner: str) -> None:
    """Let go of this browser's ended runs, leaving a note about the newest of them."""
    with _lock:
        runs = _runs.get(owner, [])
        ended = [run for run in runs if run.job.finished]
        _runs[owner] = [run for run in runs if run not in ended]
    for run in ended:
        if run.adjustments is not None and run.saved:
            result_view.preset_controls(run.saved[0], run.adjustments)
    if ended:
        _note(ended[-1].job.snapshot())


def _note(snap: Snapshot) -> None:
    if snap.status == FAILED:
        kept = " The last image is kept in the gallery." if snap.result is not None else ""
        say("error", labelled(snap.message) + kept)  # the engine's words: "raise max_memory"
    elif snap.status == CANCELLED:
        say("info", snap.message)
    elif snap.status == STOPPED:
        say("info", snap.message or f"Stopped at step {snap.step} of {snap.total_steps}; the image so far is kept.")
    elif snap.status == DONE:
        st.session_state.pop(_MESSAGE, None)
