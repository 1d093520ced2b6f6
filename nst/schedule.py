"""The coarse-to-fine schedule: the side of each scale, its shape and its share of the steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nst.settings import Settings

# Share of the step budget per scale, coarse to fine, before normalising: coarse steps are 4×
# cheaper per halving of the side, so most optimisation happens there.
SCALE_SHARE_RATIO = 1.6
# Starts that are already a picture (the fast result, a given image): they have the large-scale
# structure that the coarse scales exist to build, and shrinking them to the first scale would
# blur away their detail. From the fast result, at every wall-time budget measured (golden_gate ×
# shipwreck and tubingen × starry_night at 512 px, README "Fast method"), the output size alone
# ended with a lower total loss than coarse to fine, so "auto" runs them at the output size only.
WARM_STARTS = ("fast", "image")


def scale_sides(size: int, settings: Settings) -> list[int]:
    """Max side of each scale, coarse to fine, ending at ``size``."""
    auto = size >= 2 * settings.min_scale and settings.init not in WARM_STARTS
    on = settings.multiscale == "on" or (settings.multiscale == "auto" and auto)
    if not on or size <= settings.min_scale:
        return [size]
    count = int(math.floor(math.log2(size / settings.min_scale))) + 1
    return [max(16, round(size / 2**k)) for k in range(count - 1, -1, -1)]


def split_steps(total: int, scales: int) -> list[int]:
    """Steps per scale summing to ``total``; coarser scales get more, every scale at least one
    while the budget allows."""
    if scales == 1:
        return [total]
    shares = [SCALE_SHARE_RATIO ** (scales - 1 - k) for k in range(scales)]
    raw = [total * s / sum(shares) for s in shares]
    steps = [max(1, int(r)) for r in raw]
    steps[-1] += total - sum(steps)  # rounding goes to the final scale
    while steps[-1] < 1:  # tiny budgets: take from the coarsest scales
        i = max(range(scales - 1), key=lambda j: steps[j])
        steps[i] -= 1
        steps[-1] += 1
    return steps


def shape_for(side: int, width: int, height: int) -> tuple[int, int]:
    """(H, W) with max side ``side`` and the aspect of width × height, each side >= 1."""
    scale = side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass(frozen=True)
class ScalePlan:
    """One scale of a run: the (height, width) it optimises and its steps."""

    shape: tuple[int, int]
    steps: int

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def scale_plan(settings: Settings, content_size: tuple[int, int]) -> list[ScalePlan]:
    """The scales a run of ``settings`` goes through for content of ``content_size`` (width, height)
    (how each is run within the memory budget: :func:`nst.budget.plan_run`)."""
    width, height = content_size
    out_h, out_w = shape_for(settings.size, width, height)
    sides = scale_sides(settings.size, settings)
    return [ScalePlan(shape_for(side, out_w, out_h), steps)
            for side, steps in zip(sides, split_steps(settings.steps, len(sides)))]
