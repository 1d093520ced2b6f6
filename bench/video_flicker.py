"""Flicker, style and speed of a styled clip, with consistency on against frame by frame.

    python -m bench.video_flicker [--clip PATH | --photo PATH] [--style PATH] [--size 512]
                                  [--seconds 4] [--fps 24] [--consistency 0,0.75] [--repeat 1] [--out DIR]

Without ``--clip``, the clip is made here: a slow pan and zoom across ``--photo`` (default
../shared/images/tubingen.jpg; a generated texture where it is missing) with a tone as its sound.
Each consistency runs the real :func:`nst.video.stylize_video` end to end (decode, flow, network,
blend, encode) and is then scored on its written clip, frame by frame against the input:

* **warping error**: mean over frames of |O_t - warp(O_t-1)| on the pixels where the *input's*
  flow is reliable (:func:`nst.model.flow.warping_error`), and its ratio to frame by frame's;
* **style distance**: the fast network's style predictor's embedding of each frame against the
  style image's (L2; lower is nearer the style), so a result that fades the style scores worse;
* **SSIM**: luminance SSIM of each frame to its input frame (content kept);
* **RSS growth**: resident memory at the last frame minus at the first (frames stream through).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from bench.pair import SHARED_IMAGES
from bench.region_quality import luminance_ssim
from bench.report import cpu_name
from nst.core.settings import Settings
from nst.io.video_files import probe, read_frames
from nst.model.fast.inference import embed
from nst.model.flow import FlowEstimator, warping_error
from nst.video import VideoOptions, stylize_video, working_size
from tests.support.clips import texture, write_clip


def make_clip(path: Path, photo: Path | None, side: int, seconds: float, fps: int) -> Path:
    """A pan and slow zoom across ``photo`` (or a texture) at ``side`` px wide, with a 220 Hz tone."""
    if photo is not None and photo.exists():
        picture = np.asarray(Image.open(photo).convert("RGB"))
    else:
        picture = texture(side * 2, side * 3 // 2, seed=5)
    height, width = picture.shape[:2]
    frames = round(seconds * fps)
    out_w, out_h = side, side * 3 // 4 // 2 * 2

    def view(t: int) -> np.ndarray:
        zoom = 0.7 - 0.15 * t / max(frames - 1, 1)  # the crop shrinks: a slow zoom in
        crop_w = int(width * zoom)
        crop_h = int(crop_w * out_h / out_w)
        left = int((width - crop_w) * t / max(frames - 1, 1))
        top = (height - crop_h) // 2
        crop = Image.fromarray(picture[top:top + crop_h, left:left + crop_w])
        return np.asarray(crop.resize((out_w, out_h), Image.Resampling.LANCZOS))

    return write_clip(path, view, frames, fps, tone=220.0, options={"crf": "16"})


def _rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def _tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(frame)).permute(2, 0, 1).float().div(255)


def score(source: Path, result: Path, style: Image.Image, size: tuple[int, int]) -> dict[str, float]:
    """Warping error (input flow), style distance and luminance SSIM of the clip ``result`` against ``source``."""
    return score_frames(read_frames(source, probe(source)), read_frames(result, probe(result)), style, size)


def score_frames(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], style: Image.Image,
                 size: tuple[int, int]) -> dict[str, float]:
    """The three scores of the styled frames ``outputs`` against the input frames ``inputs``, streamed."""
    style_embedding = embed(_tensor(np.asarray(style.convert("RGB"))), torch.device("cpu"))
    flow = FlowEstimator()
    errors, distances, ssims = [], [], []
    previous = None
    for frame_in, frame_out in zip(inputs, outputs):
        frame_in = np.asarray(Image.fromarray(frame_in).resize(size, Image.Resampling.LANCZOS))
        frame_out = frame_out[: size[1], : size[0]]
        if previous is not None:
            errors.append(warping_error(previous[1], frame_out, flow.motion(previous[0], frame_in)))
        distances.append(float((embed(_tensor(frame_out), torch.device("cpu")) - style_embedding).norm()))
        ssims.append(float(luminance_ssim(frame_out, frame_in).mean()))
        previous = (frame_in, frame_out)
    return {"warping": float(np.mean(errors)), "style": float(np.mean(distances)), "ssim": float(np.mean(ssims))}


def run(source: Path, style: Image.Image, settings: Settings, consistency: float, out: Path,
        frames_dir: Path | None = None) -> dict[str, float]:
    """One end-to-end run; its seconds, frames per second and RSS growth. With ``frames_dir``, each
    styled frame is also saved there as it comes (.npy, a millisecond each), to score the frames
    before the encoder's 4:2:0 chroma and quantisation (see :func:`saved_frames`)."""
    started = time.perf_counter()
    first_rss = last_rss = 0
    frames = 0
    for record in stylize_video(source, [style], settings, out, VideoOptions(consistency=consistency)):
        if not record.done:
            frames += 1
            last_rss = _rss()
            first_rss = first_rss or last_rss
            if frames_dir is not None:
                np.save(frames_dir / f"{record.index:05d}.npy", record.image)
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "rss_growth": last_rss - first_rss}


def saved_frames(folder: Path) -> Iterator[np.ndarray]:
    """The frames :func:`run` saved in ``folder``, in order."""
    for path in sorted(folder.glob("*.npy")):
        yield np.load(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.video_flicker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, help="an input clip (default: one made from --photo)")
    parser.add_argument("--photo", type=Path, default=SHARED_IMAGES / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED_IMAGES / "starry_night.jpg")
    parser.add_argument("--size", type=int, default=512, help="the frames' longest side while styling")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--consistency", default="0,0.75", help="comma-separated; 0 is frame by frame")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each consistency this many times, in turn, and give the median frames per second")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nst-video-bench")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    source = args.clip or make_clip(args.out / "input.mp4", args.photo, args.size, args.seconds, args.fps)
    style = Image.open(args.style).convert("RGB") if args.style.exists() else \
        Image.fromarray(texture(256, 256, seed=9))
    info = probe(source)
    settings = Settings(method="fast", size=args.size, device="cpu")
    size = working_size(info, args.size)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}; clip {info.width}×{info.height}, "
          f"{info.frames} frames at {float(info.fps):g} fps, styled at {size[0]}×{size[1]}; "
          f"style {args.style.name if args.style.exists() else 'generated texture'}; frames per second: median of"
          f" {args.repeat} run(s) each")
    rows = []
    values = [float(v) for v in args.consistency.split(",")]
    for value in values:
        out = args.out / f"styled-{value:g}.mp4"
        with tempfile.TemporaryDirectory() as folder:
            timing = run(source, style, settings, value, out, Path(folder))
            styled = score_frames(read_frames(source, info), saved_frames(Path(folder)), style, size)
        rows.append((value, timing, styled, score(source, out, style, size)))
    # Further timings in turn (0, 0.5, ... then again), so that a drift in the machine's speed falls
    # on every consistency alike; the table gives the median of all.
    paces = {value: [timing["fps"]] for value, timing, *_ in rows}
    for _ in range(args.repeat - 1):
        for value in values:
            paces[value].append(run(source, style, settings, value, args.out / f"styled-{value:g}.mp4")["fps"])
    for value, timing, *_ in rows:
        timing["fps"] = statistics.median(paces[value])
    # Scored twice: the styled frames (the method's own effect) and the written clip (what a viewer gets:
    # H.264's 4:2:0 chroma moves the style distance, which reads colour detail).
    for label, column in (("styled frames, before encoding", 2), ("the written H.264 clip", 3)):
        base = next((row[column] for row in rows if row[0] == 0), rows[0][column])
        print(f"\n{label}:\n")
        print("| consistency | frames | fps end to end | warping error | × frame by frame | style distance "
              "| × | luminance SSIM | × | RSS growth |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            value, timing, scores = row[0], row[1], row[column]
            print(f"| {value:g} | {timing['frames']} | {timing['fps']:.2f} | {scores['warping']:.4f} | "
                  f"{scores['warping'] / base['warping']:.2f} | {scores['style']:.3f} | "
                  f"{scores['style'] / base['style']:.2f} | {scores['ssim']:.3f} | {scores['ssim'] / base['ssim']:.2f} | "
                  f"{timing['rss_growth'] / 2**20:+.0f} MB |")


if __name__ == "__main__":
    main()
