"""The bundled example clip, made here rather than shipped: a slow pan and zoom across the rendered
lake landscape (:func:`studio.services.examples.lake_landscape`) with a generated tone as its sound.

It is written once, under the studio's data folder, and found there afterwards: a temporary name
renamed when complete, so a half-written clip is never offered.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import av
import numpy as np
from PIL import Image

from nst.io.tone import add_tone, write_tone
from studio.services.examples import lake_landscape
from studio.services.store import data_dir

NAME = "Lake landscape, pan and zoom (rendered)"
FILE = "lake-pan-zoom-v1.mp4"  # the version in the name: a changed recipe is made afresh, not mixed up
WIDTH, HEIGHT = 512, 384  # the landscape's own size: the default working side styles it as it is
FPS = 12
SECONDS = 4
TONE_HZ = 220.0
_LOCK = threading.Lock()


def frame(t: float, picture: Image.Image) -> np.ndarray:
    """The view at ``t`` (0..1 through the clip): a window that narrows from 85 % to 60 % of the
    picture's width (a zoom in) while its centre drifts from left to right (a pan)."""
    width, height = picture.size
    share = 0.85 - 0.25 * t
    crop_w, crop_h = width * share, width * share * HEIGHT / WIDTH
    centre_x = crop_w / 2 + (width - crop_w) * t
    centre_y = height / 2
    box = (centre_x - crop_w / 2, centre_y - crop_h / 2, centre_x + crop_w / 2, centre_y + crop_h / 2)
    return np.asarray(picture.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC, box=box))


def example_clip(folder: Path | None = None) -> Path:
    """The example clip's path, made on first use (a second or two) and kept in ``folder`` (the
    data folder's ``examples``)."""
    path = (folder or data_dir() / "examples") / FILE
    with _LOCK:
        if not path.exists():
            _write(path)
    return path


def _write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part-{os.getpid()}")
    picture = lake_landscape()
    count = FPS * SECONDS
    try:
        with av.open(str(part), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "veryfast"})
            video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            sound = add_tone(out)
            for index in range(count):
                image = av.VideoFrame.from_ndarray(frame(index / (count - 1), picture), format="rgb24")
                for packet in video.encode(image):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
            write_tone(out, sound, TONE_HZ, SECONDS)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
