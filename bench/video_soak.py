"""Memory over a long clip: the frames stream through (decode, flow, network, blend, encode), so the
process's resident memory stays flat however long the clip is.

    python -m bench.video_soak [--seconds 60] [--fps 12] [--size 512] [--every 10]

A pan and zoom across ../shared/images/tubingen.jpg (a generated texture where it is missing) of
``--seconds`` is made here (:func:`bench.video_flicker.make_clip`) and styled once through
:func:`nst.video.stylize_video` with the default consistency; the table gives the resident memory
(VmRSS) every ``--every`` seconds of clip and the process's peak (VmHWM), so growth over the clip
shows as a rising column.
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
from bench.video_flicker import make_clip
from nst.core.settings import Settings
from nst.io.video_files import probe
from nst.video import DEFAULT_CONSISTENCY, VideoOptions, stylize_video
from tests.support.clips import texture


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes (VmRSS: now, VmHWM: the peak)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.video_soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the clip's length")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--size", type=int, default=512, help="the frames' longest side while styling")
    parser.add_argument("--every", type=float, default=10.0, help="a row every this many seconds of clip")
    parser.add_argument("--photo", type=Path, default=SHARED_IMAGES / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED_IMAGES / "starry_night.jpg")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        source = make_clip(Path(folder) / "long.mp4", args.photo, args.size, args.seconds, args.fps)
        info = probe(source)
        style = Image.open(args.style).convert("RGB") if args.style.exists() else \
            Image.fromarray(texture(256, 256, seed=9))
        print(f"# {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}; clip {info.width}×{info.height},"
              f" {info.frames} frames at {float(info.fps):g} fps ({info.seconds:.0f} s), consistency"
              f" {DEFAULT_CONSISTENCY:g}; {'photo ' + args.photo.name if args.photo.exists() else 'generated texture'}")
        print("| clip second | frames done | wall seconds | RSS | peak RSS |")
        print("|---:|---:|---:|---:|---:|")
        started, next_row = time.perf_counter(), 0.0
        settings = Settings(method="fast", size=args.size, device="cpu")
        for record in stylize_video(source, [style], settings, Path(folder) / "out.mp4", VideoOptions()):
            second = (record.index + 1) / float(info.fps)
            if record.done or second >= next_row:
                print(f"| {second:.0f} | {record.index + 1} | {time.perf_counter() - started:.0f} | "
                      f"{_status('VmRSS') / 2**20:.0f} MB | {_status('VmHWM') / 2**20:.0f} MB |", flush=True)
                next_row = second + args.every


if __name__ == "__main__":
    main()
