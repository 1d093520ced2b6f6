"""What a size costs before Start: the memory plan beside the size widget, and a warning when the
run will be slow on this device ("≈ 12 min on this CPU").

Nothing is computed here: the plan is :func:`nst.budget.plan_run` (the engine's own, so the
figure shown is the one the run keeps to) and the time :func:`nst.estimate.estimate_seconds` at
the device's measured step cost.
"""

from __future__ import annotations

from typing import Sequence

import streamlit as st

from nst.budget import plan_run
from nst.device import resolve_device
from nst.errors import BudgetError, NSTError
from nst.estimate import estimate_seconds
from nst.settings import Settings, format_bytes
from studio.policy import policy
from studio.resources import measured_step_cost
from studio.timefmt import duration

SLOW_SECONDS = 120.0  # a run this long gets a warning before it starts


def size_notes(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]]) -> None:
    """Under the size widget: the run's estimated peak memory against its budget (and whether its
    top scales run in tiles), or why it cannot fit; then a warning when it will take long here."""
    if settings.method == "fast":
        return  # one pass of a small network: no optimiser state, no plan
    if policy().cluster is not None and settings.max_memory is None:
        st.caption("Memory: planned by the cluster worker that takes the run, within its own free memory.")
        return
    try:
        plan = plan_run(settings, content_size, style_sizes)
    except BudgetError as exc:
        st.error(str(exc))
        return
    except NSTError:
        return  # the form marks invalid settings itself
    tiled = sum(scale.tiled for scale in plan.scales)
    how = f" · the top {'scale runs' if tiled == 1 else f'{tiled} scales run'} in tiles" if tiled else ""
    st.caption(f"Memory ≈ {format_bytes(plan.peak)}B of the {format_bytes(plan.budget)}B budget{how}",
               help="Estimated from the layer shapes before the run: its images, VGG19's activations, the"
                    " optimiser's state. Scales that would need more than the budget run in overlapping tiles"
                    " (the same result, about twice the time per step). Set the budget under Advanced.")
    cost = measured_step_cost(settings.device)
    if cost is None:
        return
    seconds = estimate_seconds(settings, content_size, cost, style_sizes, plan)
    if seconds >= SLOW_SECONDS:
        where = "GPU" if resolve_device(settings.device).type != "cpu" else "CPU"
        st.warning(f"≈ {duration(seconds)} on this {where} for {settings.steps} steps. Fewer steps, a smaller size"
                   " or Continue at 2× on a smaller result is quicker.")
