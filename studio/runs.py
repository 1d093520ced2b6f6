"""This session's run: starting and stopping its job, and folding the finished job into a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from nst.errors import WeightsError
from nst.settings import Settings
from studio.jobs import CANCELLED, FAILED, STOPPED, Job
from studio.resources import cached_model
from studio.results import Result, add_result
from studio.uploads import Upload

_ACTIVE, _LATEST, _MESSAGE = "active_run", "latest_result", "run_message"


@dataclass
class ActiveRun:
    """The job plus what is needed to turn its output into a :class:`Result`."""

    job: Job
    content: Upload
    style_names: list[str]


def active() -> ActiveRun | None:
    return st.session_state.get(_ACTIVE)


def running() -> bool:
    run = active()
    return run is not None and not run.job.finished


def latest() -> Result | None:
    """The newest result of this session (kept while later runs go on)."""
    return st.session_state.get(_LATEST)


def message() -> tuple[str, str] | None:
    """(kind, text) about the last run or attempt: kind is 'error', 'warning', 'info' or 'success'."""
    return st.session_state.get(_MESSAGE)


def say(kind: str, text: str) -> None:
    """Set the note shown under the Start and Stop buttons."""
    st.session_state[_MESSAGE] = (kind, text)


def _session_alive() -> Callable[[], bool]:
    """A thread-safe check that this browser session is still connected."""
    ctx = get_script_run_ctx()
    session_id = ctx.session_id if ctx else None

    def alive() -> bool:
        return session_id is not None and Runtime.exists() and Runtime.instance().is_active_session(session_id)

    return alive


def start(content: Upload | None, styles: list[Upload], settings: Settings) -> None:
    """Start a job unless one is running or an input is missing; the outcome goes to :func:`message`."""
    if running():
        say("warning", "A run is already in progress. Press Stop first, or wait for it to finish.")
        return
    if content is None:
        say("error", "Upload a content image first.")
        return
    if not styles and settings.style_weight > 0:
        say("error", "Upload at least one style image (or set the style weight β to 0).")
        return
    try:
        cached_model(settings.weights)  # loaded here, with a spinner and its error on the page
    except WeightsError as exc:
        say("error", str(exc))
        return
    job = Job(content.image, [s.image for s in styles], settings, keepalive=_session_alive())
    st.session_state[_ACTIVE] = ActiveRun(job.start(), content, [s.name for s in styles])
    st.session_state.pop(_MESSAGE, None)


def stop() -> None:
    """Stop the running job (it keeps its current image) or cancel it while queued."""
    run = active()
    if run is None or run.job.finished:
        say("info", "Nothing is running.")
        return
    run.job.stop()


def collect() -> None:
    """Turn a finished job into a gallery result (or a message) and let the job go."""
    run = active()
    if run is None or not run.job.finished:
        return
    del st.session_state[_ACTIVE]
    snap = run.job.snapshot()
    if snap.status == FAILED:
        say("error", snap.message)
    elif snap.status == CANCELLED:
        say("info", snap.message)
    if snap.result is not None:
        result = Result.from_snapshot(snap, run.job.settings, run.content.image, run.content.name,
                                      run.style_names)
        add_result(result)
        st.session_state[_LATEST] = result
        if snap.status == STOPPED:
            say("info", snap.message or f"Stopped at step {snap.step} of {snap.total_steps}; the image so far is kept.")
