"""The fast method's frame: painted by the network, held to the previous result where the flow is reliable."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nst.model.flow import FlowEstimator, Motion, is_cut, warp


def styled_frame(frame: np.ndarray, previous: tuple[np.ndarray, np.ndarray] | None, paint: Any, flow: FlowEstimator,
                 device: torch.device, consistency: float) -> tuple[np.ndarray, Motion | None, bool]:
    """The frame painted, blended with the previous result warped by the flow where it is reliable."""
    with torch.inference_mode():
        tensor = torch.from_numpy(frame).to(device).permute(2, 0, 1).float().div_(255)
        painted = paint(tensor).mul_(255).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy()
    if previous is None:
        return painted, None, False
    motion = flow.motion(previous[0], frame)  # with consistency 0 too: the flicker is measured on it
    cut = is_cut(previous[0], frame, motion)
    if cut or consistency == 0:
        return painted, motion, cut
    carried = warp(previous[1], motion.flow, sharp=True).astype(np.float32)
    weight = (consistency * motion.reliable)[..., None]
    blended = painted.astype(np.float32) * (1 - weight) + carried * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8), motion, False
