"""The peer: pastiche (PyPI ``pastiche`` 1.6.0) run as the benchmarks compare it, with its own
defaults, its result turned back into RGB pixels for the evaluator."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from bench.harness import RunResult
from bench.pair import style_side
from nst.core.settings import Settings

PASTICHE = "pastiche 1.6.0"
PASTICHE_STEPS = 100  # its default
# pastiche's preprocessing: BGR 0-255 minus this BGR mean (pastiche.pastiche.VGG_MEAN).
PASTICHE_MEAN = (103.939, 116.779, 123.68)


def run_pastiche(content_path: Path, style_path: Path, settings: Settings, steps: int,
                 device: str = "cpu") -> RunResult:
    """pastiche with its default loss weights, timed from construction (which loads its model).
    On a GPU, one untimed warm-up artist runs first, so CUDA and cuDNN start-up is not counted."""
    from pastiche.pastiche import PasticheArtist  # the peer being measured; only ever loaded here

    def artist() -> PasticheArtist:
        return PasticheArtist(str(content_path), [str(style_path)], size=settings.size,
                              style_size=style_side(settings), device=device, optimizer="lbfgs")

    if device != "cpu":
        warm = artist()
        for _ in range(5):
            warm.draw()
        del warm
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(settings.seed)
    start = time.perf_counter()
    painter = artist()
    built = time.perf_counter()
    for _ in range(steps):
        painter.draw()
    image = pastiche_to_rgb(painter.pastiche)  # copies to the CPU, so the GPU work is finished
    end = time.perf_counter()
    notes = {"load": built - start}
    if device != "cpu":
        notes["gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return RunResult(
        tool=PASTICHE, settings=f"L-BFGS, {settings.size}, fp32, its default weights, {device}",
        steps=steps, wall=end - start, step_seconds=(end - built) / steps, peak_rss_mib=0.0,
        image=image, notes=notes)


def pastiche_to_rgb(pastiche: torch.Tensor) -> np.ndarray:
    """Invert pastiche's preprocessing (as its save_image does) to an RGB uint8 array."""
    x = pastiche.detach().squeeze(0).to("cpu", copy=True)
    x += torch.tensor(PASTICHE_MEAN).view(3, 1, 1)
    x = x.flip(0).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())
