"""Durations in words for the pages."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """'—', '8.2 s', '3 min 05 s' or '1 h 02 min'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
