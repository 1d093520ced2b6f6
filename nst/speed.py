"""How long a run will take on this machine, before it starts (the studio's "≈ N min on this CPU").

A step costs about the same per pixel at every size, so the device is timed once: one VGG19
pass with gradients and one without over a calibration image, as a run makes them. A run's
time is then its plan's pixels (:mod:`nst.budget`): per step, the image, or its tiles with their
halos plus the tiled loss's pass without gradients; per scale, the targets' passes.
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

import torch

from nst.budget import plan_run
from nst.device import resolve_device, resolve_dtype
from nst.losses import gram
from nst.schedule import shape_for
from nst.settings import Settings
from nst.tiles import make_grid
from nst.vgg import load_model

CALIBRATION_SIDE = {"cpu": 256}  # other devices: 1024 (a GPU is not busy below that)
_rates: dict[tuple, tuple[float, float]] = {}
_lock = threading.Lock()


def _timed(fn, device: torch.device) -> float:
    """Seconds of the faster of two calls of ``fn`` after one untimed call (kernel choice)."""
    fn()
    best = float("inf")
    for _ in range(2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - began)
    return best


def pixel_seconds(settings: Settings, device: torch.device | None = None) -> tuple[float, float]:
    """Seconds per pixel of a pass with gradients and of one without, for ``settings``' layers,
    pooling, weights and precision on ``device``: measured on first use (about a second on a
    CPU), then remembered for the process."""
    device = device if device is not None else resolve_device(settings.device)
    dtype = resolve_dtype(settings.precision, device)
    layers = tuple(settings.style_layers) + tuple(settings.content_layers)
    key = (str(device), dtype, settings.pooling, settings.weights, layers)
    with _lock:
        if key not in _rates:
            _rates[key] = _calibrate(settings, device, dtype, layers)
        return _rates[key]


def _calibrate(settings: Settings, device: torch.device, dtype: torch.dtype,
               layers: tuple[str, ...]) -> tuple[float, float]:
    model = load_model(settings.weights)
    side = CALIBRATION_SIDE.get(device.type, 1024)
    image = torch.rand(3, side, side, device=device)

    def grad_pass() -> None:
        x = image.clone().requires_grad_(True)
        total = sum(gram(f).sum() for _, f in model.iter_features(x[None], layers, pooling=settings.pooling,
                                                                 dtype=dtype))
        total.backward()

    def forward() -> None:
        with torch.no_grad():
            for _, f in model.iter_features(image[None], layers, pooling=settings.pooling, dtype=dtype):
                gram(f)

    pixels = side * side
    return _timed(grad_pass, device) / pixels, _timed(forward, device) / pixels


def estimate_seconds(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]] = (),
                     device: torch.device | None = None) -> float:
    """Seconds a run of ``settings`` on a content of ``content_size`` (width, height) and styles of
    ``style_sizes`` will take on ``device`` (default: the settings'), model loading aside.
    BudgetError when it cannot fit its memory budget."""
    device = device if device is not None else resolve_device(settings.device)
    plan = plan_run(settings, content_size, style_sizes, device)
    with_grad, without = pixel_seconds(settings, device)
    total = 0.0
    for scale in plan.scales:
        height, width = scale.shape
        style_side = max(1, round(scale.side * settings.style_scale))
        styles = [shape_for(style_side, w, h) for w, h in style_sizes]
        total += without * (height * width + sum(h * w for h, w in styles))  # the targets
        if scale.tile is None:
            total += scale.steps * with_grad * height * width
            continue
        grid = make_grid(height, width, scale.tile, plan.halo, plan.align)
        forward = make_grid(height, width, scale.targets_tile or scale.tile, plan.halo, plan.align)
        total += scale.steps * (with_grad * grid.pixels + without * forward.pixels)
    return total
