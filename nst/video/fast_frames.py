"""The fast method's frames: each painted by the network, held to the previous result where the
input's flow is reliable."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from nst.core.settings import Settings, blend_weights
from nst.model.flow import FlowEstimator, Motion, is_cut, warp

Previous = tuple[np.ndarray, np.ndarray]  # (input frame, its result) at the working size
Styled = tuple[np.ndarray, Motion | None, bool]  # (result, the input's motion from the previous frame, a cut)


class FastFrames:
    """One clip's frames through the fast network: what depends only on the styles (the painter,
    see :func:`nst.model.fast.method.painter`) is computed once, then each frame is painted and,
    where the flow back to the previous frame is reliable, blended with the previous result warped
    by that flow (weight ``consistency``); a scene cut starts afresh."""

    def __init__(self, styles: Sequence[Image.Image], settings: Settings, consistency: float,
                 device: torch.device) -> None:
        from nst.model.fast.method import painter  # late: only a clip or a fast run loads onnx

        self.paint = painter(styles, blend_weights(settings, len(styles)), settings, device)
        self.device, self.consistency = device, consistency
        self.flow = FlowEstimator()

    def __call__(self, frame: np.ndarray, previous: Previous | None) -> Styled:
        """The frame painted, blended with the previous result warped by the flow where it is reliable."""
        with torch.inference_mode():
            tensor = torch.from_numpy(frame).to(self.device).permute(2, 0, 1).float().div_(255)
            painted = self.paint(tensor).mul_(255).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy()
        if previous is None:
            return painted, None, False
        motion = self.flow.motion(previous[0], frame)  # with consistency 0 too: the flicker is measured on it
        cut = is_cut(previous[0], frame, motion)
        if cut or self.consistency == 0:
            return painted, motion, cut
        carried = warp(previous[1], motion.flow, sharp=True).astype(np.float32)
        weight = (self.consistency * motion.reliable)[..., None]
        blended = painted.astype(np.float32) * (1 - weight) + carried * weight
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8), motion, False
