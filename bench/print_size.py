"""Print sizes: a print with the defaults is the preview, bigger — in how long, in how much memory.

Run ``python -m bench.print_size [--sections goals,schedule,gpu] [--content PATH --style PATH |
--synthetic] [--preview 512] [--prints 2048:1.5G,4096:3G] [--pastiche-steps 100]
[--schedule-size 2048] [--ladder 0,1,2,3] [--compare 256] [--out DIR] [--quick]``.

* ``goals`` (CPU), each run in its own process, with the CLI's defaults (the fast preset: init
  fast, 60 steps, multiscale auto, which settles a print at nst.plan.schedule.WORKING_SIZE and goes
  up ×2 a scale): pastiche's 100-step run at the preview size, ours at the preview size, and each
  print SIZE:MAX_MEMORY (``max_memory`` bounds the whole process: its peak resident memory, as
  ``top`` shows it, is measured as the child's ru_maxrss). Held-out losses: each print
  downscaled to the preview size (Lanczos), scored by bench.evaluator (our Gatys
  losses, fp32, bundled VGG19) against the preview-size run's. The three goals: the first print
  in at most 1.5× pastiche's wall time, the second in at most 15 minutes, both prints' held-out
  losses within 1.5× of the preview run's.
* ``gpu`` (with CUDA): the defaults at ``--gpu-size`` px (after a warm-up), wall time and peak GPU
  memory against the plan, with the default budget and within a quarter of that peak.
* ``schedule``: how many steps the scales above the working size need. From the preview run's
  result, each count N of the ladder runs N steps at each larger scale up to ``--schedule-size``
  (as the schedule does, chained "continue at 2×"); held-out losses against the preview run's,
  and the top scale's own losses at its size (what the steps up there improve).

Wall times run from loading the models (ours: VGG19 and the fast networks; pastiche: its
construction) to the final image.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.engine_runs import warm_gpu
from bench.evaluator import evaluate
from bench.harness import Contention, RunResult, in_child
from bench.pair import input_pair
from bench.peer import PASTICHE, PASTICHE_STEPS, run_pastiche
from bench.report import cpu_name, load_average, machine_info, publish
from nst.plan.budget import RunPlan, plan_run
from nst.engine import stylize
from nst.io.images import load_image, resize_max_side
from nst.plan.schedule import TOP_STEPS, WORKING_SIZE, scale_sides
from nst.core.settings import Settings, continued, format_bytes, parse_bytes, preset

DEFAULT_OUT = Path("/tmp/nst-print")
PRINTS = "2048:1.5G,4096:3G"  # the 2048 px within 1.5 GB; 4096 px as README's print command
PASTICHE_FACTOR = 1.5  # the first print's wall time against pastiche's preview-size run
LARGEST_MINUTES = 15  # the last print's wall time
LOSS_FACTOR = 1.5  # held-out losses of a print against the preview run's
QUICK = {"preview": 128, "prints": "256:2G,384:2G", "pastiche_steps": 10, "schedule_size": 256, "ladder": "0,1",
         "steps": 8}


def describe(plan: RunPlan) -> str:
    """The plan in a table cell: each scale's side and steps, its tile and L-BFGS pairs when tiled."""
    parts = []
    for s in plan.scales:
        part = f"{max(s.shape)}×{s.steps}"
        if s.tiled:
            part += f" (tiles {s.tile[1]}×{s.tile[0]}, {s.history} pairs)"
        parts.append(part)
    return " → ".join(parts)


def run_default(content_path: Path, style_path: Path, settings: Settings) -> RunResult:
    """Our engine with ``settings`` (in a child process), timed from loading its models."""
    from nst.model.fast import load_networks
    from nst.model.vgg import load_model

    content, style = load_image(content_path), load_image(style_path)
    began = time.perf_counter()
    load_networks(torch.device("cpu"))
    load_model(settings.weights)
    plan = plan_run(settings, content.size, [style.size])
    for record in stylize(content, [style], settings):
        pass
    return RunResult(tool="nst", settings=describe(plan), steps=settings.steps, wall=time.perf_counter() - began,
                     step_seconds=0.0, peak_rss_mib=0.0, image=record.image,
                     notes={"held_mib": plan.held / 2**20, "estimate_mib": plan.peak / 2**20,
                            "content": record.raw.get("content", float("nan")),
                            "style": record.raw.get("style", float("nan"))})


def run_chain(content_path: Path, style_path: Path, settings: Settings, start_path: Path,
              sides: list[int], steps: int) -> RunResult:
    """From the image at ``start_path``, ``steps`` steps at each of ``sides`` in turn (each
    from the last one's result), as the schedule's scales above the working size run; 0 steps:
    the start image resized to the last side."""
    content, style, image = load_image(content_path), load_image(style_path), load_image(start_path)
    began = time.perf_counter()
    raw: dict[str, float] = {}
    for side in sides:
        if steps == 0:
            k = side / max(image.size)
            image = image.resize((round(image.size[0] * k), round(image.size[1] * k)), Image.Resampling.BICUBIC)
            continue
        step = continued(settings.replace(size=max(image.size)), factor=side / max(image.size), steps=steps)
        for record in stylize(content, [style], step, start=image):
            pass
        image, raw = Image.fromarray(record.image), record.raw
    return RunResult(tool="nst", settings="", steps=steps, wall=time.perf_counter() - began,
                     step_seconds=0.0, peak_rss_mib=0.0, image=np.asarray(image),
                     notes={"content": raw.get("content", float("nan")), "style": raw.get("style", float("nan"))})


def held_out(image: np.ndarray, pair: tuple[Image.Image, Image.Image], settings: Settings,
             side: int) -> dict[str, float]:
    """The evaluator's losses of ``image`` downscaled to ``side`` px."""
    return evaluate(resize_max_side(Image.fromarray(image), side), *pair, settings.replace(size=side))


def upsampled_floor(preview: np.ndarray, pair: tuple[Image.Image, Image.Image], settings: Settings, size: int,
                    side: int) -> dict[str, float]:
    """Held-out losses of the preview run itself resampled as a print is: bicubic up to ``size``,
    then down to ``side``, over the run's own: what resampling alone costs on this metric."""
    image = Image.fromarray(preview)
    k = size / max(image.size)
    up = image.resize((round(image.size[0] * k), round(image.size[1] * k)), Image.Resampling.BICUBIC)
    score, own = held_out(np.asarray(up), pair, settings, side), held_out(preview, pair, settings, side)
    return {key: score[key] / own[key] for key in ("content", "style")}


def goals_section(paths: tuple[Path, Path], pair: tuple[Image.Image, Image.Image], args: argparse.Namespace,
                  out: Path) -> tuple[list[str], Path]:
    base = preset("fast", device="cpu", **({"steps": args.steps} if args.steps else {}))
    preview = base.replace(size=args.preview)
    pastiche = in_child(run_pastiche, *paths, preview, args.pastiche_steps)
    ours = in_child(run_default, *paths, preview)
    Image.fromarray(ours.image).save(out / f"preview_{args.preview}.png")
    # Held out: the print and the preview run both downscaled to args.compare px (the same
    # resampling for both), and, as the issue measured it, the print downscaled to the preview's
    # size against the preview run as it is.
    reference = held_out(ours.image, pair, preview, args.compare)
    as_is = held_out(ours.image, pair, preview, args.preview)
    peer = held_out(pastiche.image, pair, preview, args.compare)
    rows = [f"| run | scales (side×steps; tiles, L-BFGS pairs) | max_memory | wall s | peak RSS MiB | plan MiB"
            f" (process before the run) | content ↓{args.compare} | style ↓{args.compare} | content / preview,"
            f" both ↓{args.compare} | style / preview, both ↓{args.compare} | content / preview, ↓{args.preview}"
            f" | style / preview, ↓{args.preview} |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {PASTICHE}, {args.pastiche_steps} steps, {args.preview} px, fp32 | — | — | {pastiche.wall:.1f}"
            f" | {pastiche.peak_rss_mib:.0f} | — | {peer['content']:.4g} | {peer['style']:.4g} | | | | |",
            f"| ours, {args.preview} px (the preview) | {ours.settings} | — | {ours.wall:.1f} | {ours.peak_rss_mib:.0f}"
            f" | {ours.notes['estimate_mib']:.0f} ({ours.notes['held_mib']:.0f}) | {reference['content']:.4g}"
            f" | {reference['style']:.4g} | 1 | 1 | 1 | 1 |"]
    print("\n".join(rows), flush=True)
    goals, notes = [], []
    prints = [(int(size), parse_bytes(budget)) for size, budget in (p.split(":") for p in args.prints.split(","))]
    for index, (size, budget) in enumerate(prints):
        settings = base.replace(size=size, max_memory=budget)
        result = in_child(run_default, *paths, settings)
        Image.fromarray(result.image).save(out / f"print_{size}.png")
        score = held_out(result.image, pair, preview, args.compare)
        ratios = {k: score[k] / reference[k] for k in ("content", "style")}
        direct = held_out(result.image, pair, preview, args.preview)
        directly = {k: direct[k] / as_is[k] for k in ("content", "style")}
        floor = upsampled_floor(ours.image, pair, preview, size, args.preview)
        notes.append(f"- the preview run itself, bicubic up to {size} px and down to {args.preview} px, against"
                     f" itself: content {floor['content']:.2f}×, style {floor['style']:.2f}× (what resampling alone"
                     f" does to the ↓{args.preview} column)")
        within = result.peak_rss_mib * 2**20 <= budget
        rows.append(f"| ours, {size} px | {result.settings} | {format_bytes(budget)} | {result.wall:.1f}"
                    f" | {result.peak_rss_mib:.0f}{'' if within else ' (**over**)'}"
                    f" | {result.notes['estimate_mib']:.0f} ({result.notes['held_mib']:.0f})"
                    f" | {score['content']:.4g} | {score['style']:.4g} | {ratios['content']:.2f} | {ratios['style']:.2f}"
                    f" | {directly['content']:.2f} | {directly['style']:.2f} |")
        print(rows[-1], flush=True)  # as each run ends: a long benchmark cut short keeps its rows
        if index == 0:
            limit = PASTICHE_FACTOR * pastiche.wall
            goals.append((f"{size} px in ≤ {PASTICHE_FACTOR}× pastiche's {args.pastiche_steps}-step {args.preview} px"
                          " run", f"≤ {limit:.0f} s", f"{result.wall:.0f} s ({result.wall / pastiche.wall:.2f}×)",
                          result.wall <= limit))
        if index == len(prints) - 1:
            goals.append((f"{size} px in ≤ {LARGEST_MINUTES} minutes", f"≤ {60 * LARGEST_MINUTES} s",
                          f"{result.wall:.0f} s", result.wall <= 60 * LARGEST_MINUTES))
        goals.append((f"{size} px: held-out losses within {LOSS_FACTOR}× the preview's (both ↓{args.compare} px)",
                      f"≤ {LOSS_FACTOR}×", f"content {ratios['content']:.2f}×, style {ratios['style']:.2f}×",
                      max(ratios.values()) <= LOSS_FACTOR))
        goals.append((f"{size} px: the same, the print ↓{args.preview} px against the preview as it is",
                      f"≤ {LOSS_FACTOR}×", f"content {directly['content']:.2f}×, style {directly['style']:.2f}×"
                      f" (resampling alone: {floor['style']:.2f}×)", max(directly.values()) <= LOSS_FACTOR))
        goals.append((f"{size} px: peak resident memory within max_memory", format_bytes(budget),
                      f"{result.peak_rss_mib:.0f} MiB", within))
    table = ["| goal | target | measured | met |", "|---|---:|---:|---|"]
    table += [f"| {goal} | {target} | {measured} | {'yes' if met else '**no**'} |"
              for goal, target, measured, met in goals]
    return table + ["", *rows, "", *notes], out / f"preview_{args.preview}.png"


def schedule_section(paths: tuple[Path, Path], pair: tuple[Image.Image, Image.Image], args: argparse.Namespace,
                     preview_image: Path) -> list[str]:
    settings = preset("fast", device="cpu", size=args.schedule_size)
    sides = [side for side in scale_sides(args.schedule_size, settings) if side > args.preview]
    preview = settings.replace(size=args.preview)
    reference = held_out(np.asarray(load_image(preview_image)), pair, preview, args.compare)
    lines = [f"From the {args.preview} px run's result, N steps at each of {' → '.join(map(str, sides))} px"
             f" (nst.plan.schedule.TOP_STEPS = {TOP_STEPS}); losses of the result and of the {args.preview} px run, both"
             f" downscaled to {args.compare} px, and at {args.schedule_size} px (its own scale's objective).", "",
             f"| N | wall s | content / preview | style / preview | content at {args.schedule_size} |"
             f" style at {args.schedule_size} |", "|---:|---:|---:|---:|---:|---:|"]
    for steps in [int(v) for v in args.ladder.split(",")]:
        result = in_child(run_chain, *paths, settings, preview_image, sides, steps)
        score = held_out(result.image, pair, preview, args.compare)
        lines.append(f"| {steps} | {result.wall:.1f} | {score['content'] / reference['content']:.3f}"
                     f" | {score['style'] / reference['style']:.3f} | {result.notes['content']:.4g}"
                     f" | {result.notes['style']:.4g} |")
        print(lines[-1], flush=True)
    return lines


def run_gpu(content_path: Path, style_path: Path, settings: Settings) -> RunResult:
    """Our engine on the GPU after a short untimed warm-up: wall time from stylize() to the final
    image on the host, peak GPU memory, and the plan's estimate."""
    content, style = load_image(content_path), load_image(style_path)
    warm_gpu(content, style, settings, len(scale_sides(settings.size, settings)) + 2)
    before = torch.cuda.memory_allocated()
    plan = plan_run(settings, content.size, [style.size])
    began = time.perf_counter()
    for record in stylize(content, [style], settings):
        pass
    wall = time.perf_counter() - began
    return RunResult(tool="nst", settings=describe(plan), steps=settings.steps, wall=wall,
                     step_seconds=wall / settings.steps, peak_rss_mib=0.0, image=record.image,
                     notes={"gpu_mib": (torch.cuda.max_memory_allocated() - before) / 2**20,
                            "estimate_mib": plan.peak / 2**20, "budget_mib": plan.budget / 2**20})


def gpu_section(paths: tuple[Path, Path], pair: tuple[Image.Image, Image.Image], settings: Settings,
                size: int, side: int, out: Path) -> list[str]:
    """The run at ``size`` on CUDA with the default budget, and within a quarter of its peak."""
    gpu = settings.replace(size=size, device="cuda")
    untiled = in_child(run_gpu, *paths, gpu)
    quarter = int(untiled.notes["gpu_mib"] * 2**20 / 4)
    runs = [("default budget", untiled),
            (f"max_memory {format_bytes(quarter)}, a quarter of that",
             in_child(run_gpu, *paths, gpu.replace(max_memory=quarter)))]
    rows = [f"| {torch.cuda.get_device_name()} | plan | wall s | peak GPU MiB | estimate MiB | content ↓{side}"
            f" | style ↓{side} |", "|---|---|---:|---:|---:|---:|---:|"]
    for label, result in runs:
        score = held_out(result.image, pair, gpu, side)
        Image.fromarray(result.image).save(out / f"gpu_{size}_{label.split()[0]}.png")
        rows.append(f"| {label} | {result.settings} | {result.wall:.1f} | {result.notes['gpu_mib']:.0f}"
                    f" | {result.notes['estimate_mib']:.0f} | {score['content']:.4g} | {score['style']:.4g} |")
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.print_size", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="goals,schedule,gpu",
                        help="which to run, comma-separated: goals, schedule, gpu (gpu only with CUDA)")
    parser.add_argument("--gpu-size", type=int, default=4096, help="output size of the gpu section (default 4096)")
    parser.add_argument("--content", help="content image (default ../shared/images/tubingen.jpg)")
    parser.add_argument("--style", help="style image (default ../shared/images/starry_night.jpg)")
    parser.add_argument("--synthetic", action="store_true", help="generate the image pair instead")
    parser.add_argument("--preview", type=int, help=f"the preview's size (default {WORKING_SIZE})")
    parser.add_argument("--prints", help=f"SIZE:MAX_MEMORY of each print (default {PRINTS})")
    parser.add_argument("--compare", type=int, help="side both the preview and a print are downscaled to for"
                        " the held-out losses (default half the preview's)")
    parser.add_argument("--pastiche-steps", type=int, help=f"pastiche's steps (default {PASTICHE_STEPS})")
    parser.add_argument("--steps", type=int, help="steps of our runs (default: the fast preset's)")
    parser.add_argument("--schedule-size", type=int, help="largest size of the schedule section (default 2048)")
    parser.add_argument("--ladder", help="steps per larger scale to try (default 0,1,2,3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps: to test this script")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"preview": WORKING_SIZE, "prints": PRINTS, "pastiche_steps": PASTICHE_STEPS,
                                         "schedule_size": 2048, "ladder": "0,1,2,3", "steps": None}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.compare = args.compare or args.preview // 2
    args.size = args.schedule_size  # bench.pair.input_pair sizes synthetic images by it
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sections = set(args.sections.split(","))
    content, style = input_pair(args)
    args.out.mkdir(parents=True, exist_ok=True)
    watch, load_before = Contention(), load_average()
    info = [f"- lscpu model name: {cpu_name()}", *machine_info()]
    report = ["## Print sizes", "", *info]
    with tempfile.TemporaryDirectory(prefix="nst-print-") as folder:
        paths = (Path(folder) / "content.png", Path(folder) / "style.png")
        content.save(paths[0])
        style.save(paths[1])
        pair = (load_image(paths[0]), load_image(paths[1]))
        preview_image = args.out / f"preview_{args.preview}.png"
        if "goals" in sections:
            table, preview_image = goals_section(paths, pair, args, args.out)
            report += ["", "### Goals, with the defaults (CPU)", "", *table]
        if "schedule" in sections:
            if not preview_image.exists():
                sys.exit(f"error: the schedule section starts from {preview_image}: run the goals section first")
            report += ["", f"### Steps above the working size ({args.schedule_size} px)", "",
                       *schedule_section(paths, pair, args, preview_image)]
        if "gpu" in sections and torch.cuda.is_available():
            report += ["", f"### GPU, {args.gpu_size} px, the defaults (target < 60 s)", "",
                       *gpu_section(paths, pair, preset("fast"), args.gpu_size, args.preview, args.out)]
        elif "gpu" in sections:
            report += ["", "### GPU", "", "- no CUDA GPU on this machine: not measured"]
    report.insert(2 + len(info), watch.line())
    report.insert(3 + len(info), f"- load average (1, 5, 15 min) before: {load_before}; after: {load_average()}")
    publish(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
