"""The per-step loss chart: every weighted term (content, style, TV, total) on a log axis."""

from __future__ import annotations

from typing import Any, Sequence

import streamlit as st

from nst.records import LOSS_TERMS

MAX_POINTS = 600  # per term; longer runs are thinned evenly (the last step is always kept)
TERM_LABELS = {"content": "content (α·Lc)", "style": "style (β·Ls)", "tv": "TV (γ·Ltv)", "total": "total"}


def loss_points(rows: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Long-form chart data; values <= 0 (e.g. a switched-off term) cannot sit on a log axis."""
    stride = max(1, -(-len(rows) // MAX_POINTS))
    picked = rows[::stride] + ([rows[-1]] if rows and (len(rows) - 1) % stride else [])
    return [{"step": int(row["step"]), "term": TERM_LABELS[term], "loss": row[term]}
            for row in picked for term in LOSS_TERMS if row.get(term, 0) > 0]


def scale_starts(rows: list[dict[str, float]]) -> list[int]:
    """The steps at which a new scale began (where the losses jump as the image grows)."""
    return [int(b["step"]) for a, b in zip(rows, rows[1:]) if b["scale"] != a["scale"]]


def loss_chart(rows: list[dict[str, float]], height: int = 260, total_steps: int | None = None,
               starts: Sequence[int] = ()) -> None:
    """Draw the chart (or a note when there is nothing to plot yet). ``total_steps`` fixes the x axis
    so it does not rescale as the run goes; ``starts`` marks where each later scale begins."""
    points = loss_points(rows)
    if not points:
        st.caption("The loss chart appears after the first step.")
        return
    x: dict[str, Any] = {"field": "step", "type": "quantitative", "title": "step"}
    if total_steps:
        x["scale"] = {"domain": [1, total_steps]}
    lines = {
        "data": {"values": points},
        "mark": {"type": "line", "interpolate": "monotone"},
        "encoding": {
            "x": x,
            # Short axis labels (30M, not 30,000,000) and the legend in one row on top: at the live
            # panel's 190 px a bottom legend left a 53 px plot, shorter than the axis title.
            "y": {"field": "loss", "type": "quantitative", "scale": {"type": "log"}, "title": "loss (log)",
                  "axis": {"format": "~s"}},
            "color": {"field": "term", "type": "nominal", "title": None, "legend": {"orient": "top"},
                      "sort": [TERM_LABELS[t] for t in LOSS_TERMS]},
            "tooltip": [{"field": "term"}, {"field": "step"}, {"field": "loss", "format": ".4g"}],
        },
    }
    layers = [lines]
    if starts:
        layers.append({
            "data": {"values": [{"step": s, "label": "new scale"} for s in starts]},
            "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#8a7f72"},
            "encoding": {"x": {"field": "step", "type": "quantitative"},
                         "tooltip": [{"field": "label"}, {"field": "step"}]},
        })
    # The padding holds the rotated axis title's whole line box (vega places it by the glyphs' ink).
    padding = {"left": 6, "top": 6, "right": 6, "bottom": 6}
    st.vega_lite_chart(spec={"layer": layers, "height": height, "padding": padding}, width="stretch")
