"""The stage's result: the image, before/after, the loss curve, the post-run controls and the downloads.

The post-run controls (:mod:`nst.io.adjust`) do not re-optimise: a strength slider blends the result
back towards the photo in RGB, and the colour control keeps the photo's colours (luminance
transfer) or matches its colour statistics. The picture on the page is adjusted at display size
by an :class:`~nst.io.adjust.Adjuster` prepared once per result and kept in the session, so a change costs
milliseconds whatever the result's size; the downloads adjust the full-size image when clicked.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np
import streamlit as st
from PIL import Image

from nst.io.adjust import ADJUST_RULES, RECOLOR_MODES, Adjuster, Adjustments
from nst.core.settings import CONTINUE_STEPS, MAX_SIZE
from studio.views.charts import loss_chart
from studio.session.memo import session_memo
from studio.session.results import Result, download_buttons

DISPLAY_SIDE = 1024  # px: the adjusted picture on the page (the stage is narrower than this)
KEPT_ADJUSTERS = 3  # results a session keeps prepared for its controls
RECOLOR_LABELS = {"none": "Off", "luminance": "Keep the photo's colours", "histogram": "Match the photo's colour"
                  " statistics"}


def strength_key(number: int) -> str:
    return f"adjust_strength_{number}"


def recolor_key(number: int) -> str:
    return f"adjust_recolor_{number}"


def adjustments_from(values: Mapping[str, Any], number: int) -> Adjustments:
    """The post-run controls of result ``number`` as the widget ``values`` hold them (none: identity)."""
    return Adjustments(mix=float(values.get(strength_key(number), 1.0)),
                       recolor=values.get(recolor_key(number), "none"))


def display_adjuster(image_path: str, content_path: str) -> Adjuster:
    """A stored result and its photo at display size, prepared once per result and session (keyed by
    the file's path and modification time: a store made again at the same paths is not taken for the
    old one)."""
    key = (image_path, content_path, os.stat(image_path).st_mtime_ns)
    return session_memo("display", key, lambda: _display_adjuster(image_path, content_path), KEPT_ADJUSTERS)


def _display_adjuster(image_path: str, content_path: str) -> Adjuster:
    image = Image.open(image_path).convert("RGB")
    if max(image.size) > DISPLAY_SIDE:
        image.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)
    return Adjuster(np.asarray(image), Image.open(content_path).convert("RGB"))


def preset_controls(number: int, adjustments: Adjustments) -> None:
    """Start result ``number``'s controls at ``adjustments`` (a loaded recipe's), unless this
    session has drawn them already."""
    if strength_key(number) not in st.session_state:
        st.session_state[strength_key(number)] = adjustments.mix
        st.session_state[recolor_key(number)] = adjustments.recolor


def adjust_controls(result: Result) -> Adjustments:
    """The strength slider and the colour choice of one result; returns what they are set to."""
    strength, recolor = ADJUST_RULES["mix"], ADJUST_RULES["recolor"]
    # Their starting values live in the session state (not the widgets' defaults), which a
    # loaded recipe's adjustments may have set first (preset_controls).
    st.session_state.setdefault(strength_key(result.number), 1.0)
    st.session_state.setdefault(recolor_key(result.number), "none")
    left, right = st.columns(2)
    left.slider("Strength", float(strength.low), float(strength.high), step=0.05, key=strength_key(result.number),
                help=strength.help + " 1: the result as it came out; 0: the photo.")
    right.selectbox("Colour", RECOLOR_MODES, key=recolor_key(result.number), format_func=RECOLOR_LABELS.get,
                    help=recolor.help)
    return adjustments_from(st.session_state, result.number)


def result_view(result: Result, refine: Callable[[], None] | None = None,
                larger: Callable[[], None] | None = None) -> None:
    """A result: the (adjusted) image, before/after, its loss curve, the post-run controls and every
    download; on a fast result, ``refine`` (when given) behind a Refine button; ``larger`` (when
    given) behind Continue at 2×. Both are the buttons' callbacks: they run before the script does, and
redraw the page themselves."""
    st.markdown(f"**Result #{result.number}** · {result.state}")
    show_refine = refine is not None and result.settings.method == "fast"
    # The buttons in a row of their own under the title: beside it, at 1280 px, their labels were cut.
    columns = iter(st.columns(2))
    if show_refine:  # a callback (studio.views.runs says why)
        next(columns).button(
            "Refine", key=f"refine-{result.number}", icon=":material/auto_fix_high:", width="stretch",
            help="Optimise from this fast result (VGG19, the current settings): more of the painting's texture.",
            on_click=refine)
    if larger is not None:
        doubled = 2 * result.settings.size
        next(columns).button(
            "Continue at 2×", key=f"larger-{result.number}", icon=":material/zoom_out_map:", width="stretch",
            disabled=doubled > MAX_SIZE, on_click=larger,
            help=f"Refine this result at {doubled} px, starting from it upscaled: {CONTINUE_STEPS} steps at"
                 " that size only, with this result's settings." if doubled <= MAX_SIZE else
            f"{doubled} px would be over the largest size, {MAX_SIZE} px.")
    result_tab, compare_tab, losses_tab = st.tabs(["Result", "Before / after", "Losses"])
    adjustments = adjust_controls(result)  # under the tabs, and drawn before the pictures that use it
    picture = display_adjuster(str(result.stored.image_path), str(result.stored.content_path))(adjustments)
    caption = "Result" if adjustments.identity else \
        f"Result · strength {adjustments.mix:g} · colour {RECOLOR_LABELS[adjustments.recolor].lower()}"
    with result_tab:
        st.image(picture, caption=caption, width="stretch")
    with compare_tab:
        before, after = st.columns(2)
        before.image(result.content, caption="Before: content", width="stretch")
        after.image(picture, caption="After: stylised", width="stretch")
    with losses_tab:
        if result.rows:
            loss_chart(result.rows)
        elif result.settings.method == "fast":
            st.caption("The fast method paints in one pass of its network: it has no steps, so there are no losses"
                       " to chart.")
        else:
            st.caption("This run stopped before its first step ended, so it has no losses to chart.")
    download_buttons(result, key=f"latest-{result.number}", adjustments=adjustments)
