"""The FLOP model: the convolution work of one optimiser step, counted over the one walk of the
network (nst.core.vgg_layers.layer_shapes, which the memory budget walks too), and the 3×3
convolution peak this machine reaches, whose ratio is the floor a step can cost."""

from __future__ import annotations

import math
import time

import torch

from nst.core.settings import Settings
from nst.core.vgg_layers import CHANNELS, depth, layer_shapes


def conv_peak_gflops(dtype: torch.dtype, seconds: float = 1.0) -> float:
    """Measured GFLOP/s of this machine for a VGG-like 3×3 convolution (256→256 channels at
    64×64, channels_last: the layout the engine uses), forward only, best of repeated calls."""
    x = torch.randn(1, 256, 64, 64).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3).to(dtype).contiguous(memory_format=torch.channels_last)
    flops = 2 * 256 * 256 * 9 * 64 * 64
    best = math.inf
    with torch.no_grad():
        torch.nn.functional.conv2d(x, w, padding=1)  # oneDNN builds its kernel on the first call
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1)
            best = min(best, time.perf_counter() - t)
    return flops / best / 1e9


def step_gflop(height: int, width: int, settings: Settings) -> float:
    """Convolution GFLOP of one optimiser step: VGG19 forward to the deepest used layer plus the
    input-gradient backward (the same count again; weights are frozen, so no weight gradients)."""
    deepest = depth(set(settings.content_layers) | set(settings.style_layers))
    total, cin = 0.0, 3
    for name, h, w in layer_shapes(height, width, deepest):
        total += 2 * cin * CHANNELS[name] * 9 * h * w
        cin = CHANNELS[name]
    return 2 * total / 1e9
