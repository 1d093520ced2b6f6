"""A clip's regions following its motion: the mask is drawn for the first frame (at the clip's
aspect); each next frame's region labels are the previous frame's, warped by the input's flow back
to it, and a scene cut starts again from the mask as drawn."""

from __future__ import annotations

import cv2
import numpy as np

from nst.core.masks import labels_mask, mask_labels
from nst.core.settings import Settings
from nst.model.flow import Motion, warp


class FrameRegions:
    """The region labels of each frame of one clip, in order (see the module's docstring)."""

    def __init__(self, mask: str, regions: tuple[str, ...]) -> None:
        self.drawn, self.regions = mask_labels(mask, regions), regions
        self.labels: np.ndarray | None = None  # the last frame's, at the frames' size

    @classmethod
    def of(cls, settings: Settings) -> "FrameRegions | None":
        """The tracker of a clip styled with ``settings``; None without regions."""
        if settings.mask is None or settings.regions is None:
            return None
        return cls(settings.mask, settings.regions)

    def follow(self, shape: tuple[int, int], motion: Motion | None, cut: bool) -> np.ndarray:
        """The (H, W) labels of the next frame, of ``shape`` (H, W): the drawn mask on the first
        frame and after a cut, else the previous frame's carried by ``motion``. Each region's
        one-hot mask is warped bilinearly and every pixel takes the region with the most of it,
        so a label never blends into a region index between two."""
        if self.labels is None or motion is None or cut:
            drawn = self.drawn.astype(np.uint8)
            self.labels = cv2.resize(drawn, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        else:
            one_hot = np.eye(len(self.regions), dtype=np.float32)[self.labels]
            warped = warp(one_hot, motion.flow)
            self.labels = (warped.reshape(*shape, -1) if warped.ndim == 2 else warped).argmax(-1).astype(np.uint8)
        return self.labels

    def settings(self, settings: Settings, labels: np.ndarray) -> Settings:
        """``settings`` with ``labels`` as their mask (what the optimiser takes)."""
        return settings.replace(mask=labels_mask(labels, self.regions))
