"""Does fanning a clip out in parts pay on a Ray cluster? One run of 2 CPUs against 2 parts of 1 CPU.

    python -m bench.video_fanout [--photo PATH] [--style PATH] [--size 512] [--seconds 4] [--fps 24]
                                 [--consistency 0.5] [--repeat 1] [--out DIR]

A real Ray cluster in this process (tests/support/raycluster.py: a head that runs nothing and one
worker node of 2 CPUs, on 127.0.0.1) styles the clip bench/video_flicker.py makes (a pan and zoom
across ``--photo``), through :meth:`nst.run.cluster.RayExecutor.submit_clip` end to end (the clip
sent, decode, flow, network, blend, frames back, encode here), as:

* **local**: :func:`nst.video.stylize_video` in this process (2 torch threads), for reference;
* **1 run × 2 CPUs** with the frames coming back as raw arrays, and again as lossless PNGs (which
  wire is cheaper over loopback);
* **2 parts × 1 CPU**: the clip split in two, the parts at once, the second warmed on the frame
  before it.

Each is scored on the styled frames as written (the records' images): frames per second from
submit to the closing record, and the **warping error** (|O_t − warp(O_t−1)| on reliable pixels,
flow from the input, :func:`nst.model.flow.warping_error`), over all frames and at the frame where
the second part begins (where the blend chain restarts) against the mean elsewhere.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image

from tests.support.raycluster import local_cluster  # first: it imports Ray on loopback
from bench.pair import SHARED_IMAGES
from bench.report import cpu_name, load_average
from bench.video_flicker import make_clip
from nst.core.settings import Settings
from nst.io.video_files import probe, read_frames
from nst.model.flow import FlowEstimator, warping_error
from nst.run.clip_parts import MIN_PART_FRAMES, spans
from nst.run.cluster import RayExecutor
from nst.video import FrameRecord, VideoOptions, stylize_video, working_size
from tests.support.clips import texture


def timed(records: Iterator[FrameRecord]) -> tuple[list[np.ndarray], float]:
    """The styled frames of a run and its frames per second, from the call to the closing record."""
    started = time.perf_counter()
    images = [record.image for record in records if not record.done]
    return images, len(images) / (time.perf_counter() - started)


def errors(source: Path, images: list[np.ndarray], size: tuple[int, int]) -> list[float]:
    """The warping error of each frame after the first against the one before, flow from the input."""
    flow, found, previous = FlowEstimator(), [], None
    for frame_in, styled in zip(read_frames(source, probe(source)), images):
        frame_in = np.asarray(Image.fromarray(frame_in).resize(size, Image.Resampling.LANCZOS))
        if previous is not None:
            found.append(warping_error(previous[1], styled, flow.motion(previous[0], frame_in)))
        previous = (frame_in, styled)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.video_fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=SHARED_IMAGES / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED_IMAGES / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--consistency", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, taken in turn; the median fps is shown")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nst-fanout-bench")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    source = make_clip(args.out / "input.mp4", args.photo, args.size, args.seconds, args.fps)
    style = Image.open(args.style).convert("RGB") if args.style.exists() else Image.fromarray(texture(256, 256, 9))
    info = probe(source)
    settings = Settings(method="fast", size=args.size, device="cpu")
    options = VideoOptions(consistency=args.consistency)
    size = working_size(info, args.size)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}; clip {info.width}×{info.height}, "
          f"{info.frames} frames, styled at {size[0]}×{size[1]}, consistency {args.consistency:g}; "
          f"load before: {load_average()}")
    boundary = spans(info.frames, 2)[1][0]
    with local_cluster(workers=1, cpus=2) as cluster:
        whole = RayExecutor(cluster.address, cpus_per_run=2, clip_chunks=1)
        png = RayExecutor(cluster.address, cpus_per_run=2, clip_chunks=1, frame_wire="png")
        parts = RayExecutor(cluster.address, cpus_per_run=1, clip_chunks=2)

        def on(executor: RayExecutor) -> Callable[[Path], Iterator[FrameRecord]]:
            return lambda out: executor.submit_clip(source, [style], settings, out, options).records()

        runs: list[tuple[str, Callable[[Path], Iterator[FrameRecord]]]] = [
            ("local, 2 threads", lambda out: stylize_video(source, [style], settings, out, options)),
            ("1 run × 2 CPUs, raw frames", on(whole)),
            ("1 run × 2 CPUs, PNG frames", on(png)),
            ("2 parts × 1 CPU, raw frames", on(parts)),
        ]
        # Warm the worker processes (Python, torch, the network) as a studio's earlier runs would have.
        warm = make_clip(args.out / "warm.mp4", args.photo, args.size, 2 * MIN_PART_FRAMES / args.fps, args.fps)
        for executor in (whole, parts):
            list(executor.submit_clip(warm, [style], settings, args.out / "warm-out.mp4", options).records())
        speeds: dict[str, list[float]] = {label: [] for label, _ in runs}
        scores = {}
        for turn in range(args.repeat):  # in turn, so that a change of load falls on every kind alike
            for label, run in runs:
                images, fps = timed(run(args.out / "styled.mp4"))
                speeds[label].append(fps)
                if turn == 0:  # the same frames every time: scored once
                    found = errors(source, images, size)
                    at = found[boundary - 1]  # found[i] is frame i + 1's error
                    rest = float(np.mean(found[:boundary - 1] + found[boundary:]))
                    scores[label] = (len(images), float(np.mean(found)), at, rest)
    print(f"# load after: {load_average()}; the second part starts at frame {boundary}")
    print("| run | frames | fps end to end (median) | each | warping error | at frame "
          f"{boundary} | elsewhere | × elsewhere |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for label, (frames, mean, at, rest) in scores.items():
        each = ", ".join(f"{fps:.2f}" for fps in speeds[label])
        print(f"| {label} | {frames} | {np.median(speeds[label]):.2f} | {each} | {mean:.4f} | {at:.4f} | {rest:.4f} |"
              f" {at / rest:.2f} |")


if __name__ == "__main__":
    main()
