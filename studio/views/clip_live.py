"""The Video page's run: Start and Stop (``on_click`` callbacks, as on the Stylize page: see
:mod:`studio.views.runs`), the clip drawn live while it is styled (a polling fragment) and the
latest clip result once it has ended."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import streamlit as st

from nst.core.errors import NSTError, SettingsError
from nst.core.settings import Settings
from nst.video import VideoOptions, checked_clip
from studio.services import clip_jobs
from studio.services.clip_files import output_path
from studio.services.clip_jobs import ClipJob, ClipRun, ClipSnapshot
from studio.services.jobs import CANCELLED, FAILED, QUEUED, STOPPED
from studio.services.labels import labelled
from studio.services.timefmt import duration
from studio.session import text
from studio.session.clip_results import save_clip
from studio.session.results import results
from studio.session.uploads import Upload
from studio.views.clip_view import clip_downloads, clip_player, clip_summary, flicker_chart
from studio.views.runs import session_alive

POLL_SECONDS = 0.5
NOTE = "video_note"  # (kind, text, the inputs a refusal was about or None) about the last clip run or attempt


def inputs_key(clip: Path | None, styles: Sequence[Upload], settings: Settings | None, options: VideoOptions,
               suffix: str) -> tuple:
    """What a refused Start was about: the note goes once any of it changes."""
    return str(clip), tuple(u.digest for u in styles), settings, options, suffix


def say(kind: str, message: str, about: tuple | None = None) -> None:
    st.session_state[NOTE] = (kind, message, about)


def note(now: tuple) -> None:
    """The note about the last clip run (until the next Start) or refused Start (while the inputs
    are as they were), under Start and Stop; ``now``: :func:`inputs_key` of the widgets."""
    found = st.session_state.get(NOTE)
    if found and found[2] is not None and found[2] != now:
        st.session_state.pop(NOTE, None)
    elif found:
        text.say(*found[:2])


def start(owner: str, clip: Path | None, clip_name: str, styles: Sequence[Upload], settings: Settings | None,
          problem: str, options: VideoOptions, suffix: str) -> None:
    """Start's callback: the clip styled in the background, or a note saying why not (one sentence).
    ``settings`` None: ``problem`` says why the widgets' values cannot run."""
    st.session_state.pop(NOTE, None)
    about = inputs_key(clip, styles, settings, options, suffix)
    if clip is None:
        say("error", "Choose a clip first: the example clip, or one of your own.", about)
        return
    if settings is None:
        say("error", problem, about)
        return
    if clip_jobs.running(owner):
        say("warning", "A clip is already being styled: stop it, or wait for it.")
        return
    images, names = [s.image for s in styles], [s.name for s in styles]
    try:
        checked_clip(clip, images, settings, options, name=clip_name)
    except NSTError as exc:
        say("error", labelled(str(exc)) if str(exc).startswith(SettingsError.PREFIX) else str(exc), about)
        return
    run: ClipRun | None = None

    def finished(job: ClipJob, snap: ClipSnapshot) -> None:
        result = save_clip(owner, job, snap, clip_name, names)
        if result is not None and run is not None:
            run.saved.append(result.number)

    job = ClipJob(clip, images, settings, output_path(suffix), options, name=clip_name,
                  extra={"content": clip_name, "styles": names}, keepalive=session_alive(), on_finish=finished)
    run = ClipRun(job, owner, clip_name, names)
    if clip_jobs.add(run):
        job.start()


def stop(owner: str) -> None:
    """Stop's callback: the clip ends after the frame it is on, keeping the frames done."""
    run = clip_jobs.current(owner)
    if run is not None and not run.job.finished:
        run.job.stop()


def progress_text(snap: ClipSnapshot) -> str:
    """'Frame 12 of 48 · 3.1 frames/s · ETA 12 s · 4.0 s', led by 'Stopping… · ' once Stop is pressed."""
    parts = ["Stopping…"] if snap.stopping else []
    parts.append(f"Frame {snap.done} of {snap.total}" if snap.total else "Opening the clip…")
    parts.append("—" if snap.fps is None else f"{snap.fps:.1f} frames/s")
    parts.append("ETA —" if snap.eta is None else f"ETA {duration(snap.eta)}")
    parts.append(duration(snap.elapsed))
    return " · ".join(parts)


def clip_panel(snap: ClipSnapshot) -> None:
    """A running (or queued) clip: progress, pace, the newest frame and the flicker so far."""
    if snap.status == QUEUED:
        st.info(f"Waiting for a free {snap.device}: you are number {snap.queue_position} in the queue."
                if snap.queue_position else "Starting …")
        return
    st.progress(snap.fraction, text=progress_text(snap))
    if snap.message:
        text.say("caption", snap.message)
    if snap.latest is not None:
        st.image(snap.latest, caption=f"Frame {snap.done} of {snap.total}", width="stretch")
    flicker_chart(snap.flicker)


def clip_stage(owner: str) -> None:
    """The clip being styled, redrawn every POLL_SECONDS while it runs; then the latest clip result."""
    st.fragment(_poll, run_every=POLL_SECONDS if clip_jobs.running(owner) else None)(owner)


def _ended(snap: ClipSnapshot) -> None:
    if snap.status == FAILED:
        say("error", snap.message + (" The frames done are kept as a shorter clip." if snap.path else ""))
    elif snap.status == CANCELLED:
        say("info", snap.message)
    elif snap.status == STOPPED:
        say("info", f"Stopped at frame {snap.done} of {snap.total}: the frames done are kept as a shorter clip."
            if snap.path else "Stopped before the first frame: there is no clip to keep.")


def _poll(owner: str) -> None:
    run = clip_jobs.current(owner)
    if run is not None and run.job.finished and not run.collected:
        run.collected = True
        _ended(run.job.snapshot())
        st.rerun()  # the whole page: Start and Stop, the note, the result
    if run is not None and not run.job.finished:
        run.job.heartbeat()
        clip_panel(run.job.snapshot())
        return
    found = results(owner, "clip")
    if not found:
        st.info("Your clip appears here: choose a clip and a style, then press Start.")
        return
    latest = found[-1]
    text.say_markdown("markdown", "**{}**", latest.title)
    clip_player(latest)
    st.caption(clip_summary(latest))
    clip_downloads(latest, key=f"video-{latest.number}")
    flicker_chart(latest.meta.get("flicker", []))
