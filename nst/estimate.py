"""How long a run will take on a device: each scale's steps at this device's measured step cost.

A step costs a fixed part (launches, the optimiser's bookkeeping, Python) plus a part that grows
with the pixel count (the convolutions). Both are measured once per device and precision by two
short real runs at different sizes. A scale the memory budget tiles (:mod:`nst.budget`) computes
more pixels per step: its tiles with their halos, and the tiled loss's pass without gradients.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from nst.budget import RunPlan, plan_run
from nst.engine import StopSignal, stylize
from nst.errors import BudgetError
from nst.schedule import ScalePlan, scale_plan
from nst.settings import Settings
from nst.tiles import make_grid

CALIBRATION_SIDES = (96, 256)
CALIBRATION_STEPS = 3
# A pass without gradients costs about a third of a step's pass per pixel (the backward is about
# twice the forward); a tiled step adds one over the image for the tiled loss.
FORWARD_SHARE = 1 / 3
_lock = threading.Lock()


def _pattern(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.random((height, width, 3)) * 55
    return Image.fromarray(pixels.astype(np.uint8))


@dataclass(frozen=True)
class StepCost:
    """Seconds per optimiser step: ``fixed`` + ``per_megapixel`` × megapixels."""

    fixed: float
    per_megapixel: float

    def seconds(self, pixels: int) -> float:
        return self.fixed + self.per_megapixel * pixels / 1e6


def _seconds_per_step(side: int, device: str, precision: str, stop: StopSignal | None) -> tuple[int, float] | None:
    """(pixels, seconds per step after the first) of a short run at ``side``; None when ``stop``
    ended it early."""
    settings = Settings(size=side, steps=CALIBRATION_STEPS, multiscale="off", device=device, precision=precision,
                        preview_every=CALIBRATION_STEPS)
    content = _pattern(side, side * 3 // 4, 1)
    times = []
    for record in stylize(content, [_pattern(96, 96, 2)], settings, stop=stop):
        if record.stopped:
            return None
        times.append(time.perf_counter())
    (plan,) = scale_plan(settings, content.size)
    return plan.pixels, (times[-1] - times[0]) / (len(times) - 1)


def measure_step_cost(device: str = "auto", precision: str = "auto",
                      stop: StopSignal | None = None) -> StepCost | None:
    """This device's step cost from two short real runs (about a second or two on a CPU; the first
    step of each run, which also builds the targets, is left out). None when ``stop`` was set
    before it finished: a server measures only while no run wants the device, and gives way
    within one calibration step when one arrives."""
    points = []
    for side in CALIBRATION_SIDES:
        point = _seconds_per_step(side, device, precision, stop)
        if point is None:
            return None
        points.append(point)
    (p1, t1), (p2, t2) = points
    per_pixel = max(t2 - t1, 0.0) / (p2 - p1)
    return StepCost(fixed=max(t1 - per_pixel * p1, 0.0), per_megapixel=per_pixel * 1e6)


@lru_cache(maxsize=8)
def step_cost(device: str = "auto", precision: str = "auto") -> StepCost:
    """This device's step cost, measured once per process, device and precision."""
    with _lock:  # two first users at once measure once, not against each other
        cost = measure_step_cost(device, precision)
    assert cost is not None  # nothing stops it
    return cost


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
