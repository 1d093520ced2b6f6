"""Optical flow between a clip's input frames, where to trust it, and warping by it: what keeps a
styled clip from flickering (Ruder, Dosovitskiy and Brox 2016, "Artistic style transfer for videos").

The flow is OpenCV's DIS (Kroeger et al. 2016): no weights, nothing downloaded. It is taken on the
*input* frames, which the style does not disturb. For frame t, :func:`motion` gives the flow back
to frame t-1 (to fetch the previous result at each pixel) and a reliability mask of the pixels
where that flow can be trusted: the forward-backward check finds pixels that were hidden in
frame t-1 (disocclusions), and strong flow gradients mark motion boundaries, both with the
thresholds of Ruder et al. (their equations 4 and 5). A scene cut is a frame whose warped
predecessor disagrees with it on most pixels (:func:`is_cut`): nothing is carried across it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# Ruder et al.: disoccluded where |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5; a motion boundary
# where |grad u|^2 + |grad v|^2 > 0.01 |w^|^2 + 0.002.
OCCLUSION_RATIO, OCCLUSION_FLOOR = 0.01, 0.5
BOUNDARY_RATIO, BOUNDARY_FLOOR = 0.01, 0.002
# A cut: under this share of the pixels reliable, or the warped input off by this much (in [0, 1])
# on average where it is; a pan or a moving object stays far inside both.
CUT_RELIABLE, CUT_ERROR = 0.4, 0.12


@dataclass(frozen=True)
class Motion:
    """From frame t back to frame t-1: ``flow`` (H, W, 2; x then y, in pixels) such that frame
    t at p shows what frame t-1 showed at p + flow(p), and ``reliable`` (H, W) in {0, 1}."""

    flow: np.ndarray
    reliable: np.ndarray


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """DIS optical flow at OpenCV's ``medium`` preset, one instance per clip (it keeps buffers)."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The flow (H, W, 2) from grey ``source`` to grey ``target``: source at p shows what
        target shows at p + flow(p)."""
        return self._dis.calc(source, target, None)

    def motion(self, previous: np.ndarray, current: np.ndarray) -> Motion:
        """The flow from RGB frame ``current`` back to ``previous`` and where it is reliable."""
        prev_gray, cur_gray = _gray(previous), _gray(current)
        backward = self.flow(cur_gray, prev_gray)
        forward = self.flow(prev_gray, cur_gray)
        return Motion(backward, reliability(backward, forward))


def warp(image: np.ndarray, flow: np.ndarray, *, sharp: bool = False) -> np.ndarray:
    """``image`` (H, W, C) fetched at p + flow(p) for each pixel p (the border repeats): bilinear, or
    bicubic with ``sharp`` (a result warped frame after frame blurs under bilinear: on a 512 px pan
    its strokes faded to 1.2× the style distance of frame-by-frame in 48 frames, 1.04× bicubic)."""
    grid_x, grid_y = _grid(*flow.shape[:2])
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_CUBIC if sharp else cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=4)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's own x and y (read only): a clip warps four times a frame at one size."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """1 where the ``backward`` flow (t -> t-1) can be trusted, 0 at disocclusions and motion
    boundaries; ``forward`` is the flow t-1 -> t (Ruder et al., equations 4 and 5)."""
    there = warp(forward, backward)  # w~: the forward flow where each pixel came from
    # Component by component: numpy's sum over a last axis of 2 took half of this function's time.
    bu, bv, tu, tv = backward[..., 0], backward[..., 1], there[..., 0], there[..., 1]
    back_sq = bu * bu + bv * bv
    round_trip = (tu + bu) ** 2 + (tv + bv) ** 2
    occluded = round_trip > OCCLUSION_RATIO * (tu * tu + tv * tv + back_sq) + OCCLUSION_FLOOR
    du_y, du_x = np.gradient(bu)
    dv_y, dv_x = np.gradient(bv)
    gradient = du_x * du_x + du_y * du_y + dv_x * dv_x + dv_y * dv_y
    boundary = gradient > BOUNDARY_RATIO * back_sq + BOUNDARY_FLOOR
    return (~(occluded | boundary)).astype(np.float32)


def is_cut(previous: np.ndarray, current: np.ndarray, motion: Motion) -> bool:
    """True when ``current`` starts a new shot: too few reliable pixels, or the previous input
    frame warped by the flow misses ``current`` where the flow is called reliable."""
    share = float(motion.reliable.mean())
    if share < CUT_RELIABLE:
        return True
    error = np.abs(warp(previous, motion.flow).astype(np.float32) - current.astype(np.float32)).mean(-1) / 255
    return float((error * motion.reliable).sum() / max(motion.reliable.sum(), 1.0)) > CUT_ERROR


def warping_error(previous_out: np.ndarray, current_out: np.ndarray, motion: Motion) -> float:
    """The temporal warping error of two consecutive results: mean |O_t - warp(O_t-1)| (in [0, 1])
    over the pixels where the input's flow is reliable."""
    difference = np.abs(current_out.astype(np.float32) - warp(previous_out, motion.flow).astype(np.float32))
    weight = motion.reliable[..., None]
    return float((difference * weight).sum() / max(weight.sum() * difference.shape[-1], 1.0) / 255)
