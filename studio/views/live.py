"""The stage: this browser's run drawn live (queue place, progress, timing, preview, losses), its
variant grid, and its latest result once the run has ended."""

from __future__ import annotations

import streamlit as st
from PIL import Image

from nst.core.errors import SettingsError
from studio.views import inputs, runs
from studio.session import state, text
from studio.services import browser_runs
from studio.views.charts import loss_chart
from studio.services.jobs import DONE, QUEUED, STOPPED, Snapshot
from studio.views.result_view import result_view
from studio.session.results import Result, results
from studio.services.timefmt import duration
from studio.session.uploads import Upload
from studio.views.variant_view import variant_grid

POLL_SECONDS = 0.5
CHART_HEIGHT = 190


def progress_text(snap: Snapshot) -> str:
    """'Step 40 of 300 · scale 2 of 3 (256×192) · 12.5 s · ETA 20.1 s · 3.20 steps/s', led by
    'Stopping… · ' once Stop is pressed; the ETA is the plan's ('ETA ≈ 44 min 10 s (planned)')
    until steps are timed. Once the run has ended and its result is being saved: 'Stopped at step 56
    of 60 · 1 min 32 s · saving the result…'."""
    if snap.status in (STOPPED, DONE):  # ended: its worker saves the result, then the page shows it
        # At 4096 px the save (a 16-bit PNG with its recipe) takes seconds: say the run has ended.
        ended = "Stopped" if snap.status == STOPPED else "Finished"
        return f"{ended} at step {snap.step} of {snap.total_steps} · {duration(snap.elapsed)} · saving the result…"
    parts = ["Stopping…"] if snap.stopping else []
    parts.append(f"Step {snap.step} of {snap.total_steps}")
    if snap.n_scales > 1:
        parts.append(f"scale {snap.scale + 1} of {snap.n_scales} ({snap.shape[1]}×{snap.shape[0]})")
    rate = snap.steps_per_second
    eta = snap.eta
    planned = eta is not None and not snap.paced
    parts += [duration(snap.elapsed), f"ETA ≈ {duration(eta)} (planned)" if planned else f"ETA {duration(eta)}",
              "—" if rate is None else f"{rate:.2f} steps/s"]
    return " · ".join(parts)


def queue_text(snap: Snapshot) -> str:
    """'Waiting for a free cpu: you are number 1 in the queue, about 3 min. Press Stop to cancel.' (the
    wait rounded to minutes: it is an estimate from the runs ahead, see Job.snapshot)."""
    wait = ""
    if snap.wait is not None:
        wait = ", less than a minute" if snap.wait < 60 else f", about {round(snap.wait / 60)} min"
    return (f"Waiting for a free {snap.device}: you are number {snap.queue_position} in the queue{wait}."
            " Press Stop to cancel.")


def job_panel(snap: Snapshot) -> None:
    """The running (or queued) job as of ``snap``: the preview fills the stage's width whatever the
    scale, so it does not jump in size; the chart sits under it."""
    if snap.status == QUEUED:
        # A queue place only when another run really is ahead; otherwise the run is starting.
        if snap.queue_position:
            st.info(queue_text(snap))
        else:
            st.info("Starting …")
        return
    st.progress(snap.fraction, text=progress_text(snap))
    if snap.phase and not snap.finished:  # what a long step is doing: a pass, a tile
        st.caption(f"Now: {snap.phase}")
    if snap.message:  # e.g. a cluster worker was lost and the run goes on, retried, elsewhere
        text.say("caption", snap.message)
    if snap.preview is not None:
        st.image(snap.preview, caption=f"Step {snap.preview_step} of {snap.total_steps}", width="stretch")
    else:
        st.caption("The first preview appears after the first step.")
    scales = snap.plan.scales if snap.plan is not None else ()
    starts = [sum(p.steps for p in scales[:k]) + 1 for k in range(1, len(scales))]
    loss_chart(snap.rows, height=CHART_HEIGHT, total_steps=snap.total_steps, starts=starts)
    st.caption("Changes to the settings apply to the next run.")


def stage(owner: str, content: Upload | None = None, styles: list[Upload] | None = None) -> None:
    """This browser's run, redrawn every POLL_SECONDS while it or its variant grid runs (a fragment);
    then its variant grid, if any, and its latest result. ``content`` and ``styles`` are what
    "Render full size" runs on."""
    polling = runs.running(owner) or browser_runs.grid_running(owner)
    st.fragment(_poll, run_every=POLL_SECONDS if polling else None)(owner, content, list(styles or ()))


def _poll(owner: str, content: Upload | None, styles: list[Upload]) -> None:
    if runs.ended(owner):  # a run ended (the shown one, or one a queued run follows): collect it, redraw
        runs.collect(owner)
        st.rerun()  # the whole page: buttons, the note about the ended run, the gallery's newest
    run = runs.active(owner)
    if run is not None:
        for live in runs.live_runs(owner):  # a queued run's page is this one too
            live.job.heartbeat()
        job_panel(run.job.snapshot())
        if runs.waiting(owner):
            st.caption(f"{runs.waiting(owner)} more run queued after this one.")
    variant_grid(owner, content, styles)
    if run is None:
        latest = results(owner)
        if latest:
            shown = latest[-1]
            # The photo it was made from must still be here: a larger run needs it at full size.
            same_photo = content is not None and content.name == shown.meta.get("content_name")
            if not same_photo:  # say why "Continue at 2×" is not offered, rather than drop it without a word
                text.say_markdown("caption", "Continue at 2× needs the photo this result was made from ({}):"
                                  " load it again to continue.", shown.meta.get("content_name") or "unknown")
            result_view(shown, refine=lambda: _refine(owner, content, styles),
                        larger=(lambda: _larger(owner, content, styles, shown)) if same_photo else None)
        elif browser_runs.grid(owner) is None:
            st.info("Your picture appears here: upload a photo and a painting, then press Start.")


def _refine(owner: str, content: Upload | None, styles: list[Upload]) -> None:
    """Refine the fast result shown: optimise from it with the form's settings, then redraw the whole
    page (Refine's callback: its button is in the stage's fragment, whose own rerun would not)."""
    try:
        runs.refine(owner, content, styles, state.session_settings(inputs.source_count(styles)))
    except SettingsError as exc:
        runs.say("error", str(exc))
    st.rerun()


def _larger(owner: str, content: Upload | None, styles: list[Upload], result: Result) -> None:
    """Continue the result shown at twice its size, then redraw the whole page (Continue at 2×'s
    callback, as :func:`_refine`)."""
    try:
        image = Image.open(result.stored.image_path).convert("RGB")
        runs.continue_larger(owner, content, styles, result.settings, image)
    except SettingsError as exc:
        runs.say("error", str(exc))
    st.rerun()
