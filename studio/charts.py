"""The per-step loss chart: every weighted term (content, style, TV, total) on a log axis."""

from __future__ import annotations

from typing import Any

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


def loss_chart(rows: list[dict[str, float]], height: int = 260) -> None:
    """Draw the chart (or a note when there is nothing to plot yet)."""
    points = loss_points(rows)
    if not points:
        st.caption("The loss chart appears after the first step.")
        return
    spec = {
        "data": {"values": points},
        "mark": {"type": "line", "interpolate": "monotone"},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "step"},
            "y": {"field": "loss", "type": "quantitative", "scale": {"type": "log"}, "title": "loss (log scale)"},
            "color": {"field": "term", "type": "nominal", "title": None,
                      "sort": [TERM_LABELS[t] for t in LOSS_TERMS]},
            "tooltip": [{"field": "term"}, {"field": "step"}, {"field": "loss", "format": ".4g"}],
        },
        "height": height,
    }
    st.vega_lite_chart(spec=spec, width="stretch")
