"""The optimise method for clips (Ruder et al. 2016): the temporal loss against frame-by-frame
optimisation, on the same clip and settings.

    python -m bench.video_optimise [--clip PATH | --photo PATH] [--style PATH] [--size 256]
                                   [--frames 8] [--fps 12] [--steps 60] [--temporal-weight W] [--out DIR]

Without ``--clip``, the clip is :func:`bench.video_flicker.make_clip`'s pan and zoom across
``--photo`` (default ../shared/images/tubingen.jpg; a generated texture where it is missing). Each
mode runs the real :func:`nst.video.stylize_video` with ``method="gatys"`` end to end: frame by
frame (temporal weight 0: every frame an image run of ``--steps``) and with the temporal loss (the
first frame as an image run, each next one from the warped previous result for a third of the
steps). Both are scored on their written clips with :func:`bench.video_flicker.score`: the warping
error on the input's reliable flow, the fast network's style-embedding distance and luminance SSIM.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from bench.pair import SHARED_IMAGES
from bench.report import cpu_name
from bench.video_flicker import make_clip, score
from nst.core.settings import Settings
from nst.io.video_files import probe
from nst.video import VideoOptions, stylize_video, working_size
from nst.video.optimised_frames import DEFAULT_TEMPORAL_WEIGHT, following_steps
from tests.support.clips import texture


def timed(source: Path, style: Image.Image, settings: Settings, weight: float, out: Path) -> dict[str, float]:
    """One end-to-end run: frames written, scene cuts found (a cut frame is styled alone), seconds a
    frame, the first frame's and the others' mean."""
    started = last = time.perf_counter()
    seconds: list[float] = []
    cuts = 0
    for record in stylize_video(source, [style], settings, out, VideoOptions(temporal_weight=weight)):
        if not record.done:
            now = time.perf_counter()
            seconds.append(now - last)
            last = now
            cuts += record.cut
    total = time.perf_counter() - started
    rest = seconds[1:] or seconds
    return {"frames": len(seconds), "cuts": cuts, "per_frame": total / len(seconds), "first": seconds[0],
            "rest": sum(rest) / len(rest)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.video_optimise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, help="an input clip (default: one made from --photo)")
    parser.add_argument("--photo", type=Path, default=SHARED_IMAGES / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED_IMAGES / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=256, help="the frames' longest side while styling")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--steps", type=int, default=60, help="the first frame's steps (and every frame's, alone)")
    parser.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nst-video-optimise-bench")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    photo = args.photo if args.photo.exists() else None
    source = args.clip or make_clip(args.out / "input.mp4", photo, args.size, args.frames / args.fps, args.fps)
    style = Image.open(args.style).convert("RGB") if args.style.exists() else \
        Image.fromarray(texture(256, 256, seed=9))
    info = probe(source)
    settings = Settings(method="gatys", size=args.size, steps=args.steps, device="cpu")
    size = working_size(info, args.size)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}; clip {info.width}×{info.height}, "
          f"{info.frames} frames, styled at {size[0]}×{size[1]}; photo "
          f"{args.clip.name if args.clip else photo.name if photo else 'missing: a generated texture'}; style "
          f"{args.style.name if args.style.exists() else 'missing: a generated texture'}; {args.steps} steps a frame "
          f"alone, {args.steps} then {following_steps(args.steps)} with the temporal loss "
          f"(weight {args.temporal_weight:.3g}); load average before: {os.getloadavg()[0]:.1f}")
    rows = []
    for name, weight in (("frame by frame", 0.0), ("temporal loss", args.temporal_weight)):
        out = args.out / f"styled-{weight:g}.mp4"
        rows.append((name, timed(source, style, settings, weight, out), score(source, out, style, size)))
    print(f"# load average after: {os.getloadavg()[0]:.1f}")
    base = rows[0][2]
    print("| mode | frames (cuts) | s a frame | first frame s | next frames s | warping error | × frame by frame "
          "| style distance | × | luminance SSIM | × |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, timing, scores in rows:
        print(f"| {name} | {timing['frames']} ({timing['cuts']}) | {timing['per_frame']:.1f} | {timing['first']:.1f} | "
              f"{timing['rest']:.1f} | {scores['warping']:.4f} | {scores['warping'] / base['warping']:.2f} | "
              f"{scores['style']:.3f} | {scores['style'] / base['style']:.2f} | {scores['ssim']:.3f} | "
              f"{scores['ssim'] / base['ssim']:.2f} |")


if __name__ == "__main__":
    main()
