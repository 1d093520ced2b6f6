"""Measuring a device's step cost (:class:`nst.plan.estimate.StepCost`) with two short real runs."""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import numpy as np
from PIL import Image

from nst.core.progress import StopSignal
from nst.core.settings import Settings
from nst.engine import stylize
from nst.plan.estimate import StepCost

CALIBRATION_SIDES = (96, 256)
CALIBRATION_STEPS = 3
_lock = threading.Lock()


def _pattern(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.random((height, width, 3)) * 55
    return Image.fromarray(pixels.astype(np.uint8))


def _seconds_per_step(side: int, device: str, precision: str, stop: StopSignal | None) -> tuple[int, float] | None:
    """(pixels, seconds per step after the first) of a short run at ``side``; None when ``stop``
    ended it early."""
    settings = Settings(size=side, steps=CALIBRATION_STEPS, multiscale="off", device=device, precision=precision,
                        preview_every=CALIBRATION_STEPS)
    content = _pattern(side, side * 3 // 4, 1)
    times, plan = [], None
    for record in stylize(content, [_pattern(96, 96, 2)], settings, stop=stop):
        if record.stopped:
            return None
        plan = plan or record.plan  # the run's own plan, on its first record
        times.append(time.perf_counter())
    assert plan is not None
    (scale,) = plan.scales  # one untiled scale: a step computes its pixels once
    return scale.pixels, (times[-1] - times[0]) / (len(times) - 1)


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
