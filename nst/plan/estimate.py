"""How long a run will take on a device: each scale's steps at this device's step cost.

A step costs a fixed part (launches, the optimiser's bookkeeping, Python) plus a part that grows
with the pixel count (the convolutions). Both are measured once per device and precision by two
short real runs at different sizes (:mod:`nst.run.calibrate`). A scale the memory budget tiles (:mod:`nst.plan.budget`) computes
more pixels per step: its tiles with their halos, and the tiled loss's pass without gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from nst.plan.budget import RunPlan, plan_run
from nst.core.errors import BudgetError
from nst.plan.schedule import ScalePlan, scale_plan
from nst.core.settings import Settings
from nst.model.tiles import make_grid

# A pass without gradients costs about a third of a step's pass per pixel (the backward is about
# twice the forward); a tiled step adds one over the image for the tiled loss.
FORWARD_SHARE = 1 / 3


@dataclass(frozen=True)
class StepCost:
    """Seconds per optimiser step: ``fixed`` + ``per_megapixel`` × megapixels."""

    fixed: float
    per_megapixel: float

    def seconds(self, pixels: int) -> float:
        return self.fixed + self.per_megapixel * pixels / 1e6


def estimate_seconds(settings: Settings, content_size: tuple[int, int], cost: StepCost,
                     style_sizes: Sequence[tuple[int, int]] = (), plan: RunPlan | None = None) -> float:
    """Seconds the steps of a run of ``settings`` on content of ``content_size`` (width, height) and
    styles of ``style_sizes`` take at ``cost`` (model loading aside), tiled scales as the memory
    plan tiles them (``plan``, when the caller has it already; a run that cannot fit is timed as
    if it did)."""
    if plan is None:
        try:
            plan = plan_run(settings, content_size, style_sizes)
        except BudgetError:
            return sum(p.steps * cost.seconds(p.pixels) for p in scale_plan(settings, content_size))
    total = 0.0
    for scale in plan.scales:
        pixels = scale.pixels
        if scale.tile is not None:
            steps = make_grid(*scale.shape, scale.tile, plan.halo, plan.align)
            forward = make_grid(*scale.shape, scale.targets_tile or scale.tile, plan.halo, plan.align)
            pixels = steps.pixels + round(FORWARD_SHARE * forward.pixels)
        total += scale.steps * cost.seconds(pixels)
    return total


def remaining_seconds(plan: Sequence[ScalePlan], rows: Sequence[Mapping[str, float]], step: int,
                      scale: int) -> float | None:
    """Seconds left in a run at ``step`` (in ``scale``) given its loss rows so far (``step``,
    ``scale``, ``elapsed_s``): each remaining scale's steps at the recent time per step, scaled by
    that scale's pixel count (a step costs about its pixels). None until it can be estimated."""
    if not plan:
        return None
    measured = _recent_seconds_per_step(rows)
    if measured is None:
        return None
    measured_scale, per_step = measured
    per_pixel = per_step / plan[measured_scale].pixels
    done_before = sum(p.steps for p in plan[:scale])
    left_here = max(0, plan[scale].steps - (step - done_before))
    left = left_here * plan[scale].pixels + sum(p.steps * p.pixels for p in plan[scale + 1:])
    return left * per_pixel


def _recent_seconds_per_step(rows: Sequence[Mapping[str, float]], window: int = 20) -> tuple[int, float] | None:
    """(scale, seconds per step) over the last ``window`` steps of the latest scale with two or
    more steps recorded (a scale's first step also builds its targets, so it is left out)."""
    for scale in sorted({int(r["scale"]) for r in rows}, reverse=True):
        times = [r["elapsed_s"] for r in rows if r["scale"] == scale][1:][-window - 1:]
        if len(times) >= 2 and times[-1] > times[0]:
            return scale, (times[-1] - times[0]) / (len(times) - 1)
    return None
