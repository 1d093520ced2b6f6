"""Stylize: upload a content and style images, tune the settings, watch the run, download the result."""

from __future__ import annotations

import streamlit as st

from nst.errors import SettingsError
from studio import form, runs, state
from studio.live import live_panel
from studio.results import result_view
from studio.uploads import IMAGE_TYPES, Upload, read_upload

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
    form.blend_sliders(styles)

start_col, stop_col, _ = st.columns([1, 1, 4])
if start_col.button("Start", type="primary", width="stretch"):
    try:
        runs.start(content, styles, state.session_settings(len(styles)))
    except SettingsError as exc:
        runs.say("error", str(exc))
if stop_col.button("Stop", width="stretch"):
    runs.stop()

note = runs.message()
if note:
    getattr(st, note[0])(note[1])

live_panel()

result = runs.latest()
if result is not None:
    result_view(result)
