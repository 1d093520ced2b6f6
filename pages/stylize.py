"""Stylize: upload a content and style images, tune the settings, watch the run, download the result."""

from __future__ import annotations

import streamlit as st

from nst import SettingsError
from studio import form, live, runs
from studio.charts import loss_chart
from studio.results import download_buttons
from studio.uploads import IMAGE_TYPES, Upload, read_upload, shown_width

POLL_SECONDS = 0.5

form.ensure_state()

st.title("Neural style transfer")
st.caption("Gatys et al.: an image optimised to keep one picture's content and take others' style.")

with st.sidebar:
    st.header("Settings")
    form.settings_form()

content_col, style_col = st.columns(2)
with content_col:
    content = read_upload(st.file_uploader("Content image", type=IMAGE_TYPES, key="content_file",
                                           help="The picture whose layout the result keeps."))
    if content is not None:
        st.image(content.thumb, caption=f"{content.name} · {content.image.width}×{content.image.height}")
with style_col:
    style_files = st.file_uploader("Style images", type=IMAGE_TYPES, accept_multiple_files=True, key="style_files",
                                   help="One or more paintings; with several, the blend weights mix them.")
    styles: list[Upload] = [u for u in map(read_upload, style_files or []) if u is not None]
    for index, upload in enumerate(styles):
        thumb, weight = st.columns([1, 2])
        thumb.image(upload.thumb, width=shown_width(upload.thumb, 96))
        if len(styles) > 1:  # a lone style's weight would be normalised to 1 anyway
            key = form.blend_key(index)
            st.session_state.setdefault(key, 1.0)
            weight.slider(f"Blend weight · {upload.name}", 0.0, max(1.0, float(st.session_state[key])), step=0.05,
                          key=key, help="Share of this style in the mix; weights are normalised to sum to 1.")
        else:
            weight.caption(upload.name)
    form.remember()

start_col, stop_col, _ = st.columns([1, 1, 4])
if start_col.button("Start", type="primary", width="stretch"):
    try:
        runs.start(content, styles, form.settings_from_widgets(len(styles)))
    except SettingsError as exc:
        runs.say("error", str(exc))
if stop_col.button("Stop", width="stretch"):
    runs.stop()

note = runs.message()
if note:
    getattr(st, note[0])(note[1])


@st.fragment(run_every=POLL_SECONDS if runs.running() else None)
def live_panel() -> None:
    """Polls the job: heartbeat, progress, preview and losses; once it ends, collects it and redraws."""
    run = runs.active()
    if run is None:
        return
    run.job.heartbeat()
    snap = run.job.snapshot()
    if snap.finished:
        runs.collect()
        st.rerun()  # the whole page redraws with the result
    live.job_panel(snap)


live_panel()

result = runs.latest()
if result is not None:
    st.subheader(f"Result #{result.number}" + (" (stopped early)" if result.stopped else ""))
    result_tab, compare_tab, losses_tab = st.tabs(["Result", "Before / after", "Losses"])
    with result_tab:
        st.image(result.image, caption="Result")
    with compare_tab:
        before, after = st.columns(2)
        before.image(result.content, caption="Before: content")
        after.image(result.image, caption="After: stylised")
    with losses_tab:
        loss_chart(result.rows)
        st.json({"final losses": result.losses, "seconds": round(result.elapsed, 2), "steps": result.step},
                expanded=False)
    download_buttons(result, key="latest")
