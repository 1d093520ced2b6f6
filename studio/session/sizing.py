"""What a size costs before Start: the memory plan beside the size widget, and a warning when the
run will be slow on this device ("≈ 12 min on this CPU").

Nothing is computed here: the plan is the run's preflight's (:func:`run_check`: the engine's own
plan, so the figure shown is the one the run keeps to) and the time :func:`nst.plan.estimate.estimate_seconds` at
the device's measured step cost.
"""

from __future__ import annotations

from typing import Sequence

import streamlit as st

from nst.plan.budget import FastPlan, RunPlan, plan_run
from nst.plan.device import resolve_device
from nst.plan.preflight import BUDGET, Preflight, preflight
from nst.core.errors import NSTError
from nst.plan.estimate import estimate_seconds
from nst.core.settings import Settings, format_bytes
from studio.session import text
from studio.services.labels import labelled
from studio.services.policy import policy
from studio.session.resources import measured_step_cost
from studio.services.timefmt import duration

SLOW_SECONDS = 120.0  # a run this long gets a warning before it starts


def size_notes(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
               check: Preflight) -> None:
    """Under the size widget: the run's estimated peak memory against its budget (and whether its
    top scales run in tiles), or why it cannot fit (both from ``check``, the run's preflight); then
    a warning when it will take long here."""
    if settings.method == "fast":
        _fast_note(check)
        return
    if policy().cluster is not None and settings.max_memory is None:
        st.caption("Memory: planned by the cluster worker that takes the run, within its own free memory.")
        return
    plan, refusal = _plan(check)
    if refusal:
        text.say("error", refusal)
    if not isinstance(plan, RunPlan):
        return
    tiled = sum(scale.tiled for scale in plan.scales)
    how = f" · the top {'scale runs' if tiled == 1 else f'{tiled} scales run'} in tiles" if tiled else ""
    if plan.resident > plan.peak:  # room to spare: freed memory the allocator keeps is not handed back at once
        how += f" · up to {format_bytes(plan.resident)}B with the allocator's reserve"
    st.caption(f"Memory ≈ {format_bytes(plan.peak)}B of the {format_bytes(plan.budget)}B budget{how}",
               help="Estimated from the layer shapes before the run: its images, VGG19's activations, the"
                    " optimiser's state. Scales that would need more than the budget run in overlapping tiles"
                    " (the same result, about twice the time per step). Where the budget leaves room, freed"
                    " memory is handed back to the system later, so the server may hold up to the second figure;"
                    " it stays within the budget either way. Set the budget under Advanced.")
    seconds = run_seconds(settings, content_size, style_sizes, plan)
    if seconds is None:
        return
    too_long = policy().run_refusal(seconds)
    if too_long:  # Start refuses it with the same sentence (studio.views.runs.refusal)
        text.say("error", too_long)
    elif seconds >= SLOW_SECONDS:
        where = "GPU" if resolve_device(settings.device).type != "cpu" else "CPU"
        st.warning(f"≈ {duration(seconds)} on this {where} for {settings.steps} steps. Fewer steps, a smaller size"
                   " or Continue at 2× on a smaller result is quicker.")


def _fast_note(check: Preflight) -> None:
    """The fast method's plan: its peak against the budget, and the size it paints at where the
    output's would not fit (the engine enlarges it), or why it cannot fit."""
    plan, refusal = _plan(check)
    if refusal:
        text.say("error", refusal)
    if not isinstance(plan, FastPlan):
        return
    how = f" · painted at {plan.painted[1]}×{plan.painted[0]} and enlarged" if plan.enlarged else ""
    st.caption(f"Memory ≈ {format_bytes(plan.peak)}B of the {format_bytes(plan.budget)}B budget{how}",
               help="The network's painting takes about 200 bytes a pixel: where the output's would not fit the"
                    " budget, it paints at the largest size that does and the result is enlarged to the output.")


def run_check(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]] = (),
              labels: Sequence[str] | None = None, start: tuple[int, int] | None = None) -> Preflight:
    """The run's preflight (:func:`nst.plan.preflight.preflight`) on this server: its memory planned
    here, unless a cluster's worker plans it (no budget of its own is set)."""
    planned = policy().cluster is None or settings.max_memory is not None
    return preflight(settings, content_size, style_sizes, labels=labels, start=start, plan=planned)


def _plan(check: Preflight) -> tuple[RunPlan | FastPlan | None, str | None]:
    """(the run's memory plan, None), or (None, why it cannot fit its budget, in the controls'
    labels: the engine names max_memory); (None, None) where this server does not plan it."""
    refusal = check.problems.get(BUDGET)
    return check.plan, labelled(refusal) if refusal else None


def run_seconds(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
                plan: RunPlan | None = None) -> float | None:
    """The run's time on its device by its plan at the device's measured step cost; None for the
    fast method (a second), a cluster's run, a run that cannot fit, or before the device is timed."""
    if settings.method == "fast":
        return None
    cost = measured_step_cost(settings.device)
    if cost is None:
        return None
    try:
        return estimate_seconds(settings, content_size, cost, style_sizes, plan or plan_run(settings, content_size,
                                                                                           style_sizes))
    except NSTError:
        return None
