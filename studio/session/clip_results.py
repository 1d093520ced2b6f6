"""Finished clips: saving a clip job's outcome to the store as a result (its poster frame the
picture, the clip beside it) and the files a clip result offers."""

from __future__ import annotations

import json
import time

from PIL import Image

from nst.io.images import to_image
from nst.io.video_files import probe, read_clip_recipe, read_frames
from studio.services.clip_files import converted
from studio.services.clip_jobs import ClipJob, ClipSnapshot
from studio.services.store import shared_store
from studio.session.results import Result
from studio.session.uploads import thumbnail


def save_clip(owner: str, job: ClipJob, snap: ClipSnapshot, clip_name: str, style_names: list[str]) -> Result | None:
    """Store a finished or stopped clip (None when no frame was written) with its poster frame,
    the input's first frame and its recipe."""
    if snap.path is None or snap.poster is None:
        return None
    poster = snap.poster
    height, width = poster.shape[:2]
    first = next(iter(read_frames(job.source, probe(job.source, name=clip_name))))
    before = Image.fromarray(first).resize((width, height), Image.Resampling.LANCZOS)
    meta = dict(status=snap.status, message=snap.message, step=snap.done, total_steps=snap.total,
                elapsed=round(snap.elapsed, 3), losses={}, rows=[], scale_shape=[height, width],
                content_name=clip_name, style_names=style_names, created=time.strftime("%Y-%m-%d %H:%M"),
                flicker=list(snap.flicker), fps=snap.fps, codec=snap.codec, sound=snap.sound,
                consistency=job.options.consistency)
    recipe = read_clip_recipe(snap.path) or {}
    return Result(shared_store().add(owner, job.settings, poster, before, meta, recipe,
                                     thumb=thumbnail(to_image(poster)), clip=snap.path))


def clip_bytes(result: Result, suffix: str) -> bytes:
    """The clip result as ``suffix`` (".mp4" or ".gif"), converted on demand when it was made as the other."""
    assert result.clip_path is not None
    return converted(result.clip_path, suffix)


def clip_recipe_json(result: Result) -> bytes:
    """The clip's recipe as its sidecar JSON holds it."""
    assert result.clip_path is not None
    return json.dumps(read_clip_recipe(result.clip_path) or {}, indent=1, ensure_ascii=False).encode("utf-8")
