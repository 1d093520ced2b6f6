"""Synthetic video clips with known motion, written with PyAV directly (not with the code under
test): a pan across a texture, a square moving over a texture, a scene cut; optionally with a tone
as their sound."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import av
import numpy as np

from nst.io.tone import add_tone, write_tone

Frame = Callable[[int], np.ndarray]


def texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, structured RGB texture (blobs and stripes) that optical flow can follow."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for channel in range(3):
        for _ in range(6):
            fx, fy, phase = rng.uniform(0.02, 0.12, 2).tolist() + [rng.uniform(0, 6.3)]
            image[..., channel] += np.sin(x * fx + y * fy + phase)
    image += 0.6 * rng.standard_normal((height, width, 3))  # fine grain: texture for the flow to hold on to
    image = (image - image.min()) / (image.max() - image.min())
    return (image * 235 + 10).astype(np.uint8)


def pan(width: int = 96, height: int = 64, frames: int = 12, step: int = 2, seed: int = 0) -> Frame:
    """A camera moving right by ``step`` pixels a frame over a wide texture: frame t+1 at x is
    frame t at x + step."""
    wide = texture(width + step * frames, height, seed)
    return lambda t: wide[:, t * step: t * step + width].copy()


def moving_square(width: int = 96, height: int = 64, side: int = 16, step: int = 3, seed: int = 1) -> Frame:
    """A still texture with a bright square sliding right by ``step`` pixels a frame."""
    background = texture(width, height, seed)

    def frame(t: int) -> np.ndarray:
        image = background.copy()
        left = (4 + t * step) % (width - side)
        image[height // 2 - side // 2: height // 2 + side // 2, left: left + side] = (250, 240, 40)
        return image
    return frame


def scene_cut(width: int = 96, height: int = 64, cut: int = 6, step: int = 2) -> Frame:
    """A pan over one texture until frame ``cut``, then a pan over an unrelated one."""
    first, second = pan(width, height, 64, step, seed=2), pan(width, height, 64, step, seed=3)
    return lambda t: first(t) if t < cut else second(t - cut)


def write_clip(path: Path, frame: Frame, frames: int, fps: int = 10, *, tone: float | None = None,
               codec: str = "libx264", options: dict[str, str] | None = None) -> Path:
    """``frames`` frames of ``frame`` at ``fps`` into ``path`` (its suffix picks the container),
    with a sine of ``tone`` Hz (AAC in MP4/MOV, Opus in WebM) lasting the clip when given;
    ``options`` go to the video encoder (``{"crf": "16"}``, say)."""
    suffix = path.suffix.lower()  # another suffix (a clip named .bin, say) is written as MP4
    container = {".mov": "mov", ".webm": "webm", ".mkv": "matroska", ".gif": "gif"}.get(suffix, "mp4")
    with av.open(str(path), "w", format=container) as out:
        first = frame(0)
        video = out.add_stream(codec if suffix != ".webm" else "libvpx-vp9", rate=fps, options=options or {})
        video.height, video.width = first.shape[:2]
        video.pix_fmt = "yuv420p" if suffix != ".gif" else "rgb8"
        sound = add_tone(out, codec="libopus" if suffix == ".webm" else "aac") if tone is not None else None
        for t in range(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame(t), format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            write_tone(out, sound, tone, frames / fps)
    return path


def read_back(path: Path) -> dict:
    """What a player sees in ``path``: frame count (decoded), rate, duration, codecs, tags."""
    with av.open(str(path)) as clip:
        video = clip.streams.video[0]
        audio = clip.streams.audio[0] if clip.streams.audio else None
        audio_seconds = float(audio.duration * audio.time_base) if audio is not None and audio.duration else None
        tags = dict(clip.metadata)
        rate = video.average_rate
        frames = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video)]
    return {"frames": len(frames), "fps": rate, "codec": video.codec_context.name, "images": frames,
            "audio": audio.codec_context.name if audio is not None else None, "audio_seconds": audio_seconds,
            "tags": tags}
