"""Video: a clip and a style in, the first frame styled at once, the clip styled live, the result out."""

from __future__ import annotations

import streamlit as st

from studio.services import clip_jobs
from studio.session import state
from studio.session.identity import browser_token
from studio.views import clip_inputs, clip_live, inputs


def _start(owner: str) -> None:
    """Start's callback: the clip and settings as the widgets hold them at the click."""
    chosen = clip_inputs.chosen(inputs.builtins())
    clip = chosen.clip
    clip_live.start(owner, clip.path if clip else None, clip.name if clip else "", inputs.chosen()[1],
                    chosen.settings, chosen.problem, chosen.options, chosen.suffix)


owner = browser_token()
state.ensure_state()  # the style library's built-in styles are the Stylize form's setting

inputs_column, stage_column = st.columns([2, 3], gap="medium")
with inputs_column:
    st.markdown("#### Video")
    clip = clip_inputs.clip_input(owner)
    clip_inputs.method_picker()
    styles = inputs.style_input()
    clip_inputs.clip_settings(clip)
    start_col, stop_col = st.columns(2)
    running = clip_jobs.running(owner)
    run = clip_jobs.current(owner)
    start_col.button("Start", key="video_start", type="primary", width="stretch", disabled=running,
                     on_click=_start, args=(owner,))
    stopping = run is not None and run.job.stopping
    stop_col.button("Stopping…" if stopping else "Stop", key="video_stop", width="stretch",
                    disabled=stopping or not running, on_click=clip_live.stop, args=(owner,),
                    help="Ends after the frame being styled; the frames done are kept as a shorter clip.")
    chosen = clip_inputs.chosen(inputs.builtins())
    if chosen.settings is None:
        st.error(chosen.problem)
    clip_live.note(clip_live.inputs_key(clip.path if clip else None, styles, chosen.settings, chosen.options,
                                        chosen.suffix))

with stage_column:
    if not running:
        clip_inputs.first_frame_preview(clip, styles, chosen.settings, chosen.options)
    clip_live.clip_stage(owner)
