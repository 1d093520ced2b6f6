"""The fast method's frames: each painted by the network, held to the previous result where the
input's flow is reliable."""

from __future__ import annotations

import zlib
from typing import Callable, Protocol, Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from nst.core.settings import Settings, blend_weights
from nst.model.flow import FlowEstimator, Motion, is_cut, warp
from nst.video.frame_regions import FrameRegions

Previous = tuple[np.ndarray, np.ndarray]  # (input frame, its result) at the working size
Styled = tuple[np.ndarray, Motion | None, bool]  # (result, the input's motion from the previous frame, a cut)
FramePainter = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]  # (frame, region labels) -> painted frame


class FrameMethod(Protocol):
    """What styles one frame of a clip given the previous one; ``losses``: the last frame's final
    loss terms (None for a method without losses)."""

    losses: dict[str, float] | None

    def __call__(self, frame: np.ndarray, previous: Previous | None) -> Styled: ...


def frame_painter(styles: Sequence[Image.Image], settings: Settings, device: torch.device) -> FramePainter:
    """The fast network as a function of a (H, W, 3) uint8 frame (and its region labels, with
    regions) to its painting, uint8: what depends only on the styles is computed once
    (:func:`nst.model.fast.method.painter`)."""
    from nst.model.fast.method import painter, regions_painter  # late: only a clip or a fast run loads onnx

    if settings.mask is not None and settings.regions is not None:
        paint = regions_painter(styles, settings, device)  # the labels given with each frame
    else:
        whole = painter(styles, blend_weights(settings, len(styles)), settings, device)
        paint = lambda tensor, labels: whole(tensor)  # noqa: E731

    def run(frame: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        with torch.inference_mode():
            tensor = torch.from_numpy(frame).to(device).permute(2, 0, 1).float().div_(255)
            return paint(tensor, labels).mul_(255).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy()
    return run


def motion_from(flow: FlowEstimator, frame: np.ndarray, previous: Previous | None) -> tuple[Motion | None, bool]:
    """The input's motion back to the previous frame and whether ``frame`` starts a new shot
    (None, False on the first frame)."""
    if previous is None:
        return None, False
    motion = flow.motion(previous[0], frame)
    return motion, is_cut(previous[0], frame, motion)


# The carried pixels come in blobs of about this many pixels (a Gaussian's sigma at the working
# size), drawn afresh each frame (bench.video_flicker at 384 px: sigma 1 to 4 scored alike).
CARRY_GRAIN = 2.0
# Nothing is carried within this many pixels of where the flow is unreliable: a moving edge's flow
# is smeared beyond what the check marks, and a pixel carried whole there trails the object. On a
# square moving 3 px a frame (tests/test_video_regions.py), at consistency 0.75: the photo around
# it off by up to 21 levels carried as far as the flow was called reliable, 5 with this margin.
CARRY_MARGIN = 2


def carried_pixels(reliable: np.ndarray, consistency: float, painted: np.ndarray) -> np.ndarray:
    """Which pixels (H, W) bool keep the previous result: a ``consistency`` share of those where
    the flow is ``reliable`` (CARRY_MARGIN px in from where it is not), drawn afresh each frame in
    blobs of CARRY_GRAIN px.

    Each pixel is carried or painted whole, never averaged: an average of two paintings with their
    strokes in different places fades both (bench.video_flicker, 512 px: luminance SSIM to the input
    1.22× frame by frame's at a 0.5 blend, the strokes visibly softened). The noise is seeded by
    ``painted``: the choice needs no state of its own, and repeats with the painting."""
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(painted)))
    noise = cv2.GaussianBlur(rng.random(reliable.shape, dtype=np.float32), (0, 0), CARRY_GRAIN)
    inside = cv2.erode((reliable > 0).astype(np.uint8), np.ones((2 * CARRY_MARGIN + 1,) * 2, np.uint8),
                       borderType=cv2.BORDER_REPLICATE)
    # The threshold from one pixel in 16: within about half a percent of the share, in a fifteenth of the time.
    return (noise <= np.quantile(noise[::4, ::4], consistency)) & (inside > 0)


class FastFrames:
    """One clip's frames through the fast network: what depends only on the styles (the painter,
    see :func:`nst.model.fast.method.painter`) is computed once, then each frame is painted and,
    where the flow back to the previous frame is reliable, a ``consistency`` share of its pixels
    keep the previous result warped by that flow (:func:`carried_pixels`); a scene cut starts
    afresh. Regions follow the flow (:class:`nst.video.frame_regions.FrameRegions`)."""

    losses = None  # the network has no losses

    def __init__(self, styles: Sequence[Image.Image], settings: Settings, consistency: float,
                 device: torch.device) -> None:
        self.paint = frame_painter(styles, settings, device)
        self.consistency = consistency
        self.flow = FlowEstimator()
        self.regions = FrameRegions.of(settings)

    def __call__(self, frame: np.ndarray, previous: Previous | None) -> Styled:
        """The frame painted, with some of the previous result warped by the flow where it is reliable."""
        motion, cut = motion_from(self.flow, frame, previous)  # with consistency 0 too: the flicker is measured on it
        labels = None if self.regions is None else self.regions.follow(frame.shape[:2], motion, cut)
        painted = self.paint(frame, labels)
        if previous is None or motion is None:
            return painted, None, False
        if cut or self.consistency == 0:
            return painted, motion, cut
        carried = warp(previous[1], motion.flow, sharp=True)
        keep = carried_pixels(motion.reliable, self.consistency, painted)
        return np.where(keep[..., None], carried, painted), motion, False
