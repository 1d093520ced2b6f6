"""The benchmarks' report: the machine a figure was measured on, the Markdown results table of
ours against pastiche, the lines under it, and the speed ratio claimed only at equal quality."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

import torch

from bench.evaluator import as_good
from bench.harness import RunResult
from nst.core.settings import Settings
from nst.plan.device import cpu_has_bf16, resolve_device, resolve_dtype
from nst.plan.schedule import scale_sides


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


def cpu_name() -> str:
    """lscpu's model name (what the issues name the CPU by)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration, subprocess.SubprocessError):
        return "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def publish(report: list[str], out: Path) -> None:
    """Print the report and keep it as ``out``/report.md."""
    text = "\n".join(report)
    print(text)
    (out / "report.md").write_text(text + "\n")


def describe_ours(settings: Settings) -> str:
    """Settings column for our engine: optimiser, scales, precision, weights."""
    dtype = resolve_dtype(settings.precision, resolve_device(settings.device))
    scales = "→".join(str(s) for s in scale_sides(settings.size, settings))
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    return (f"{settings.optimizer.upper().replace('LBFGS', 'L-BFGS')}, {scales}, {precision},"
            f" α={settings.content_weight:g} β={settings.style_weight:g}")


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
