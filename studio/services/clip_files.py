"""The Video page's files, without Streamlit: an uploaded clip kept on disk for the run to read, the
clip a run writes into, a result in another format made on demand, and the first frame styled
before Start.

Uploads and outputs live under the data folder (:func:`studio.services.store.data_dir`); a finished
clip moves into the store with its result, so only a browser's latest few uploads stay here.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from nst.core.settings import Settings
from nst.io.video_files import ClipWriter, VideoInfo, probe, read_clip_recipe, read_frames
from nst.plan.device import resolve_device
from nst.video import VideoOptions, frame_method, working_size
from studio.services.store import data_dir

# The uploader's filter by name; what a file is, its content decides (nst.io.video_files).
CLIP_TYPES = ["mp4", "mov", "m4v", "webm", "mkv", "gif"]
OUTPUT_FORMATS = {"MP4": ".mp4", "GIF": ".gif"}
KEPT_UPLOADS = 3  # a browser's uploaded clips kept on disk: the one in use, and a couple it may go back to


def upload_path(owner: str, name: str, data: bytes) -> Path:
    """Where ``data`` (an uploaded clip named ``name``) is kept for this browser, written once; the
    browser's older uploads beyond :data:`KEPT_UPLOADS` go."""
    folder = data_dir() / "clips-in"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(name).suffix.lower() if Path(name).suffix.lower().lstrip(".") in CLIP_TYPES else ".bin"
    path = folder / f"{owner}-{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    if not path.exists():
        part = path.with_name(f".{path.name}.part-{uuid.uuid4().hex}")
        part.write_bytes(data)
        part.replace(path)
    older = sorted((p for p in folder.glob(f"{owner}-*") if p != path), key=lambda p: p.stat().st_mtime)
    for stale in older[: max(0, len(older) - (KEPT_UPLOADS - 1))]:
        stale.unlink(missing_ok=True)
    path.touch()
    return path


def output_path(suffix: str) -> Path:
    """A fresh path for a clip a run writes (it moves into the store when saved)."""
    folder = data_dir() / "clips-out"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def converted(path: Path, suffix: str) -> bytes:
    """The clip at ``path`` as ``suffix`` (".mp4" or ".gif"): its own bytes when it is one, else
    transcoded frame by frame (with its sound where the format takes it, and its recipe)."""
    if path.suffix.lower() == suffix:
        return path.read_bytes()
    info = probe(path)
    with tempfile.TemporaryDirectory(prefix="nst-clip-") as folder:
        out = Path(folder) / f"clip{suffix}"
        with ClipWriter(out, info.fps, sound_from=path, recipe=read_clip_recipe(path)) as writer:
            for frame in read_frames(path, info):
                writer.write(frame)
        return out.read_bytes()


def first_frame(path: Path, info: VideoInfo, side: int) -> np.ndarray:
    """The clip's first frame at the working size for a longest side of ``side``."""
    frame = next(iter(read_frames(path, info)))
    return np.array(Image.fromarray(frame).resize(working_size(info, side), Image.Resampling.LANCZOS))


def styled_first_frame(frame: np.ndarray, styles: Sequence[Image.Image], settings: Settings,
                       options: VideoOptions) -> np.ndarray:
    """``frame`` painted by the fast network with these styles and settings, as the clip's first
    frame will be (the optimise method starts from it too)."""
    fast = settings.replace(method="fast")
    device = resolve_device(settings.device)
    with torch.inference_mode():
        styled, _, _ = frame_method(styles, fast, options, device)(frame, None)
    return styled
