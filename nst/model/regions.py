"""Spatial control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer").

Each region r of the label mask (see :mod:`nst.core.masks`) gets a soft mask m_r: its one-hot mask,
resized to the scale being optimised and blurred (``Settings.region_blur``), so the masks of a
pixel sum to 1 and styles blend across boundaries. At a layer of H×W positions m_r is averaged
down to H×W, and the region's Gram matrix is the m²-weighted mean of the feature outer products:

    G_r = Σ_p m_r(p)² f_p f_pᵀ / Σ_p m_r(p)²          (the plain Gram G = FFᵀ/M when m_r ≡ 1)

A style region's error is E_l,r = Σ(G_r − A_s(r))² / (4N²) against the Gram of its style image;
the style loss sums them weighted by each region's share of the image, a_r = mean(m_r), so every
pixel feels the same style pull whatever the size of its region, and a single region covering
the image gives the unmasked loss. "Photo" regions have no style term.

A photo region keeps the photo, whatever the run's start (``init``): each scale's start image (the
init's picture, or the previous scale's result upsampled) is composed (:meth:`RegionMasks.compose`)
with the content by the same soft masks, so a photo region starts as the photo, and the image's
gradient is multiplied by 1 − the photo regions' mask (:meth:`RegionMasks.hold_photo`), so it stays
there (the soft edge moves in part). The fast start paints each styled region in its own style
(:func:`nst.model.fast.method.painter`). Content loss alone does not keep a photo: at conv4_2 it
neither removes a painted or noisy start nor restores the detail an upsampled coarse scale lacks,
and the style regions' deep layers, whose receptive fields reach across the edge, pull on it.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nst.model.losses import gram, gram_error
from nst.core.settings import DEFAULTS, Settings
from nst.model.vgg import VGG19Features

_SMALLEST_AREA = 1e-6  # a region this small at a layer contributes nothing there
# A region names one style image, so with regions the mix of styles and the built-in styles play no
# part (in the loss, the fast start and the fast method alike): the settings regions leave unused.
UNUSED_WITH_REGIONS = ("builtin_styles", "style_blend")


def as_run(settings: Settings) -> Settings:
    """``settings`` as a run uses them: with regions, without the settings regions leave unused, so a
    result's recipe records what was done."""
    if settings.mask is None or not any(getattr(settings, name) for name in UNUSED_WITH_REGIONS):
        return settings
    return settings.replace(**{name: DEFAULTS[name] for name in UNUSED_WITH_REGIONS})


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """G_r = Σ m² f fᵀ / Σ m² of (1, N, H, W) features under an (H, W) mask, fp32 (1, N, N)."""
    h, w = features.shape[-2:]
    weight = mask.float().square().sum().clamp_min(_SMALLEST_AREA)
    return gram(features * mask.to(features.dtype)) * (h * w / weight)


def _blur(masks: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (K, H, W) masks; edges replicated, so the masks keep summing to 1."""
    if sigma < 0.3:
        return masks
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=masks.dtype, device=masks.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = masks[:, None]
    for dim in (-1, -2):
        pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
        out = F.pad(out, pad, mode="replicate")
        weights = kernel.view(1, 1, 1, -1) if dim == -1 else kernel.view(1, 1, -1, 1)
        out = F.conv2d(out, weights)
    return out[:, 0]


class RegionMasks:
    """The soft masks of every region at one scale, and their averages at each layer's size."""

    def __init__(self, labels: np.ndarray, styles: Sequence[int | None], shape: tuple[int, int], blur: float,
                 device: torch.device) -> None:
        """``labels``: (H, W) region indices (any size of the content's aspect); ``styles``: each
        region's 0-based style index or None (photo); ``shape``: the scale's (H, W)."""
        self.styles = list(styles)
        label_t = torch.from_numpy(np.array(labels, dtype=np.int64)).to(device)  # a copy: cached labels are read-only
        one_hot = F.one_hot(label_t, len(self.styles)).permute(2, 0, 1).float()
        # Area-weighted resizing keeps the masks a partition of unity at any scale.
        resized = F.interpolate(one_hot[None], size=shape, mode="bilinear", align_corners=False,
                                antialias=True)[0]
        resized = resized / resized.sum(0, keepdim=True).clamp_min(1e-8)
        self.masks = _blur(resized, blur * max(shape))
        self.shares = self.masks.mean((1, 2)).tolist()
        self._at: dict[tuple[int, int], torch.Tensor] = {}
        self._norms: dict[tuple[int, int], list[float]] = {}

    def at(self, size: tuple[int, int]) -> torch.Tensor:
        """(K, H, W) masks averaged down to a layer's (H, W) (cached)."""
        masks = self._at.get(size)
        if masks is None:
            masks = F.adaptive_avg_pool2d(self.masks[None], size)[0]
            self._at[size] = masks
        return masks

    @property
    def styled(self) -> list[int]:
        """The regions with a style term: a style, and some area at this scale."""
        return [index for index, style in enumerate(self.styles)
                if style is not None and self.shares[index] > _SMALLEST_AREA]

    def style_error(self, features: torch.Tensor, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """Σ_r a_r E_r of one layer's (1, N, H, W) features; ``targets[s]`` is style s's Gram."""
        masks = self.at(tuple(features.shape[-2:]))
        return self.error({index: masked_gram(features, masks[index]) for index in self.styled}, targets)

    def error(self, grams: Mapping[int, torch.Tensor], targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """Σ_r a_r E_r from each styled region's masked Gram G_r (whole or summed over tiles)."""
        error = self.masks.new_zeros(())
        for index, g in grams.items():
            error = error + self.shares[index] * gram_error(g, targets[self.styles[index]])
        return error

    def compose(self, photo: torch.Tensor, styled: Callable[[int], torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Σ_r m_r · (``photo`` for a photo region, else ``styled(s)`` for a region of style s): one
        (3, H, W) picture at the masks' shape, the regions blended by the soft masks the loss uses.
        ``styled`` is called once per style, so one style's picture at a time is held; a tensor is
        every style region's picture (the photo regions of a start image go back to the photo)."""
        if isinstance(styled, torch.Tensor) and None not in self.styles:
            return styled  # no photo region: the start as it is
        out = torch.zeros_like(photo)
        for style in dict.fromkeys(self.styles):  # each target once, in order
            weight = sum(self.masks[index] for index, s in enumerate(self.styles) if s == style)
            picture = photo if style is None else styled if isinstance(styled, torch.Tensor) else styled(style)
            out.addcmul_(weight.to(out.dtype), picture.to(out.dtype))  # (H, W) over the 3 channels
        return out

    def hold_photo(self, image: torch.Tensor) -> None:
        """Multiply the gradient of ``image`` (the optimised leaf at the masks' shape) by 1 − the photo
        regions' mask, so the optimisers keep photo regions where they start, at the photo, and move
        the soft edge between regions in part. Nothing without photo regions."""
        photo = [mask for mask, style in zip(self.masks, self.styles) if style is None]
        if photo:
            movable = (1 - sum(photo)).clamp_(0, 1).to(image.dtype)
            image.register_hook(lambda grad: grad * movable)

    def tile(self, size: tuple[int, int], origin: tuple[int, int], shape: tuple[int, int]
             ) -> tuple[torch.Tensor, list[float]]:
        """For a tile's map of ``shape`` whose first position is ``origin`` in a layer's map of
        ``size``: the (K, h, w) masks there, and per region M / Σ m² over the whole map, which
        turns the tile's share of a plain Gram of masked features into its share of G_r."""
        masks = self.at(size)
        norms = self._norms.get(size)
        if norms is None:
            norms = (size[0] * size[1] / masks.square().sum((1, 2)).clamp_min(_SMALLEST_AREA)).tolist()
            self._norms[size] = norms
        top, left = origin
        return masks[:, top:top + shape[0], left:left + shape[1]], norms


def style_matrix(model: VGG19Features, image: torch.Tensor, styles: Sequence[torch.Tensor], regions: RegionMasks,
                 layers: Sequence[str], layer_weights: Sequence[float], *, pooling: str = "max") -> list[list[float]]:
    """Σ_l w_l E_l of every region (rows) against every style image (columns): how close each
    region of ``image`` (3, H, W) is to each style. An evaluator, in fp32 without gradients."""
    with torch.no_grad():
        feats = model.features(image[None], layers, pooling=pooling)
        style_grams = [{k: gram(f) for k, f in model.features(s[None], layers, pooling=pooling).items()}
                       for s in styles]
        matrix = []
        for index in range(len(regions.styles)):
            row = []
            for grams in style_grams:
                total = 0.0
                for layer, weight in zip(layers, layer_weights):
                    mask = regions.at(tuple(feats[layer].shape[-2:]))[index]
                    total += weight * float(gram_error(masked_gram(feats[layer], mask), grams[layer]))
                row.append(total)
            matrix.append(row)
    return matrix
