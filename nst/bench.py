"""Benchmark our engine against pastiche (PyPI ``pastiche``) on one image pair.

Run ``python -m nst.bench [--content PATH --style PATH] [--size 512] [--steps N]
[--pastiche-steps N] [--out DIR] [--skip-pastiche] [--quick] [--synthetic]``.

Each tool runs in its own spawned process, so the peak RSS reported is that tool's alone. Both
outputs are scored by one evaluator: our Gatys losses on the bundled VGG19 in fp32, with our
settings' layers and weights. Pastiche optimises its own weighting of the same terms, so its
score is on an objective it does not minimise; the raw content and style columns show the trade.
"""

from __future__ import annotations

import argparse
import datetime
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

from nst.device import cpu_has_bf16, resolve_device, resolve_dtype
from nst.engine import scale_sides, stylize, to_tensor
from nst.images import ImageError, load_image, resize_max_side
from nst.losses import content_loss, gram, style_loss
from nst.settings import Settings, SettingsError
from nst.vgg import load_model

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO_ROOT.parent / "shared" / "images" / "tubingen.jpg"
DEFAULT_STYLE = REPO_ROOT.parent / "shared" / "images" / "starry_night.jpg"
DEFAULT_OUT = Path("/tmp/nst-bench")
PASTICHE_STEPS = 100
QUICK = {"size": 256, "steps": 60, "pastiche_steps": 20}
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


# ---------------------------------------------------------------- inputs


def synthetic_pair(size: int) -> tuple[Image.Image, Image.Image]:
    """A deterministic content (smooth shapes) and style (coloured strokes) pair."""
    rng = np.random.default_rng(0)
    h, w = round(size * 0.75), size
    y, x = np.mgrid[0:h, 0:w] / size
    content = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x * y)], axis=-1)
    content[(x - 0.5) ** 2 + (y - 0.4) ** 2 < 0.04] = (0.9, 0.8, 0.2)
    angle = rng.uniform(0, np.pi, size=3)
    style = np.stack([0.5 + 0.5 * np.sin(40 * (np.cos(a) * x + np.sin(a) * y)) for a in angle], axis=-1)
    style = np.clip(style + rng.normal(0, 0.1, style.shape), 0, 1)
    return (Image.fromarray(np.uint8(content * 255)), Image.fromarray(np.uint8(style * 255)))


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
    """Our engine, timed from model load; notes the time to first preview and the output-size step cost."""
    torch.manual_seed(settings.seed)
    content, style = load_image(content_path), load_image(style_path)
    start = time.perf_counter()
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
    return RunResult(
        tool="nst (ours)", settings=describe_ours(settings), steps=settings.steps, wall=end - start,
        step_seconds=(end - loaded) / settings.steps, peak_rss_mib=0.0, image=image,
        notes={"load": loaded - start, "first_preview": first_preview,
               "full_step": mean_interval(final_scale), "full_steps": len(final_scale)})


def run_pastiche(content_path: Path, style_path: Path, settings: Settings, steps: int) -> RunResult:
    """pastiche with its default loss weights, timed from construction (which loads its model)."""
    from pastiche.pastiche import PasticheArtist  # the peer being measured; only ever loaded here

    torch.manual_seed(settings.seed)
    start = time.perf_counter()
    artist = PasticheArtist(str(content_path), [str(style_path)], size=settings.size,
                            style_size=style_side(settings), device="cpu", optimizer="lbfgs")
    built = time.perf_counter()
    for _ in range(steps):
        artist.draw()
    end = time.perf_counter()
    return RunResult(
        tool="pastiche 1.6.0", settings=f"L-BFGS, {settings.size}, fp32, its default weights",
        steps=steps, wall=end - start, step_seconds=(end - built) / steps, peak_rss_mib=0.0,
        image=pastiche_to_rgb(artist.pastiche), notes={"load": built - start})


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
    process.start()
    sender.close()  # so recv() sees EOF if the child dies without sending
    try:
        result = receiver.recv()  # before join(): a large result would block the child's send
    except EOFError:
        process.join()
        raise RuntimeError(f"{fn.__name__} died with exit code {process.exitcode} (out of memory?)") from None
    process.join()
    if isinstance(result, str):
        raise RuntimeError(f"{fn.__name__} failed in its child process:\n{result}")
    return result


# ---------------------------------------------------------------- scoring and report


def evaluate(image: Image.Image, content: Image.Image, style: Image.Image,
             settings: Settings) -> dict[str, float]:
    """Our Gatys losses of ``image`` in fp32 on the bundled VGG19, at the image's size: raw
    content, raw style (layer-weighted), and total α·content + β·style."""
    side = max(image.size)
    content = content.resize(image.size, Image.Resampling.LANCZOS) if content.size != image.size else content
    style = resize_max_side(style, style_side(settings, side))
    n = len(settings.style_layers)
    layer_weights = settings.style_layer_weights or (1.0 / n,) * n
    with torch.no_grad():
        feats = _fp32_features(image, settings.content_layers + settings.style_layers, settings)
        content_feats = _fp32_features(content, settings.content_layers, settings)
        style_feats = _fp32_features(style, settings.style_layers, settings)
        c = sum(float(content_loss(feats[l], content_feats[l])) for l in settings.content_layers)
        s = sum(w * float(style_loss(feats[l], gram(style_feats[l])))
                for l, w in zip(settings.style_layers, layer_weights))
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


def table(results: list[RunResult], scores: list[dict[str, float]], size: tuple[int, int]) -> list[str]:
    """The Markdown results table."""
    rows = [
        f"| tool | settings ({size[0]}×{size[1]}) | steps | s/step | wall s | peak RSS MiB"
        " | content | style | α·c+β·s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r, s in zip(results, scores):
        rows.append(f"| {r.tool} | {r.settings} | {r.steps} | {r.step_seconds:.3f} | {r.wall:.1f}"
                    f" | {r.peak_rss_mib:.0f} | {s['content']:.4g} | {s['style']:.4g} | {s['total']:.4g} |")
    return rows


def summary(results: list[RunResult], scores: list[dict[str, float]]) -> list[str]:
    """Lines under the table: our first-preview time, output-size step cost, and the speed ratio."""
    ours = results[0].notes
    lines = [
        f"- ours: model load {ours['load']:.2f} s (in wall); time to first preview"
        f" {ours['first_preview']:.2f} s after calling stylize() with the model loaded",
        f"- ours at the output size: {ours['full_step']:.3f} s/step over its last"
        f" {int(ours['full_steps'])} steps",
    ]
    if len(results) > 1:
        lines.append(f"- pastiche: construction (model load + targets)"
                     f" {results[1].notes['load']:.2f} s (in wall)")
        lines.append(speed_claim(results, scores))
    return lines


def speed_claim(results: list[RunResult], scores: list[dict[str, float]]) -> str:
    """pastiche's wall time over ours, claimed only when ours is at least as good on both raw
    terms: the total α·c+β·s is our own objective, which pastiche does not minimise, so a lower
    total alone can mean less stylised rather than better."""
    ours, peer = scores
    terms = ", ".join(f"{k} {ours[k]:.4g} vs {peer[k]:.4g}" for k in ("content", "style", "total"))
    if ours["content"] <= peer["content"] and ours["style"] <= peer["style"]:
        return (f"- ours ≤ pastiche on both terms ({terms}):"
                f" pastiche wall / ours wall = {results[1].wall / results[0].wall:.2f}×")
    return f"- no speed ratio claimed: ours is not ≤ pastiche on both terms (ours vs pastiche: {terms})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; --quick changes the defaults only, explicit flags still win."""
    parser = argparse.ArgumentParser(prog="python -m nst.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", help=f"content image (default {DEFAULT_CONTENT})")
    parser.add_argument("--style", help=f"style image (default {DEFAULT_STYLE})")
    parser.add_argument("--synthetic", action="store_true", help="generate the image pair instead")
    parser.add_argument("--size", type=int, help=f"output max side (default {Settings.size})")
    parser.add_argument("--steps", type=int, help=f"our steps (default {Settings.steps})")
    parser.add_argument("--pastiche-steps", type=int, help=f"pastiche steps (default {PASTICHE_STEPS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--skip-pastiche", action="store_true", help="run only our engine")
    quick = "size {size}, ours {steps} steps, pastiche {pastiche_steps}: to test this script".format(**QUICK)
    parser.add_argument("--quick", action="store_true", help=quick)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"size": Settings.size, "steps": Settings.steps,
                                         "pastiche_steps": PASTICHE_STEPS}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run both tools, score their outputs, print and save the report."""
    args = parse_args(argv)
    try:
        settings = Settings(size=args.size, steps=args.steps)
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    content, style = input_pair(args)
    args.out.mkdir(parents=True, exist_ok=True)
    started, before = time.perf_counter(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="nst-bench-") as folder:
        content_path, style_path = prepare_inputs(content, style, settings, Path(folder))
        results = [in_child(run_ours, content_path, style_path, settings)]
        if not args.skip_pastiche:
            results.append(in_child(run_pastiche, content_path, style_path, settings, args.pastiche_steps))
        content, style = load_image(content_path), load_image(style_path)
    busy = contention(before, cpu_seconds(), time.perf_counter() - started)
    outputs = [Image.fromarray(r.image) for r in results]
    scores = [evaluate(image, content, style, settings) for image in outputs]
    for name, image in zip(("ours.png", "pastiche.png"), outputs):
        image.save(args.out / name)
    report = ["## nst vs pastiche", "", *machine_info(), busy, "",
              *table(results, scores, content.size), "", *summary(results, scores), "",
              f"Scores: our losses in fp32 on the bundled VGG19 at the output size. Images: {args.out}"]
    text = "\n".join(report)
    print(text)
    (args.out / "report.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
