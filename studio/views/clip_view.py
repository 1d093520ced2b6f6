"""A clip result: played in the page, downloaded as MP4 or GIF with its recipe, summed up in a line."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from studio.services.timefmt import duration
from studio.session.clip_results import clip_bytes, clip_recipe_json
from studio.session.results import Result

FLICKER_NOTE = ("Flicker per frame: the mean change from the previous styled frame moved along the input's"
                " motion, on the pixels the motion is sure of (a share of the full range). Lower is steadier;"
                " gaps are the first frame and scene cuts.")


def flicker_chart(flicker: list[float | None] | tuple[float | None, ...], height: int = 150) -> None:
    """A small line chart of the flicker per frame (a caption until two frames are known)."""
    if sum(value is not None for value in flicker) < 1:
        st.caption("The flicker chart starts at the second frame.")
        return
    data = pd.DataFrame({"frame": range(1, len(flicker) + 1),
                         "flicker": [math.nan if value is None else value for value in flicker]})
    st.line_chart(data, x="frame", y="flicker", height=height, x_label="frame", y_label="flicker")
    st.caption(FLICKER_NOTE)


def clip_player(result: Result, width: int | str = "stretch") -> None:
    """The clip in the page: a <video> of the MP4 itself (Debian's Chromium decodes its H.264:
    tests/e2e/test_video_page.py), a GIF as a picture."""
    path = result.clip_path
    assert path is not None
    if path.suffix.lower() == ".gif":
        st.image(str(path), width=width)
    else:
        st.video(str(path), format="video/mp4", width=width)


def clip_summary(result: Result) -> str:
    """'512 px · consistency 0.5 · 9.1 s · 5.3 frames/s · H.264 (libx264), sound copied' (the title
    says how many frames)."""
    meta = result.meta
    parts = [f"{result.settings.size} px", f"consistency {meta.get('consistency', '?')}",
             duration(meta["elapsed"])]
    if meta.get("fps"):
        parts.append(f"{meta['fps']:.1f} frames/s")
    codec = meta.get("codec")
    if codec:
        sound = meta.get("sound")
        parts.append(f"{'H.264 (libx264)' if codec == 'libx264' else codec}, "
                     + (f"sound {sound}" if sound else "no sound"))
    return " · ".join(parts)


def clip_downloads(result: Result, key: str) -> None:
    """MP4, GIF and the recipe JSON; a format the clip was not made in is converted when clicked."""
    made = result.clip_path.suffix.lower() if result.clip_path is not None else ".mp4"
    files = [
        ("Download MP4", lambda: clip_bytes(result, ".mp4"), ".mp4", "video/mp4",
         "H.264 with the input's sound; the recipe is in the file's comment tag." +
         (" Converted from the GIF when clicked." if made != ".mp4" else "")),
        ("Download GIF", lambda: clip_bytes(result, ".gif"), ".gif", "image/gif",
         "An animated GIF (no sound; 256 colours a frame)." +
         (" Converted from the MP4 when clicked." if made != ".gif" else "")),
        ("Download recipe (JSON)", lambda: clip_recipe_json(result), ".json", "application/json",
         "The settings the clip was made with, as the sidecar JSON beside it holds them."),
    ]
    with st.container(horizontal=True):
        for label, data, suffix, mime, help in files:
            st.download_button(label, data, file_name=f"{result.stem}{suffix}", mime=mime, help=help,
                               key=f"{key}{suffix}", on_click="ignore")
