"""Our engine's timed runs, each meant for its own process (``bench.harness.in_child``): the
default run from model load, steady-state seconds per step, the GPU run after a warm-up, and the
fast method alone."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.harness import RunResult, mean_interval
from bench.report import describe_ours
from nst.core.settings import Settings
from nst.engine import stylize
from nst.io.images import load_image, resize_max_side
from nst.model.vgg import load_model
from nst.plan.device import resolve_device


def run_ours(content_path: Path, style_path: Path, settings: Settings) -> RunResult:
    """Our engine, timed from model load (the fast networks' too where the run uses them); notes
    the time to first preview and the output-size step cost."""
    torch.manual_seed(settings.seed)
    content, style = load_image(content_path), load_image(style_path)
    start = time.perf_counter()
    if "fast" in (settings.method, settings.init):
        from nst.model.fast import load_networks  # only here: the other runs' processes never import onnx

        load_networks(resolve_device(settings.device))
    if settings.method == "gatys":
        load_model(settings.weights)
    loaded = time.perf_counter()
    first_preview = None
    final_scale: list[float] = []  # elapsed at each step of the output-size scale
    for record in stylize(content, [style], settings):
        if first_preview is None and record.image is not None:
            first_preview = time.perf_counter() - loaded
        if record.scale == record.n_scales - 1:
            final_scale.append(record.elapsed)
        image = record.image
    end = time.perf_counter()
    steps = settings.steps if settings.method == "gatys" else 1
    return RunResult(
        tool="nst (ours)", settings=describe_ours(settings), steps=steps, wall=end - start,
        step_seconds=(end - loaded) / steps, peak_rss_mib=0.0, image=image,
        notes={"load": loaded - start, "first_preview": first_preview,
               "full_step": mean_interval(final_scale), "full_steps": len(final_scale)})


def run_throughput(content_path: Path, style_path: Path, settings: Settings, side: int) -> RunResult:
    """Seconds per step at one scale of max side ``side`` (steady state: after 3 warm-up steps)."""
    content, style = load_image(content_path), load_image(style_path)
    load_model(settings.weights)
    times = [r.elapsed for r in stylize(content, [style], settings.replace(size=side, steps=13, multiscale="off"))]
    shape = resize_max_side(content, side).size
    return RunResult(tool="nst (ours)", settings=f"{side} px", steps=10, wall=times[-1],
                     step_seconds=mean_interval(times[3:]), peak_rss_mib=0.0,
                     image=np.zeros((1, 1, 3), np.uint8), notes={"width": shape[0], "height": shape[1]})


def warm_gpu(content: Image.Image, style: Image.Image, settings: Settings, steps: int) -> None:
    """Load VGG19 and run ``steps`` untimed steps of ``settings`` (the CUDA context, cuDNN's kernel
    choice for every scale's shapes), then count the GPU's peak memory afresh."""
    load_model(settings.weights)
    for _ in stylize(content, [style], settings.replace(steps=steps)):
        pass
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()


def run_gpu(content_path: Path, style_path: Path, settings: Settings) -> RunResult:
    """Our engine on the GPU after an untimed 5-step warm-up: wall time from stylize() to the
    final image, time to the first preview, and peak GPU memory."""
    content, style = load_image(content_path), load_image(style_path)
    warm_gpu(content, style, settings, 5)
    start = time.perf_counter()
    first_preview = None
    for record in stylize(content, [style], settings):
        if first_preview is None and record.image is not None:
            first_preview = time.perf_counter() - start
        image = record.image  # each preview is copied to the CPU, so the last one ends the GPU work
    wall = time.perf_counter() - start
    return RunResult(tool="nst (ours)", settings=describe_ours(settings), steps=settings.steps, wall=wall,
                     step_seconds=wall / settings.steps, peak_rss_mib=0.0, image=image,
                     notes={"gpu_mib": torch.cuda.max_memory_allocated() / 2**20, "first_preview": first_preview})


def run_fast_latency(content_path: Path, style_path: Path, settings: Settings, side: int) -> RunResult:
    """The fast method alone at max side ``side``, networks loaded: the median of 5 runs after one
    warm-up, timed from calling stylize() to the image on the host."""
    content, style = load_image(content_path), load_image(style_path)
    from nst.model.fast import load_networks

    fast = settings.replace(method="fast", size=side)
    load_networks(resolve_device(fast.device))
    times = []
    for _ in range(6):
        start = time.perf_counter()
        (record,) = stylize(content, [style], fast)
        times.append(time.perf_counter() - start)
    return RunResult(tool="nst fast", settings=f"{side} px", steps=1, wall=float(np.median(times[1:])),
                     step_seconds=float(np.median(times[1:])), peak_rss_mib=0.0, image=record.image)
