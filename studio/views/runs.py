"""Each browser's runs: starting and stopping jobs, finding them again after a reload, and the note
about the last one.

The runs themselves are kept with the browser's other work, by its token, in
:mod:`studio.services.browser_runs` (whose queries this module passes on to the pages), so a
reloaded page (a new session) finds its running job. A job saves its own result to the store when
it ends, so nothing depends on a page watching at that moment.

Every button that starts or stops work (Start, Stop, Variants, Refine, Continue at 2×) is an
``on_click`` callback. A click's trigger travels in one rerun only: handled in the script's body
(``if st.button(...)``), a click was lost when the browser's next message (a second click, a
changed value) cut that rerun short before it reached the button's line. A callback runs before
the body does (tests/test_app_buttons.py).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping

import streamlit as st
from PIL import Image
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from nst.core.errors import ImageError, NSTError, SettingsError
from nst.plan.budget import RunPlan
from nst.plan.preflight import Preflight
from nst.model.regions import as_run
from nst.core.settings import RULES, Settings, continued
from studio.views import recipes, result_view
from studio.session import state
from studio.services import browser_runs
from studio.services.browser_runs import (MAX_LIVE, ActiveRun, active, busy, ended, live_runs,  # noqa: F401
                                          running, stopping, uncollected, waiting)  # the pages ask here
from studio.services.labels import labelled
from studio.services.jobs import CANCELLED, DONE, FAILED, STOPPED, Job, Snapshot
from studio.services.policy import policy
from studio.session.resources import cached_fast_networks, cached_model, measured_step_cost
from studio.session.results import save_result
from studio.session.sizing import run_check, run_seconds
from studio.session.uploads import Upload

_MESSAGE = "run_message"
NOTES = (_MESSAGE,)  # session keys of the note about the last attempt, stale once the inputs change
_CLEARED_ON_START = (recipes.NOTE, state.REJECTED)
STYLE_WANTED = "Upload at least one style image, or pick one from the style library"


def message(problems: Mapping[str, str]) -> tuple[str, str] | None:
    """(kind, text) about the last run or attempt: kind is 'error', 'warning', 'info' or 'success'.
    A note about settings tells only those of its settings that are still wrong (``problems``: the
    form's now, :attr:`studio.session.draft.Draft.problems`), and goes once they are all put right."""
    note = st.session_state.get(_MESSAGE)
    if note is None or not note[2:] or not note[2]:
        return None if note is None else note[:2]
    still = {name: text for name, text in problems.items() if name in note[2]}
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


def refusal(content: Upload | None, styles: list[Upload], settings: Settings,
            start: Image.Image | None = None) -> str | None:
    """Why these inputs cannot run (a missing image, the run's preflight, a run over the time limit,
    weights that do not load), or None. Loads the model on first use, with a spinner and its error
    on the page. ``start``: the image an ``init="image"`` run starts from."""
    return _refused(content, styles, settings, start)[0]


def _refused(content: Upload | None, styles: list[Upload], settings: Settings,
             start: Image.Image | None) -> tuple[str | None, Preflight | None]:
    """:func:`refusal`, and the run's preflight (its plan, for the estimate) where there is a content."""
    if content is None:
        return "Upload a content image first, or pick an example photo.", None
    check = run_check(settings, content.image.size, [s.image.size for s in styles],
                      [content.name, *(s.name for s in styles)], start.size if start is not None else None)
    if "styles" in check.problems:  # the preflight says why one is needed; the page, where to find one
        return f"{STYLE_WANTED}: {labelled(check.problems['styles'])}.", check
    try:
        check.raise_problems()
    except ImageError as exc:  # it names the user's files: shown as they are
        return str(exc), check
    except NSTError as exc:  # it names settings: shown by their controls' labels
        return labelled(str(exc)), check
    refused = policy().run_refusal(_seconds(content, styles, settings, check))
    return refused or _unloadable(settings), check


def _unloadable(settings: Settings) -> str | None:
    """Why the run's networks do not load here, or None (a cluster's workers hold their own)."""
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
    refused, check = _refused(content, styles, settings, from_image)
    if refused:
        say("error", refused)
        return
    assert content is not None and check is not None
    clear_notes()
    run = ActiveRun(None, owner, content.name, [s.name for s in styles],  # type: ignore[arg-type]
                    adjustments=st.session_state.pop(recipes.PENDING_ADJUSTMENTS, None))
    estimate = _seconds(content, styles, settings, check)

    def finished(job: Job, snap: Snapshot) -> None:
        result = save_result(owner, snap, job.settings, content.image, content.name, run.style_names)
        if result is not None:
            run.saved.append(result.number)

    run.job = Job(content.image, [s.image for s in styles], settings, keepalive=session_alive(),
                  on_finish=finished, start=from_image, estimate=estimate,
                  cost=measured_step_cost(settings.device)).start()  # the ETA prices the run's plan at it
    browser_runs.add(run)


def _seconds(content: Upload, styles: list[Upload], settings: Settings, check: Preflight) -> float | None:
    """The run's time on this server's device by its plan, the preflight's (None: not known, see
    sizing.run_seconds)."""
    if not isinstance(check.plan, RunPlan):  # the fast method, or planned by a cluster's worker
        return None
    return run_seconds(settings, content.image.size, [s.image.size for s in styles], check.plan)


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
    ended = browser_runs.take_ended(owner)
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
