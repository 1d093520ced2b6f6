"""Drawing a job's live state: queue place, progress, timing, preview image and loss chart."""

from __future__ import annotations

import streamlit as st

from studio import runs
from studio.charts import loss_chart
from studio.jobs import QUEUED, Snapshot

POLL_SECONDS = 0.5


def duration(seconds: float | None) -> str:
    """'—', '8.2 s', '3 min 05 s' or '1 h 02 min'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_panel(snap: Snapshot) -> None:
    """The running (or queued) job as of ``snap``."""
    if snap.status == QUEUED:
        place = f"number {snap.queue_position} in the queue" if snap.queue_position else "next"
        st.info(f"Waiting for the {snap.device}: you are {place}, behind the run using it now. "
                "Press Stop to cancel.")
        return
    scale = f" · scale {snap.scale + 1} of {snap.n_scales}" if snap.n_scales > 1 else ""
    st.progress(snap.fraction, text=f"Step {snap.step} of {snap.total_steps}{scale}")
    rate = snap.steps_per_second
    elapsed, eta, speed = st.columns(3)
    elapsed.metric("Elapsed", duration(snap.elapsed))
    eta.metric("ETA", duration(snap.eta))
    speed.metric("Steps/s", "—" if rate is None else f"{rate:.2f}")
    preview, chart = st.columns([2, 3])
    with preview:
        if snap.preview is not None:
            st.image(snap.preview, caption=f"Step {snap.preview_step} of {snap.total_steps}")
        else:
            st.caption("The first preview appears after a few steps.")
    with chart:
        loss_chart(snap.rows)


def live_panel() -> None:
    """This session's running job, redrawn every POLL_SECONDS while it runs (a fragment)."""
    st.fragment(_poll, run_every=POLL_SECONDS if runs.running() else None)()


def _poll() -> None:
    """Heartbeat, progress, preview and losses; once the job ends, collect it and redraw the page."""
    run = runs.active()
    if run is None:
        return
    run.job.heartbeat()
    snap = run.job.snapshot()
    if snap.finished:
        runs.collect()
        st.rerun()  # the whole page redraws with the result
    job_panel(snap)

