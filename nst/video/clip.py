"""Stylising a clip frame by frame, kept steady by the input's optical flow: the fast network
(:mod:`nst.video.fast_frames`, below) or the optimiser with a temporal loss
(:mod:`nst.video.optimised_frames`, ``method="gatys"``).

:func:`stylize_video` is the video seam, as :func:`nst.engine.stylize` is the image one: it
streams one :class:`FrameRecord` per frame while the frames stream from the input, through the
network, into the output clip (never all held), and a last record when the clip is written.

Temporal consistency (after Ruder et al. 2016, for a feed-forward network): the style embedding
is computed once (:func:`nst.model.fast.method.painter`); each frame is painted, then where the
input's flow back to the previous frame is reliable (:mod:`nst.model.flow`) a ``consistency``
share of its pixels keep the previous *result*, warped by that flow, whole rather than averaged
(:func:`nst.video.fast_frames.carried_pixels`); disoccluded and new areas come from the current
frame alone, and a scene cut starts afresh. Each record carries the frame's
temporal warping error (its flicker against the previous result, on reliable pixels). Regions
drawn for the first frame follow the flow (:mod:`nst.video.frame_regions`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from nst.core.errors import NSTError, SettingsError, VideoError
from nst.core.progress import StopSignal
from nst.core.settings import Settings
from nst.io.recipe import make_recipe
from nst.io.video_files import MAX_SECONDS, ClipWriter, VideoInfo, probe, read_frames
from nst.model.flow import warping_error
from nst.video.fast_frames import FastFrames, FrameMethod, Previous
from nst.video.optimised_frames import DEFAULT_TEMPORAL_WEIGHT, OptimisedFrames
from nst.plan.device import resolve_device
from nst.plan.preflight import region_problems

# bench.video_flicker at 512 px, in the written clip: flicker 0.47× frame by frame's, style distance
# 0.96×, luminance SSIM 1.03× (0.5: 0.63×; 0.85: 0.39×, the style alike); docs/benchmarks.md
DEFAULT_CONSISTENCY = 0.75
MAX_VIDEO_SIDE = 1920  # a frame's longest side while styling: a 1080p clip at most
RECENT_FRAMES = 10  # frames per second and the ETA are measured over this many recent frames


@dataclass(frozen=True)
class VideoOptions:
    """What a clip adds to :class:`nst.core.settings.Settings`: how strongly each frame holds to
    the previous result (0: frame by frame, 1: as much as the flow allows) with the fast method,
    the temporal term's weight γ with the optimiser (0: frame by frame; see
    :mod:`nst.video.optimised_frames`) and the length limit."""

    consistency: float = DEFAULT_CONSISTENCY
    max_seconds: float = MAX_SECONDS
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT

    def problems(self) -> dict[str, str]:
        found = {}
        if not (isinstance(self.consistency, (int, float)) and 0 <= self.consistency <= 1):
            found["consistency"] = f"consistency must be between 0 and 1, not {self.consistency!r}"
        if not (isinstance(self.max_seconds, (int, float)) and 0 < self.max_seconds <= 10 * MAX_SECONDS):
            found["max_seconds"] = f"the clip limit must be more than 0 and at most {10 * MAX_SECONDS:g} s"
        if not (isinstance(self.temporal_weight, (int, float)) and 0 <= self.temporal_weight < math.inf):
            found["temporal_weight"] = f"the temporal weight must be 0 or more, not {self.temporal_weight!r}"
        return found

    def to_dict(self) -> dict[str, float]:
        return {"consistency": self.consistency, "max_seconds": self.max_seconds,
                "temporal_weight": self.temporal_weight}


@dataclass
class FrameRecord:
    """One frame styled (``index`` from 0, of ``total``), or the closing record (``done``) with
    the clip's ``path``; a stop ends with a closing record too, the clip holding the frames done,
    and so does a failure after the first frame, with its sentence in ``error``."""

    index: int
    total: int
    elapsed: float
    fps: float | None  # frames per second over the recent frames, end to end
    eta: float | None  # seconds left at that pace
    flicker: float | None  # temporal warping error against the previous result; None after a cut
    cut: bool
    image: np.ndarray | None = field(default=None, repr=False)  # the styled frame, (H, W, 3) uint8
    losses: dict[str, float] | None = None  # the optimiser's final loss terms for the frame; None: fast
    done: bool = False
    stopped: bool = False
    path: Path | None = None
    codec: str | None = None
    sound: str | None = None
    error: str | None = None  # the closing record of a clip that failed after its first frame: why


def check_video(settings: Settings, options: VideoOptions) -> None:
    """SettingsError for what a clip cannot be styled with, before anything is opened."""
    problems = dict(options.problems())
    if settings.size > MAX_VIDEO_SIDE:
        problems["size"] = f"a clip's frames are styled at most {MAX_VIDEO_SIDE} px on their longest side"
    if problems:
        raise SettingsError(problems)


def working_size(info: VideoInfo, side: int) -> tuple[int, int]:
    """(width, height) at which ``info``'s frames are styled: the longest side ``side``."""
    scale = side / max(info.width, info.height)
    return max(1, round(info.width * scale)), max(1, round(info.height * scale))


@dataclass(frozen=True)
class StyledFrame:
    """Frame ``index`` of a clip styled, with its flicker against the previous result (None on the
    first frame and after a cut)."""

    index: int
    image: np.ndarray = field(repr=False)
    flicker: float | None
    cut: bool
    losses: dict[str, float] | None = None  # the optimiser's final loss terms; None with the fast method


def frame_method(styles: Sequence[Image.Image], settings: Settings, options: VideoOptions,
                 device: torch.device, stop: StopSignal | None = None) -> FrameMethod:
    """What styles one frame of a clip given the previous one: :class:`FastFrames`, or
    :class:`OptimisedFrames` for ``method="gatys"`` (``stop`` reaches inside its frames)."""
    if settings.method == "gatys":
        return OptimisedFrames(styles, settings, options.temporal_weight, device, stop)
    return FastFrames(styles, settings, options.consistency, device)


def styled_frames(source: str | os.PathLike, info: VideoInfo, styles: Sequence[Image.Image], settings: Settings,
                  options: VideoOptions = VideoOptions(), *, stop: StopSignal | None = None, first: int = 0,
                  end: int | None = None) -> Iterator[StyledFrame]:
    """Frames ``first`` to ``end`` (exclusive; None: the last) of the probed clip at ``source``
    styled in order, streamed from its decoder. A part that starts after the first frame styles
    frame ``first - 1`` too, unshown, so its first frame is held to a previous result as every
    other is (a chunk of a fanned-out clip overlaps the one before by that frame)."""
    method = frame_method(styles, settings, options, resolve_device(settings.device), stop)
    size = working_size(info, settings.size)
    previous: Previous | None = None
    for index, frame in enumerate(read_frames(source, info)):
        if end is not None and index >= end:
            break
        if index < first - 1:
            continue
        if stop is not None and stop.is_set():
            break
        frame = _resized(frame, size)
        styled, motion, cut = method(frame, previous)
        if stop is not None and stop.is_set():  # stopped inside the frame: its result is unfinished
            break
        flicker = warping_error(previous[1], styled, motion) if previous is not None and motion and not cut else None
        previous = (frame, styled)
        if index >= first:
            yield StyledFrame(index, styled, flicker, cut, method.losses)


def stylize_video(source: str | os.PathLike, styles: Sequence[Image.Image], settings: Settings,
                  out: str | os.PathLike, options: VideoOptions = VideoOptions(), *,
                  stop: StopSignal | None = None, name: str | None = None,
                  extra: Mapping[str, Any] | None = None) -> Iterator[FrameRecord]:
    """Stylise the clip at ``source`` into ``out`` (its suffix picks MP4, MOV, WebM or GIF),
    yielding a record per frame and a closing one. The input is checked against every limit
    before any frame is styled (VideoError); ``stop`` ends it with a shorter, playable clip."""
    info = checked_clip(source, styles, settings, options, name)
    return write_clip(styled_frames(source, info, styles, settings, options, stop=stop), info, out,
                      sound_from=source, recipe=clip_recipe(settings, options, extra))


def clip_recipe(settings: Settings, options: VideoOptions, extra: Mapping[str, Any] | None = None) -> dict:
    """The recipe a styled clip carries (in its metadata and sidecar): the settings, the video
    options and ``extra`` (the input's and styles' names)."""
    return make_recipe(settings, video=options.to_dict(), **(extra or {}))


def checked_clip(source: str | os.PathLike, styles: Sequence[Image.Image], settings: Settings,
                 options: VideoOptions, name: str | None = None) -> VideoInfo:
    """The clip's facts, once the settings, the styles and the clip's limits are found fit
    (SettingsError, VideoError) and before any frame is decoded."""
    check_video(settings, options)
    info = probe(source, max_seconds=options.max_seconds, name=name)
    if not styles and not settings.builtin_styles:
        raise SettingsError({"styles": "a clip needs a style image or a built-in style"})
    if settings.mask is not None and settings.regions is not None:  # drawn for the first frame: the clip's shape
        problems = region_problems(settings.mask, settings.regions, (info.width, info.height), len(styles))
        if problems:
            raise SettingsError(problems)
    return info


def write_clip(frames: Iterable[StyledFrame], info: VideoInfo, out: str | os.PathLike, *,
               sound_from: str | os.PathLike | None, recipe: Mapping[str, Any]) -> Iterator[FrameRecord]:
    """Write the styled ``frames`` into ``out`` as they come, with the sound of ``sound_from``,
    yielding a record per frame and a closing one (see :class:`FrameRecord`); frames that stop
    coming early (a stop) leave a shorter, playable clip."""
    started = time.perf_counter()
    times: list[float] = []
    last: StyledFrame | None = None
    error: str | None = None
    with ClipWriter(out, info.fps, sound_from=sound_from, recipe=recipe) as writer:
        try:
            for styled in frames:
                writer.write(styled.image)
                times.append(time.perf_counter())
                last = styled
                fps, eta = _pace(times, started, info.frames - styled.index - 1)
                yield FrameRecord(styled.index, info.frames, time.perf_counter() - started, fps, eta, styled.flicker,
                                  styled.cut, styled.image, styled.losses)
        except Exception as exc:
            # A frame that cannot be decoded or styled mid-clip: the frames done are kept, as a stop keeps them.
            if writer.frames == 0:
                raise
            error = str(exc) if isinstance(exc, NSTError) else f"{exc.__class__.__name__}: {exc}"
            error = f"The clip failed after {writer.frames} of {info.frames} frames ({error.rstrip('.')})."
        stopped = writer.frames < info.frames
        if writer.frames == 0:  # stopped before the first frame: nothing to keep
            writer.abort()
            yield FrameRecord(-1, info.frames, time.perf_counter() - started, None, None, None, False,
                              done=True, stopped=True)
            return
        path = writer.close()
    fps, _ = _pace(times, started, 0)
    yield FrameRecord(len(times) - 1, info.frames, time.perf_counter() - started, fps, 0.0, None, False,
                      last.image if last else None, done=True, stopped=stopped, path=path, codec=writer.codec,
                      sound=writer.sound, error=error)


def _resized(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = frame.shape[:2]
    if (width, height) == size:
        return frame
    shrink = size[0] * size[1] < width * height
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _pace(times: list[float], started: float, left: int) -> tuple[float | None, float | None]:
    """(frames per second over the recent frames, seconds left at that pace)."""
    if not times:
        return None, None
    recent = times[-RECENT_FRAMES - 1:]
    span = recent[-1] - (recent[0] if len(recent) > 1 else started)
    count = len(recent) - 1 if len(recent) > 1 else 1
    fps = count / span if span > 0 else math.inf
    return fps, (left / fps if fps and math.isfinite(fps) else None)


__all__ = ["DEFAULT_CONSISTENCY", "FrameRecord", "MAX_VIDEO_SIDE", "StyledFrame", "VideoError", "VideoOptions",
           "check_video", "checked_clip", "clip_recipe", "frame_method", "styled_frames", "stylize_video",
           "working_size", "write_clip"]
