"""Stylize: a photo and paintings in, the settings, the live run, the result out."""

from __future__ import annotations

import streamlit as st

from nst.core.errors import SettingsError
from nst.plan.preflight import size_fields
from studio.views import form, inputs, runs
from studio.services import painted_regions
from studio.session import draft as drafts, state, text
from studio.session.identity import browser_token
from studio.views.layout import ACTIONS_KEY, STAGE_KEY, stylize_layout
from studio.views.live import stage
from studio.views.region_editor import region_editor
from studio.views.variant_view import start_variants, variant_options


def _start(owner: str) -> None:
    """Start's callback: a run of the inputs and the form's settings as they are at the click."""
    state.ensure_state()  # as the script does first: a value the form cannot show is refused, not reset silently
    content, styles = inputs.chosen()
    try:
        settings = state.session_settings(inputs.source_count(styles))
        runs.start(owner, content, styles, settings)
    except SettingsError as exc:
        runs.say("error", str(exc), fields=exc.problems)
        return
    if settings.method == "fast":  # a fast result takes about a second: wait for it here, not for the next poll
        runs.wait(owner, seconds=5.0)


owner = browser_token()
runs.collect(owner)
state.ensure_state()

stylize_layout()
inputs_column, stage_column = st.columns([2, 3], gap="medium")
with inputs_column:
    st.markdown("#### Neural style transfer")
    inputs.method_picker()
    content_column, style_column = st.columns(2)  # side by side: the Start button stays in view
    # Start, Stop and the run's note right under the uploaders, above the previews (studio.views.layout
    # keeps them on screen whatever grows above them), then the previews.
    actions, previews = st.container(key=ACTIONS_KEY), st.container()
with content_column:
    content = inputs.content_input()
with style_column:
    styles = inputs.style_input()
with previews:
    inputs.content_preview(content)
    form.blend_sliders(styles, inputs.builtins())

# The run the form describes, worked out once for this rerun and passed to all that shows it.
draft = drafts.draft(st.session_state, content, styles, inputs.source_count(styles))
with st.sidebar:
    st.header("Settings")
    form.settings_form(draft, content.image.size if content is not None else drafts.NO_CONTENT,
                       inputs.style_sizes(styles))

with previews:
    if content is not None and draft.check is not None:
        for field in size_fields(draft.check.problems):
            text.say("warning", draft.check.problems[field])
with actions:
    start_col, stop_col = st.columns(2)
    busy = runs.busy(owner)
    # Start, Stop and Variants are callbacks: see studio.views.runs on the race they close.
    start_col.button("Queue another" if busy else "Start", key="start", type="primary", width="stretch",
                     help="Runs the current settings after the run in progress." if busy else None,
                     on_click=_start, args=(owner,))
    # "Stopping…" from the click's own rerun until the run has ended (within a layer, nst.core.progress).
    stopping = runs.stopping(owner)
    stop_col.button("Stopping…" if stopping else "Stop", key="stop", width="stretch",
                    disabled=stopping or not runs.running(owner), on_click=runs.stop, args=(owner,))
with inputs_column:
    regions_col, variants_col = st.columns(2)
    variants_col.button("Variants", key="variants", width="stretch", icon=":material/grid_view:",
                        help="Quick small runs of these settings with the style weight ×¼, ×1, ×4 (and seeds or"
                             " colour modes): click the one you like to use its settings.",
                        on_click=start_variants, args=(owner,))
    with actions:  # the run's note under Start and Stop, drawn after every button that may set it
        note = runs.message(draft.problems)
        if note:
            text.say(*note)
    region_editor(content, styles, button=regions_col)
    unused = painted_regions.unused_note(state.raw_settings(st.session_state, inputs.source_count(styles)))
    if unused:
        st.caption(unused)
    variant_options()

with stage_column, st.container(key=STAGE_KEY):
    stage(owner, content, styles)
