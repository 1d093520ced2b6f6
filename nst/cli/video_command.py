"""The command line for a clip: ``python -m nst clip.mp4 painting.jpg -o out.mp4``.

A clip is recognised by its first bytes (:func:`nst.io.video_files.is_video`), not its name. It is
styled through the executor seam (:meth:`nst.run.executor.Executor.submit_clip`: in this process,
or on the Ray cluster ``--ray-address`` names) with the fast method (the default for a clip) or,
with ``--method gatys``, the optimiser held to the previous frame by a temporal loss, and the flags
of an image run that a clip uses (a ``--mask`` is drawn for the first frame; its regions follow the
motion); progress lines give frames done, frames per second, the ETA and the flicker.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from PIL import Image

from nst.core.errors import SettingsError, VideoError
from nst.core.settings import Settings
from nst.io.video_files import MAX_SECONDS, OUTPUTS
from nst.run.executor import Executor
from nst.run.terminal import StatusLine
from nst.video import DEFAULT_CONSISTENCY, FrameRecord, VideoOptions
from nst.video.optimised_frames import DEFAULT_TEMPORAL_WEIGHT

# Flags of an image run that have no meaning for a clip: refused rather than ignored.
IMAGE_ONLY = {"start": "--from", "save_every": "--save-every", "losses_csv": "--losses-csv", "batch": "--batch"}


def add_video_flags(parser: argparse.ArgumentParser) -> None:
    """The flags a clip adds (they do nothing for an image)."""
    group = parser.add_argument_group("when CONTENT is a video clip (MP4, MOV, WebM, MKV or animated GIF)")
    group.add_argument("--consistency", type=float, default=DEFAULT_CONSISTENCY, metavar="C",
                       help="the share of each frame's pixels kept from the previous result where the input's optical"
                            f" flow is reliable, 0 (frame by frame) to 1 (default {DEFAULT_CONSISTENCY:g})")
    group.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT, metavar="W",
                       help="--method gatys: the weight of the loss holding each frame to the previous result where"
                            f" the flow is reliable, 0 for frame by frame (default {DEFAULT_TEMPORAL_WEIGHT:.3g})")
    group.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                       help=f"refuse a longer clip before styling any frame (default {MAX_SECONDS:g})")


class VideoProgress(StatusLine):
    """'frame 12/48, 4.9 frames/s, ETA 7 s, flicker 0.012': a bar on a terminal, else a line
    every ``interval`` seconds."""

    def __init__(self, stream: TextIO, quiet: bool, interval: float = 5.0) -> None:
        super().__init__(stream, quiet)
        self.interval = interval
        self._said_at = -float("inf")

    def update(self, record: FrameRecord) -> None:
        if record.done:
            return
        text = (f"frame {record.index + 1}/{record.total}"
                f"{'' if record.fps is None else f', {record.fps:.1f} frames/s'}"
                f"{'' if record.eta is None else f', ETA {record.eta:.0f} s'}"
                f"{', scene cut' if record.cut else '' if record.flicker is None else f', flicker {record.flicker:.3f}'}")
        if self.tty:
            self.bar((record.index + 1) / max(record.total, 1), text)
        elif time.monotonic() - self._said_at >= self.interval or record.index + 1 == record.total:
            self._said_at = time.monotonic()
            self.say(text)


def run_video(args: argparse.Namespace, settings: Settings, styles: list[Image.Image], executor: Executor) -> int:
    """Style the clip ``args.content`` into ``args.output`` on ``executor``; 0 when written."""
    output = Path(args.output)
    if output.suffix.lower() not in OUTPUTS:
        raise SettingsError(f"a clip is written as {', '.join(OUTPUTS)}; got {str(output)!r}")
    given = [shown for name, shown in IMAGE_ONLY.items() if getattr(args, name, None)]
    if args.bit_depth == 16:
        given.append("--bit-depth 16")
    if given:
        raise SettingsError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for images, not for a clip")
    if not output.parent.is_dir():
        raise SettingsError(f"the folder of {output} does not exist")
    if args.method is None:  # a clip's default: the optimiser takes seconds to minutes a frame
        settings = settings.replace(method="fast")
    progress = VideoProgress(sys.stderr, args.quiet)
    options = VideoOptions(consistency=args.consistency, max_seconds=args.max_seconds,
                           temporal_weight=args.temporal_weight)
    extra = {"content": Path(args.content).name, "styles": [Path(p).name for p in args.styles]}
    record = None
    handle = executor.submit_clip(args.content, styles, settings, output, options, name=Path(args.content).name,
                                  extra=extra)
    try:
        for record in handle.records():
            progress.update(record)
    finally:
        progress.close()
    if handle.notice() and not args.quiet:
        print(handle.notice(), file=sys.stderr)
    assert record is not None and record.done
    if not args.quiet and record.path is not None:
        done = record.index + 1
        sound = {None: "no sound", "copied": "sound copied"}.get(record.sound, f"sound {record.sound}")
        print(f"saved {record.path} ({done} frames{' of ' + str(record.total) if record.stopped else ''},"
              f" {record.codec}, {sound}, {record.elapsed:.1f} s, {done / max(record.elapsed, 1e-9):.1f} frames/s)",
              file=sys.stderr)
    if record.error:  # the frames done are kept (above); the failure is said as any bad input is
        raise VideoError(record.error)
    return 0
