"""How long a run takes: its plan's steps at the device's step cost, before Start and while it runs.

A step costs a fixed part (launches, the optimiser's bookkeeping, Python) plus a part that grows
with the pixels it computes (the convolutions). Both are measured once per device and precision by
two short real runs at different sizes (:mod:`nst.run.calibrate`). A scale the memory plan tiles
(:mod:`nst.plan.budget`) computes more pixels per step: its tiles with their halos, and the tiled
loss's pass without gradients; the plan carries those grids.

One model gives the estimate before Start and the live ETA: the plan's seconds for the steps still
to come, scaled by the pace of the steps timed so far (measured over planned seconds), so that
before any step is timed the ETA is the estimate itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from nst.core.errors import BudgetError
from nst.core.settings import Settings
from nst.plan.budget import RunPlan, ScaleBudget, plan_run
from nst.plan.schedule import ScalePlan, scale_plan

# A pass without gradients costs about a third of a step's pass per pixel (the backward is about
# twice the forward); a tiled step adds one over the image for the tiled loss.
FORWARD_SHARE = 1 / 3
PACE_WINDOW = 20  # timed steps the pace is measured over: recent enough to follow a change of load


@dataclass(frozen=True)
class StepCost:
    """Seconds per optimiser step: ``fixed`` + ``per_megapixel`` × megapixels."""

    fixed: float
    per_megapixel: float

    def seconds(self, pixels: int) -> float:
        return self.fixed + self.per_megapixel * pixels / 1e6


# Without a measured cost (the CLI; a cluster's worker, which this machine cannot time) steps are
# weighed by the pixels they compute alone, and the measured pace turns that into seconds.
PIXELS_ONLY = StepCost(fixed=0.0, per_megapixel=1.0)


def step_seconds(scale: ScalePlan, cost: StepCost) -> float:
    """Seconds one step of ``scale`` takes at ``cost``: a tiled scale's tiles with their halos and
    its pass without gradients (from the grids its plan carries), else the scale's pixels."""
    if isinstance(scale, ScaleBudget) and scale.grid is not None:
        return cost.seconds(scale.grid.pixels + round(FORWARD_SHARE * scale.forward.pixels))
    return cost.seconds(scale.pixels)


def planned_steps(plan: RunPlan, cost: StepCost | None) -> list[float]:
    """The planned seconds of each step of the run, in order (at PIXELS_ONLY without a cost)."""
    cost = cost if cost is not None else PIXELS_ONLY
    return [seconds for scale in plan.scales for seconds in [step_seconds(scale, cost)] * scale.steps]


def estimate_seconds(settings: Settings, content_size: tuple[int, int], cost: StepCost,
                     style_sizes: Sequence[tuple[int, int]] = (), plan: RunPlan | None = None) -> float:
    """Seconds the steps of a run of ``settings`` on content of ``content_size`` (width, height) and
    styles of ``style_sizes`` take at ``cost`` (model loading aside), by the memory plan (``plan``,
    when the caller has it already; a run that cannot fit is timed untiled, as if it did): what
    :func:`remaining_seconds` says before the first step."""
    if plan is None:
        try:
            plan = plan_run(settings, content_size, style_sizes)
        except BudgetError:
            return sum(p.steps * step_seconds(p, cost) for p in scale_plan(settings, content_size))
    return sum(planned_steps(plan, cost))


def remaining_seconds(plan: RunPlan, rows: Sequence[Mapping[str, float]], step: int,
                      cost: StepCost | None = None) -> float | None:
    """Seconds left in a run of ``plan`` after ``step`` steps, given its loss rows so far (``step``,
    ``scale``, ``elapsed_s``): the planned seconds of the steps to come at ``cost``, times the pace
    (measured over planned seconds) of the last PACE_WINDOW steps timed. With no step timed yet the
    pace is 1: the plan's own figure. Without ``cost``, steps are weighed by their pixels and there
    is no figure (None) until a step is timed."""
    planned = planned_steps(plan, cost)
    pace = _pace(planned, rows)
    if pace is None:
        return None if cost is None else sum(planned[step:])
    return pace * sum(planned[step:])


def _pace(planned: Sequence[float], rows: Sequence[Mapping[str, float]]) -> float | None:
    """Measured over planned seconds of the last PACE_WINDOW steps timed (a step is timed from the
    record before it at the same scale: a scale's first step also builds its targets); None before
    any is."""
    measured = expected = 0.0
    timed = 0
    for index in range(len(rows) - 1, 0, -1):  # newest first
        if timed == PACE_WINDOW:
            break
        before, row = rows[index - 1], rows[index]
        if row["scale"] != before["scale"] or row["step"] != before["step"] + 1 or row["step"] > len(planned):
            continue
        measured += row["elapsed_s"] - before["elapsed_s"]
        expected += planned[int(row["step"]) - 1]
        timed += 1
    return measured / expected if timed and measured > 0 and expected > 0 else None
