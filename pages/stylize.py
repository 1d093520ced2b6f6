"""Stylize: upload a photo and paintings, tune the settings, watch the run, download the result."""

from __future__ import annotations

import streamlit as st

from nst.errors import SettingsError
from nst.images import fit_problems
from studio import form, runs, state
from studio.identity import browser_token
from studio.live import stage
from studio.region_editor import region_editor
from studio.uploads import kept_uploads, shown_width
from studio.variant_view import start_variants, variant_options

owner = browser_token()
runs.collect(owner)

inputs, stage_column = st.columns([2, 3], gap="medium")
with inputs:
    st.markdown("#### Neural style transfer")
    content_column, style_column = st.columns(2)  # side by side: the Start button stays in view
with content_column:
    contents = kept_uploads("Content image", "content_file", help="The picture whose layout the result keeps.",
                            stale=runs.NOTES)
    content = contents[0] if contents else None
    if content is not None:
        st.image(content.thumb, caption=f"{content.name} · {content.image.width}×{content.image.height}",
                 width=shown_width(content.thumb, 140))
with style_column:
    styles = kept_uploads("Style images", "style_files", multiple=True, stale=runs.NOTES,
                          help="One or more paintings; with several, the blend weights mix them.")
with inputs:
    form.blend_sliders(styles)

with st.sidebar:
    st.header("Settings")
    form.settings_form(content.image.size if content is not None else (4, 3))

with inputs:
    size, style_scale = st.session_state[state.KEY["size"]], st.session_state[state.KEY["style_scale"]]
    if content is not None and not state.problems(st.session_state):
        for problem in fit_problems(content.image.size, [s.image.size for s in styles], size, style_scale,
                                    labels=[content.name, *(s.name for s in styles)]):
            st.warning(problem)
    start_col, stop_col = st.columns(2)
    busy = runs.busy(owner)
    if start_col.button("Queue another" if busy else "Start", key="start", type="primary", width="stretch",
                        help="Runs the current settings after the run in progress." if busy else None):
        try:
            runs.start(owner, content, styles, state.session_settings(len(styles)))
        except SettingsError as exc:
            runs.say("error", str(exc))
    if stop_col.button("Stop", key="stop", width="stretch", disabled=not runs.running(owner)):
        runs.stop(owner)
    regions_col, variants_col = st.columns(2)
    if variants_col.button("Variants", key="variants", width="stretch", icon=":material/grid_view:",
                           help="Quick small runs of these settings with the style weight ×¼, ×1, ×4 (and seeds or"
                                " colour modes): click the one you like to use its settings."):
        start_variants(owner, content, styles)
    note = runs.message()
    if note:
        getattr(st, note[0])(note[1])
    region_editor(content, styles, button=regions_col)
    variant_options()

with stage_column:
    stage(owner, content, styles)
