"""Comparing two results: same-size views, a before/after slider, and the settings that differ."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from nst.io.images import to_image
from studio.session.results import Result
from studio.services.literal import literal


def differing_settings(a: Result, b: Result) -> list[dict[str, str]]:
    """One row per setting whose value differs between the two results."""
    left, right = a.settings.to_dict(), b.settings.to_dict()
    return [{"setting": name, f"#{a.number}": str(left[name]), f"#{b.number}": str(right[name])}
            for name in left if left[name] != right[name]]


def blend(a: np.ndarray, b: np.ndarray, share: float) -> Image.Image:
    """``b`` over ``a`` at ``share`` (0: all a, 1: all b), both shown at a's size."""
    first = to_image(a)
    second = to_image(b).resize(first.size, Image.Resampling.LANCZOS)
    return Image.blend(first, second, share)


def compare_view(found: list[Result]) -> None:
    """Pick two results (the newest two by default) and compare them."""
    titles = {r.number: r.title for r in found}
    numbers = list(titles)
    pick_a, pick_b = st.columns(2)
    a_number = pick_a.selectbox("Result A", numbers, index=len(numbers) - 2, key="compare_a", format_func=titles.get)
    b_number = pick_b.selectbox("Result B", numbers, index=len(numbers) - 1, key="compare_b", format_func=titles.get)
    a = next(r for r in found if r.number == a_number)
    b = next(r for r in found if r.number == b_number)
    side_by_side, slider = st.tabs(["Side by side", "Slider"])
    with side_by_side:
        left, right = st.columns(2)
        left.image(a.image, caption=literal(a.title), width="stretch")
        right.image(to_image(b.image).resize(to_image(a.image).size, Image.Resampling.LANCZOS),
                    caption=literal(b.title), width="stretch")  # same size, so details line up
    with slider:
        share = st.slider(f"#{a.number} ← → #{b.number}", 0.0, 1.0, 0.5, 0.05, key="compare_share")
        st.image(blend(a.image, b.image, share), width="stretch")
    rows = differing_settings(a, b)
    if rows:
        st.caption("Settings that differ")
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("Both were made with the same settings.")
