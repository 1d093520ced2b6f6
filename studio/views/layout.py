"""The Stylize page's loop on one 1280×720 screen: Start, Stop and the run's note always in reach,
the live stage in view while a run goes, no text cut short (issue 22).

The page puts Start and Stop in a container keyed ``actions`` right under the uploaders, above the
previews, and the stage in one keyed ``stage``; this style keeps the actions stuck to the bottom of
the screen when the inputs above them grow (kept uploads, several styles, long messages), and the
stage's column stuck to the top while a run's progress line shows, so a scrolled inputs column never
carries the live picture out of view.
"""

from __future__ import annotations

import streamlit as st

ACTIONS_KEY = "actions"
STAGE_KEY = "stage"

_CSS = """<style>
.st-key-{actions} {{ position: sticky; bottom: 0; z-index: 3; background: {background}; padding: 0.4rem 0; }}
[data-testid="stColumn"]:has(.st-key-{stage} [data-testid="stProgress"]) {{
  position: sticky; top: 1rem; align-self: flex-start; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ white-space: normal; }}
</style>"""


def stylize_layout() -> None:
    """The page's style (drawn once per run; it takes no room)."""
    background = st.get_option("theme.backgroundColor") or "white"
    st.html(_CSS.format(actions=ACTIONS_KEY, stage=STAGE_KEY, background=background))
