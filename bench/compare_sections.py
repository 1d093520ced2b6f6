"""The sections of ``python -m bench.compare``'s report: both tools on the CPU, time to pastiche's
quality, the fast method, throughput against the convolution floor, and the GPU comparison.
Each run is in its own process (bench.harness), each result scored by bench.evaluator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from bench.engine_runs import run_fast_latency, run_gpu, run_ours, run_throughput
from bench.evaluator import as_good, evaluate
from bench.flops import conv_peak_gflops, step_gflop
from bench.harness import RunResult, in_child
from bench.peer import run_pastiche
from bench.report import speed_claim, summary, table
from nst.core.settings import Settings
from nst.plan.device import resolve_device, resolve_dtype


def cpu_sections(content_path: Path, style_path: Path, settings: Settings, args: argparse.Namespace,
                 scored: tuple[Image.Image, Image.Image], images: dict[str, np.ndarray]) -> list[str]:
    """Both tools on the CPU, time to quality and throughput; adds the compared images to ``images``."""
    results = [in_child(run_ours, content_path, style_path, settings)]
    if not args.skip_pastiche:
        results.append(in_child(run_pastiche, content_path, style_path, settings, args.pastiche_steps))
    scores = [evaluate(Image.fromarray(r.image), *scored, settings) for r in results]
    images.update(zip(("ours.png", "pastiche.png"), (r.image for r in results)))
    sections = ["", *table(results, scores, scored[0].size), "", *summary(results, scores)]
    target = {**scores[1], "wall": results[1].wall, "process": results[1].process} if len(results) > 1 else None
    if target is not None:
        sections += ["", "### Time to quality (each row a full run of ours)", "",
                     *time_to_quality(content_path, style_path, settings, args.ladder, target,
                                      *scored, (results[0], scores[0]))]
    sections += ["", "### Fast method", "", *fast_section(content_path, style_path, settings, args, target,
                                                             scored, images)]
    return sections + ["", "### Throughput (one scale, steady state)", "",
                       *throughput(content_path, style_path, settings, args.throughput_sides)]


def gpu_section(content_path: Path, style_path: Path, settings: Settings, pastiche_steps: int | None,
                scored: tuple[Image.Image, Image.Image], ladder: tuple[int, ...],
                ) -> tuple[list[str], dict[str, np.ndarray]]:
    """Ours (coarse to fine, and single scale at the output size) and pastiche on the GPU, scored
    by the same evaluator; pastiche is skipped when ``pastiche_steps`` is None. With pastiche, time
    to its quality from the fast result at the output size, over the step budgets of ``ladder``."""
    gpu = settings.replace(device="cuda")
    names = ["gpu_ours.png", "gpu_ours_single_scale.png"]
    results = [in_child(run_gpu, content_path, style_path, gpu),
               in_child(run_gpu, content_path, style_path, gpu.replace(multiscale="off"))]
    if pastiche_steps is not None:
        names.append("gpu_pastiche.png")
        results.append(in_child(run_pastiche, content_path, style_path, settings, pastiche_steps, "cuda"))
    scores = [evaluate(Image.fromarray(r.image), *scored, settings) for r in results]
    lines = [*table(results, scores, scored[0].size, memory="gpu_mib"), ""]
    lines += [f"- ours, {r.settings}: first preview {r.notes['first_preview']:.2f} s after calling stylize()"
              for r in results[:2]]
    if pastiche_steps is not None:
        lines += [speed_claim([r, results[-1]], [s, scores[-1]]) + f" ({r.settings})"
                  for r, s in zip(results[:2], scores[:2])]
        lines += ["", "#### Time to quality on the GPU from the fast result at the output size only"
                  " (each row a run after a warm-up, timed from calling stylize())", "",
                  *time_to_quality(content_path, style_path, gpu.replace(init="fast", multiscale="off"), ladder,
                                   {**scores[-1], "wall": results[-1].wall}, *scored, runner=run_gpu)]
    return lines, {name: r.image for name, r in zip(names, results)}


def time_to_quality(content_path: Path, style_path: Path, settings: Settings, ladder: tuple[int, ...],
                    target: dict[str, float], content: Image.Image, style: Image.Image,
                    first: tuple[RunResult, dict[str, float]] | None = None,
                    runner: Callable[..., RunResult] = run_ours) -> list[str]:
    """Shortest of our step budgets whose output scores at most ``target`` (pastiche's) on both
    content and style; each budget is a complete run in its own process. ``run_ours`` runs are
    timed from model load (wall) and as a whole process; ``run_gpu`` runs only from calling
    stylize() after their warm-up, so their process time would count the warm-up and is left out."""
    whole = runner is run_ours
    runs = [(first[0].steps, first[0], first[1])] if first is not None else []
    for steps in sorted(set(ladder) - {r[0] for r in runs}):
        result = in_child(runner, content_path, style_path, settings.replace(steps=steps))
        runs.append((steps, result, evaluate(Image.fromarray(result.image), content, style, settings)))
    rows = ["| our steps | wall s |" + (" process s |" if whole else "") + " content | style | ≤ pastiche on both |",
            "|---:|---:|" + ("---:|" if whole else "") + "---:|---:|---|"]
    best = None
    for steps, result, score in sorted(runs, key=lambda r: r[0]):
        ok = as_good(score, target)
        rows.append(f"| {steps} | {result.wall:.2f} |" + (f" {result.process:.1f} |" if whole else "")
                    + f" {score['content']:.4g} | {score['style']:.4g} | {'yes' if ok else 'no'} |")
        if ok and best is None:
            best = result
    if best is None:
        rows.append("\n- time to quality: no budget tried reached pastiche's losses on both terms")
        return rows
    line = (f"\n- time to quality: {best.wall:.2f} s ({best.steps} steps) against pastiche's"
            f" {target['wall']:.2f} s: {target['wall'] / best.wall:.1f}× less")
    if whole:
        line += (f" (target ≥ 5×); whole processes {best.process:.1f} s against {target['process']:.1f} s:"
                 f" {target['process'] / best.process:.1f}× less (target ≥ 20×)")
    return rows + [line]


def fast_section(content_path: Path, style_path: Path, settings: Settings, args: argparse.Namespace,
                 target: dict[str, float] | None, scored: tuple[Image.Image, Image.Image],
                 images: dict[str, np.ndarray]) -> list[str]:
    """The fast method as one run (scored against pastiche's losses when there is a ``target``),
    its latency at a few sides, and time to quality from its result (``init="fast"``)."""
    fast = in_child(run_ours, content_path, style_path, settings.replace(method="fast"))
    score = evaluate(Image.fromarray(fast.image), *scored, settings)
    images["ours_fast.png"] = fast.image
    verdict = "" if target is None else " | " + ("yes" if as_good(score, target) else "no")
    lines = ["| method | wall s | process s | peak RSS MiB | content | style"
             + (" | ≤ pastiche on both |" if target else " |"),
             "|---|---:|---:|---:|---:|---:|" + ("---|" if target else ""),
             f"| fast (arbitrary network, onnxruntime) | {fast.wall:.2f} | {fast.process:.1f}"
             f" | {fast.peak_rss_mib:.0f} | {score['content']:.4g} | {score['style']:.4g}{verdict} |", ""]
    for side in args.fast_sides:
        latency = in_child(run_fast_latency, content_path, style_path, settings, side)
        height, width = latency.image.shape[:2]
        lines.append(f"- fast method alone at {width}×{height}, networks loaded: {latency.wall:.3f} s"
                     " (median of 5; target ≤ 1 s at 1024 px)")
    if target is not None:
        lines += ["", "#### Time to quality from the fast result coarse to fine (init=fast, multiscale on; each"
                  " row a full run of ours)", "",
                  *time_to_quality(content_path, style_path, settings.replace(init="fast", multiscale="on"),
                                   args.fast_ladder, target, *scored),
                  "", "#### Time to quality from the fast result at the output size only (init=fast,"
                  " as multiscale auto runs it)", "",
                  *time_to_quality(content_path, style_path, settings.replace(init="fast", multiscale="off"),
                                   args.fast_top_ladder, target, *scored)]
    return lines


def throughput(content_path: Path, style_path: Path, settings: Settings, sides: tuple[int, ...]) -> list[str]:
    """Seconds per step at single scales against the convolution floor this machine allows."""
    dtype = resolve_dtype(settings.precision, resolve_device(settings.device))
    peaks = {"fp32": conv_peak_gflops(torch.float32)}
    if dtype == torch.bfloat16:
        peaks["bf16"] = conv_peak_gflops(torch.bfloat16)
    name = "bf16" if dtype == torch.bfloat16 else "fp32"
    lines = [f"- measured 3×3 convolution peak: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()),
             "", f"| side | image | s/step | conv GFLOP/step | {name} floor s/step | achieved GFLOP/s"
             " | % of floor speed (target ≥ 80 %) |", "|---:|---|---:|---:|---:|---:|---:|"]
    for side in sides:
        r = in_child(run_throughput, content_path, style_path, settings, side)
        w, h = int(r.notes["width"]), int(r.notes["height"])
        gflop = step_gflop(h, w, settings)
        floor = gflop / peaks[name]
        lines.append(f"| {side} | {w}×{h} | {r.step_seconds:.3f} | {gflop:.0f} | {floor:.3f}"
                     f" | {gflop / r.step_seconds:.0f} | {100 * floor / r.step_seconds:.0f} % |")
    return lines
