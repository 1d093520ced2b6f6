"""The optimise method's frames (Ruder, Dosovitskiy and Brox 2016, "Artistic style transfer for
videos"): the first frame of each shot is an image run of the settings (:func:`nst.engine.stylize`);
each next frame starts from the previous result warped by the input's flow, filled from the frame's
fast painting where that flow is unreliable, and is optimised for fewer steps at its own size with a
temporal term added to the loss: mean(c · (x − warped previous)²), c the flow's reliability
(:class:`nst.model.losses.Temporal`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from nst.core.progress import StopSignal
from nst.core.settings import Settings
from nst.engine import stylize, to_tensor
from nst.model.flow import FlowEstimator, Motion, warp
from nst.model.losses import Temporal
from nst.model.vgg import load_model
from nst.video.fast_frames import FramePainter, Previous, Styled, frame_painter, motion_from
from nst.video.frame_regions import FrameRegions

# γ of the temporal term. Ruder et al. weigh it 200 × the content term (their α = 1, γ = 200) with
# pixels in 0…255 and the content term a plain mean of squares; here pixels are in 0…1 (255² less)
# and the content term is half a mean of squares (nst.model.losses): 200 · 255² / 2 relative to
# the default content weight of 1.
DEFAULT_TEMPORAL_WEIGHT = 200 * 255**2 / 2
FOLLOWING_STEPS = 1 / 3  # a frame after a shot's first starts near its result: this share of the steps


def following_steps(steps: int) -> int:
    """The optimiser steps of a frame after its shot's first (which has ``steps``)."""
    return max(1, round(steps * FOLLOWING_STEPS))


class OptimisedFrames:
    """One clip's frames through the optimiser (see the module's docstring). ``temporal_weight``
    0 styles each frame on its own, as an image run of the settings (frame-by-frame optimisation).
    ``stop`` is passed to every frame's run, so a stop ends the frame in progress too; the
    regions of ``settings`` follow the flow (:class:`nst.video.frame_regions.FrameRegions`)."""

    def __init__(self, styles: Sequence[Image.Image], settings: Settings, temporal_weight: float,
                 device: torch.device, stop: StopSignal | None = None) -> None:
        self.styles, self.settings, self.weight = list(styles), settings, temporal_weight
        self.device, self.stop = device, stop
        self.model = load_model(settings.weights)  # once per clip, not per frame
        self.flow = FlowEstimator()
        self.regions = FrameRegions.of(settings)
        # The fill of unreliable pixels: the fast painting, its style embedding computed once per clip.
        self.paint: FramePainter | None = frame_painter(styles, settings, device) if temporal_weight > 0 else None
        self.following = settings.replace(init="image", multiscale="off", steps=following_steps(settings.steps))
        self.losses: dict[str, float] | None = None  # the last frame's final losses

    def __call__(self, frame: np.ndarray, previous: Previous | None) -> Styled:
        """The frame optimised: alone on a shot's first frame, else held to the previous result."""
        motion, cut = motion_from(self.flow, frame, previous)
        labels = None if self.regions is None else self.regions.follow(frame.shape[:2], motion, cut)
        if previous is None or motion is None or cut or self.weight == 0:
            return self._run(frame, self.settings, labels), motion, cut
        return self._held(frame, previous[1], motion, labels), motion, False

    def _held(self, frame: np.ndarray, before: np.ndarray, motion: Motion, labels: np.ndarray | None) -> np.ndarray:
        """A frame after its shot's first: started from the previous result warped (the fast painting
        where the flow is unreliable) and held to it by the temporal term."""
        assert self.paint is not None
        carried = warp(before, motion.flow, sharp=True).astype(np.float32)
        reliable = motion.reliable[..., None]
        start = carried * reliable + self.paint(frame, labels).astype(np.float32) * (1 - reliable)
        start_image = Image.fromarray(np.clip(start + 0.5, 0, 255).astype(np.uint8))
        target = to_tensor(Image.fromarray(np.clip(carried + 0.5, 0, 255).astype(np.uint8)), self.device)
        temporal = Temporal(target, torch.from_numpy(motion.reliable).to(self.device), self.weight)
        return self._run(frame, self.following, labels, start=start_image, temporal=temporal)

    def _run(self, frame: np.ndarray, settings: Settings, labels: np.ndarray | None, *,
             start: Image.Image | None = None, temporal: Temporal | None = None) -> np.ndarray:
        """The last image of an engine run on ``frame`` (a stopped run's best so far)."""
        if labels is not None and self.regions is not None:
            settings = self.regions.settings(settings, labels)
        record = None
        for record in stylize(Image.fromarray(frame), self.styles, settings, stop=self.stop, model=self.model,
                              start=start, temporal=temporal):
            pass
        assert record is not None and record.image is not None
        self.losses = record.losses
        return record.image
