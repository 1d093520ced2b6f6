"""Benchmark our engine against pastiche (PyPI ``pastiche``) on one image pair.

Run ``python -m bench.compare [--content PATH --style PATH] [--size 512] [--steps N] [--style-weight B]
[--pastiche-steps N] [--out DIR] [--skip-pastiche] [--gpu-only] [--quick] [--synthetic]``.

Besides our default run it times the fast method (``method="fast"``) and, for time to pastiche's
quality, our optimiser from the content and from the fast result (``init="fast"``), coarse to fine
and at the output size only; each run's whole process (spawn to result: interpreter start,
imports, model load, run) is timed too. On a CUDA GPU: ours and pastiche, and time to pastiche's
quality from the fast result at the output size.

Each tool runs in its own spawned process, so the peak RSS reported is that tool's alone. Both
outputs are scored by one evaluator: our Gatys losses on the bundled VGG19 in fp32, with our
settings' layers and weights. Pastiche optimises its own weighting of the same terms, so its
score is on an objective it does not minimise; the raw content and style columns show the trade.
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from tests.support.synthetic import scene, stripes
from nst.plan.device import cpu_has_bf16, resolve_device, resolve_dtype
from nst.engine import scale_sides, stylize, to_tensor
from nst.core.errors import ImageError, SettingsError
from nst.io.images import load_image, resize_max_side
from nst.core.vgg_layers import CHANNELS, depth, layer_shapes
from nst.model.losses import content_loss, gram, style_loss
from nst.core.settings import Settings
from nst.model.vgg import load_model

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO_ROOT.parent / "shared" / "images" / "tubingen.jpg"
DEFAULT_STYLE = REPO_ROOT.parent / "shared" / "images" / "starry_night.jpg"
DEFAULT_OUT = Path("/tmp/nst-bench")
PASTICHE_STEPS = 100
LADDER = (60, 100, 150, 175, 200)  # shorter step budgets tried for time to quality (plus --steps)
FAST_LADDER = (10, 20, 30, 40, 60)  # the same, starting from the fast result
# The same from the fast result at the output size only (multiscale off): coarse scales would
# blur away the fast result's texture, which the first steps at full size refine.
FAST_TOP_LADDER = (10, 12, 14, 16, 20)
FAST_SIDES = (512, 1024)  # sides at which the fast method alone is timed, model loaded
QUICK = {"size": 256, "steps": 60, "pastiche_steps": 20, "ladder": (20, 40), "fast_ladder": (10, 20),
         "fast_top_ladder": (5, 10), "fast_sides": (256,)}
# pastiche's preprocessing: BGR 0-255 minus this BGR mean (pastiche.pastiche.VGG_MEAN).
PASTICHE_MEAN = (103.939, 116.779, 123.68)


@dataclass
class RunResult:
    """What one tool's child process reports back."""

    tool: str
    settings: str
    steps: int
    wall: float  # seconds, model load to final image
    step_seconds: float  # mean seconds per optimiser step
    peak_rss_mib: float
    image: np.ndarray  # RGB uint8 (H, W, 3)
    notes: dict[str, float] = field(default_factory=dict)
    process: float = 0.0  # seconds from spawning its process to receiving this result (set by in_child)


# ---------------------------------------------------------------- inputs


def synthetic_pair(size: int) -> tuple[Image.Image, Image.Image]:
    """A deterministic content (a scene) and style (colour stripes) pair from tests.support.synthetic."""
    return scene(size, round(size * 0.75)), stripes(size)


def input_pair(args: argparse.Namespace) -> tuple[Image.Image, Image.Image]:
    """Content and style images from the flags, the shared defaults, or --synthetic."""
    if args.synthetic:
        return synthetic_pair(args.size)
    paths = []
    for flag, given, default in (("--content", args.content, DEFAULT_CONTENT),
                                 ("--style", args.style, DEFAULT_STYLE)):
        path = Path(given) if given else default
        if not given and not default.exists():
            sys.exit(f"error: no {flag} given and the default {default} does not exist;"
                     f" pass {flag} PATH, or --synthetic for generated images")
        paths.append(path)
    try:
        return load_image(paths[0]), load_image(paths[1])
    except ImageError as exc:
        sys.exit(f"error: {exc}")


def prepare_inputs(content: Image.Image, style: Image.Image, settings: Settings,
                   folder: Path) -> tuple[Path, Path]:
    """Resize as our engine does and save as PNG, so both tools start from identical pixels
    (pastiche's own BILINEAR resize then leaves them unchanged)."""
    content_path, style_path = folder / "content.png", folder / "style.png"
    resize_max_side(content, settings.size).save(content_path)
    resize_max_side(style, style_side(settings)).save(style_path)
    return content_path, style_path


def style_side(settings: Settings, size: int | None = None) -> int:
    """Max side our engine gives the style image for an output of max side ``size``."""
    return max(1, round((size or settings.size) * settings.style_scale))


# ---------------------------------------------------------------- runs (each in a child process)


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
        tool="pastiche 1.6.0", settings=f"L-BFGS, {settings.size}, fp32, its default weights, {device}",
        steps=steps, wall=end - start, step_seconds=(end - built) / steps, peak_rss_mib=0.0,
        image=image, notes=notes)


def mean_interval(times: list[float]) -> float:
    """Mean gap between successive timestamps; skips the first step, which also pays for the
    scale's targets."""
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")


def pastiche_to_rgb(pastiche: torch.Tensor) -> np.ndarray:
    """Invert pastiche's preprocessing (as its save_image does) to an RGB uint8 array."""
    x = pastiche.detach().squeeze(0).to("cpu", copy=True)
    x += torch.tensor(PASTICHE_MEAN).view(3, 1, 1)
    x = x.flip(0).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())


def _child(conn: Any, fn: Callable[..., RunResult], args: tuple) -> None:
    """Child entry point: run, add this process's peak RSS, send the result (or the traceback)."""
    try:
        result = fn(*args)
        result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        conn.send(result)
    except BaseException:
        conn.send(traceback.format_exc())
    finally:
        conn.close()


def in_child(fn: Callable[..., RunResult], *args: Any) -> RunResult:
    """Run ``fn(*args)`` in a fresh spawned process, so its peak RSS is its own."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, fn, args))
    spawned = time.perf_counter()
    process.start()
    sender.close()  # so recv() sees EOF if the child dies without sending
    try:
        result = receiver.recv()  # before join(): a large result would block the child's send
    except EOFError:
        process.join()
        raise RuntimeError(f"{fn.__name__} died with exit code {process.exitcode} (out of memory?)") from None
    received = time.perf_counter()
    process.join()
    if isinstance(result, str):
        raise RuntimeError(f"{fn.__name__} failed in its child process:\n{result}")
    result.process = received - spawned
    return result


# ---------------------------------------------------------------- throughput against the machine's peak


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


def run_throughput(content_path: Path, style_path: Path, settings: Settings, side: int) -> RunResult:
    """Seconds per step at one scale of max side ``side`` (steady state: after 3 warm-up steps)."""
    content, style = load_image(content_path), load_image(style_path)
    load_model(settings.weights)
    times = [r.elapsed for r in stylize(content, [style], settings.replace(size=side, steps=13, multiscale="off"))]
    shape = resize_max_side(content, side).size
    return RunResult(tool="nst (ours)", settings=f"{side} px", steps=10, wall=times[-1],
                     step_seconds=mean_interval(times[3:]), peak_rss_mib=0.0,
                     image=np.zeros((1, 1, 3), np.uint8), notes={"width": shape[0], "height": shape[1]})


def run_gpu(content_path: Path, style_path: Path, settings: Settings) -> RunResult:
    """Our engine on the GPU after an untimed 5-step warm-up (CUDA context, cuDNN's kernel
    choice for every scale's shapes): wall time from stylize() to the final image, time to the
    first preview, and peak GPU memory."""
    content, style = load_image(content_path), load_image(style_path)
    load_model(settings.weights)
    for _ in stylize(content, [style], settings.replace(steps=5)):
        pass
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
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


def gpu_section(content_path: Path, style_path: Path, settings: Settings, pastiche_steps: int | None,
                scored: tuple[Image.Image, Image.Image], ladder: tuple[int, ...] = FAST_TOP_LADDER,
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


# ---------------------------------------------------------------- scoring and report


def evaluate(image: Image.Image, content: Image.Image, style: Image.Image,
             settings: Settings) -> dict[str, float]:
    """Our Gatys losses of ``image`` in fp32 on the bundled VGG19, at the image's size: raw
    content, raw style (layer-weighted), and total α·content + β·style."""
    side = max(image.size)
    content = content.resize(image.size, Image.Resampling.LANCZOS) if content.size != image.size else content
    style = resize_max_side(style, style_side(settings, side))
    with torch.no_grad():
        feats = _fp32_features(image, settings.content_layers + settings.style_layers, settings)
        content_feats = _fp32_features(content, settings.content_layers, settings)
        style_feats = _fp32_features(style, settings.style_layers, settings)
        c = sum(float(content_loss(feats[l], content_feats[l])) for l in settings.content_layers)
        s = sum(w * float(style_loss(feats[l], gram(style_feats[l])))
                for l, w in zip(settings.style_layers, settings.layer_weights))
    return {"content": c, "style": s, "total": settings.content_weight * c + settings.style_weight * s}


def _fp32_features(image: Image.Image, layers: tuple[str, ...],
                   settings: Settings) -> dict[str, torch.Tensor]:
    """fp32 CPU features of the bundled VGG19, whatever precision and weights the run used."""
    model = load_model("bundled")
    return model.features(to_tensor(image, torch.device("cpu"))[None], layers, pooling=settings.pooling)


def describe_ours(settings: Settings) -> str:
    """Settings column for our engine: optimiser, scales, precision, weights."""
    dtype = resolve_dtype(settings.precision, resolve_device(settings.device))
    scales = "→".join(str(s) for s in scale_sides(settings.size, settings))
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    return (f"{settings.optimizer.upper().replace('LBFGS', 'L-BFGS')}, {scales}, {precision},"
            f" α={settings.content_weight:g} β={settings.style_weight:g}")


def machine_info() -> list[str]:
    """CPU model, cores, torch version, bf16 support and the date."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            names = (line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
            model = next(names, model)
    except OSError:
        model = platform.processor() or model
    return [
        f"- CPU: {model}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, bf16 (oneDNN): {cpu_has_bf16()}",
        *([f"- GPU: {torch.cuda.get_device_name()}, CUDA {torch.version.cuda},"
           f" cuDNN {torch.backends.cudnn.version()}"] if torch.cuda.is_available() else []),
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
    ]


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:9]]
    busy = sum(jiffies) - jiffies[3] - jiffies[4]  # all but idle and iowait
    # Children count once joined, which both tool processes are by the time this is read.
    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    own = sum(u.ru_utime + u.ru_stime for u in usages)
    return busy / os.sysconf("SC_CLK_TCK"), own


def contention(before: tuple[float, float], after: tuple[float, float], seconds: float) -> str:
    """Share of the machine's CPU that other processes used during the benchmark: the timings
    are only clean when it is near 0 %, since they compete for the same cores."""
    others = (after[0] - before[0]) - (after[1] - before[1])
    share = max(0.0, others) / (seconds * (os.cpu_count() or 1))
    return f"- other processes used {share:.0%} of the CPU during the benchmark (timings are clean near 0%)"


def table(results: list[RunResult], scores: list[dict[str, float]], size: tuple[int, int],
          memory: str = "rss") -> list[str]:
    """The Markdown results table; ``memory`` 'rss' shows each process's peak resident memory,
    'gpu_mib' the peak GPU memory its run allocated."""
    rows = [
        f"| tool | settings ({size[0]}×{size[1]}) | steps | s/step | wall s"
        f" | {'peak RSS' if memory == 'rss' else 'peak GPU'} MiB"
        " | content | style | α·c+β·s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r, s in zip(results, scores):
        mib = r.peak_rss_mib if memory == "rss" else r.notes[memory]
        rows.append(f"| {r.tool} | {r.settings} | {r.steps} | {r.step_seconds:.3f} | {r.wall:.2f}"
                    f" | {mib:.0f} | {s['content']:.4g} | {s['style']:.4g} | {s['total']:.4g} |")
    return rows


def summary(results: list[RunResult], scores: list[dict[str, float]]) -> list[str]:
    """Lines under the table: our first-preview time, output-size step cost, and the speed ratio."""
    ours = results[0].notes
    lines = [
        f"- ours: model load {ours['load']:.2f} s (in wall); time to first preview"
        f" {ours['first_preview']:.2f} s after calling stylize() with the model loaded (target < 3 s)",
        f"- ours at the output size: {ours['full_step']:.3f} s/step over its last"
        f" {int(ours['full_steps'])} steps",
    ]
    if len(results) > 1:
        lines.append(f"- pastiche: construction (model load + targets)"
                     f" {results[1].notes['load']:.2f} s (in wall)")
        lines.append(f"- peak memory: ours / pastiche = {results[0].peak_rss_mib / results[1].peak_rss_mib:.2f}"
                     " (target ≤ 0.6)")
        lines.append(speed_claim(results, scores))
    return lines


def as_good(ours: dict[str, float], peer: dict[str, float]) -> bool:
    """Whether ``ours`` is at most ``peer`` on both raw terms, content and style: "its quality"."""
    return ours["content"] <= peer["content"] and ours["style"] <= peer["style"]


def speed_claim(results: list[RunResult], scores: list[dict[str, float]]) -> str:
    """pastiche's wall time over ours, claimed only when ours is at least as good on both raw
    terms: the total α·c+β·s is our own objective, which pastiche does not minimise, so a lower
    total alone can mean less stylised rather than better."""
    ours, peer = scores
    terms = ", ".join(f"{k} {ours[k]:.4g} vs {peer[k]:.4g}" for k in ("content", "style", "total"))
    if as_good(ours, peer):
        return (f"- ours ≤ pastiche on both terms ({terms}):"
                f" pastiche wall / ours wall = {results[1].wall / results[0].wall:.2f}×")
    return f"- no speed ratio claimed: ours is not ≤ pastiche on both terms (ours vs pastiche: {terms})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; --quick changes the defaults only, explicit flags still win."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", help=f"content image (default {DEFAULT_CONTENT})")
    parser.add_argument("--style", help=f"style image (default {DEFAULT_STYLE})")
    parser.add_argument("--synthetic", action="store_true", help="generate the image pair instead")
    parser.add_argument("--size", type=int, help=f"output max side (default {Settings.size})")
    parser.add_argument("--steps", type=int, help=f"our steps (default {Settings.steps})")
    parser.add_argument("--style-weight", type=float,
                        help=f"our β (default {Settings.style_weight:g}); the evaluator's raw terms do not depend on it")
    parser.add_argument("--pastiche-steps", type=int, help=f"pastiche steps (default {PASTICHE_STEPS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--skip-pastiche", action="store_true", help="run only our engine")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU comparison (needs CUDA)")
    parser.add_argument("--ladder", type=lambda t: tuple(int(v) for v in t.split(",")),
                        help="our shorter step budgets for time to quality, e.g. 60,100,150,200")
    parser.add_argument("--fast-ladder", type=lambda t: tuple(int(v) for v in t.split(",")),
                        help=f"step budgets for time to quality from the fast result (default"
                             f" {','.join(map(str, FAST_LADDER))})")
    parser.add_argument("--fast-top-ladder", type=lambda t: tuple(int(v) for v in t.split(",")),
                        help=f"the same at the output size only (default {','.join(map(str, FAST_TOP_LADDER))})")
    parser.add_argument("--fast-sides", type=lambda t: tuple(int(v) for v in t.split(",")),
                        help=f"sides at which the fast method alone is timed (default"
                             f" {','.join(map(str, FAST_SIDES))})")
    parser.add_argument("--throughput-sides", type=lambda t: tuple(int(v) for v in t.split(",")),
                        default=(256, 512), help="single-scale sides for seconds per step (default 256,512)")
    quick = "size {size}, ours {steps} steps, pastiche {pastiche_steps}: to test this script".format(**QUICK)
    parser.add_argument("--quick", action="store_true", help=quick)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"size": Settings.size, "steps": Settings.steps,
                                         "pastiche_steps": PASTICHE_STEPS, "ladder": LADDER,
                                         "fast_ladder": FAST_LADDER, "fast_top_ladder": FAST_TOP_LADDER,
                                         "fast_sides": FAST_SIDES}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run both tools on the CPU, score their outputs, then time to quality and throughput; with
    a GPU, the GPU comparison too (or only that, with --gpu-only). Print and save the report."""
    args = parse_args(argv)
    try:
        settings = Settings(size=args.size, steps=args.steps, device="cpu",
                            style_weight=args.style_weight if args.style_weight is not None else Settings.style_weight)
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    if args.gpu_only and not torch.cuda.is_available():
        sys.exit("error: --gpu-only needs a CUDA GPU, and torch sees none here")
    content, style = input_pair(args)
    args.out.mkdir(parents=True, exist_ok=True)
    started, before = time.perf_counter(), cpu_seconds()
    sections: list[str] = []
    images: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="nst-bench-") as folder:
        content_path, style_path = prepare_inputs(content, style, settings, Path(folder))
        scored = load_image(content_path), load_image(style_path)
        if not args.gpu_only:
            sections += cpu_sections(content_path, style_path, settings, args, scored, images)
        if torch.cuda.is_available():
            lines, gpu_images = gpu_section(content_path, style_path, settings,
                                            None if args.skip_pastiche else args.pastiche_steps, scored,
                                            args.fast_top_ladder)
            sections += ["", f"### GPU: {torch.cuda.get_device_name()} (target < 5 s for {settings.steps}"
                         f" steps at {settings.size} px on an H100)", "", *lines]
            images.update(gpu_images)
    busy = contention(before, cpu_seconds(), time.perf_counter() - started)
    for name, image in images.items():
        Image.fromarray(image).save(args.out / name)
    report = ["## nst vs pastiche", "", *machine_info(), busy, *sections, "",
              f"Scores: our losses in fp32 on the bundled VGG19 at the output size. Images: {args.out}"]
    text = "\n".join(report)
    print(text)
    (args.out / "report.md").write_text(text + "\n")


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


if __name__ == "__main__":
    main()
