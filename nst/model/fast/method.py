"""The fast method: the content painted in one pass of a feed-forward network.

* With any uploaded style, the arbitrary-stylisation network (Ghiasi et al. 2017): each style
  image (built-in styles through their style image) gives a 100-d embedding; a blend mixes the
  embeddings with the normalised ``style_blend`` weights, and ``strength`` moves from the
  content's own embedding (0) to that mix (1), Magenta's documented way of weakening a style.
* With built-in styles only, the 26-style network itself, its style weights set by the blend.
  That network has no content embedding, so ``strength`` fades its result into the content.

Colour modes follow :mod:`nst.model.color` as for Gatys: ``histogram`` gives the style images the
content's colour statistics before they are embedded (the 26-style network's result after it
is painted), ``luminance`` keeps the result's luminance and the content's chroma.

With regions (``Settings.mask``), each styled region is painted in its own style and ``photo``
regions keep the photo, blended by the soft masks the optimiser's loss uses.

:func:`painter` computes what depends only on the styles once, for the frames of a clip.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from nst.model import color
from nst.model.fast.builtins import builtin_style_image
from nst.model.fast.inference import STYLE_SIDE, embed, multistyle, transform
from nst.core.masks import mask_labels, region_styles
from nst.model.regions import RegionMasks
from nst.core.settings import BUILTIN_STYLES, Settings


Painter = Callable[[torch.Tensor], torch.Tensor]


def paint(content: torch.Tensor, styles: Sequence[Image.Image], blend: Sequence[float],
          settings: Settings) -> torch.Tensor:
    """The fast result for ``content`` (3, H, W) in [0, 1], on its device and at its size.

    ``styles`` are the uploaded style images, ``blend`` the normalised weights of the uploaded
    styles and then of ``settings.builtin_styles``. With regions, each region in its own style.
    """
    return painter(styles, blend, settings, content.device)(content)


def painter(styles: Sequence[Image.Image], blend: Sequence[float], settings: Settings,
            device: torch.device) -> Painter:
    """:func:`paint` as a function of the content alone: what depends only on the styles (their
    squares and the blended embedding) is computed once, so a clip's frames pay only the transform."""
    if settings.mask is not None and settings.regions is not None:
        labels, by_regions = mask_labels(settings.mask, settings.regions), regions_painter(styles, settings, device)
        return lambda content: by_regions(content, labels)
    base = _arbitrary(styles, blend, settings, device) if styles else _builtin(blend, settings)
    if settings.preserve_color == "luminance":
        return lambda content: color.recombine(base(content), content)
    return base


def regions_painter(styles: Sequence[Image.Image], settings: Settings,
                    device: torch.device) -> Callable[[torch.Tensor, np.ndarray], torch.Tensor]:
    """Each styled region painted by the network in its own style alone (a region names one style,
    so the blend and the built-in styles do not apply), ``photo`` regions the content, blended by
    :class:`nst.model.regions.RegionMasks`' soft masks at the content's shape (the loss's own).
    Strength and colour modes act on each style's painting as on a one-style result. The region
    labels (H, W) come with each content, so a clip's regions can follow its motion."""
    one = settings.replace(mask=None, regions=None, builtin_styles=(), style_blend=None)
    each = [painter([style], [1.0], one, device) for style in styles]
    targets = region_styles(settings.regions)

    def run(content: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
        regions = RegionMasks(labels, targets, tuple(content.shape[-2:]),  # type: ignore[arg-type]
                              settings.region_blur, content.device)
        return regions.compose(content, lambda style: each[style](content))
    return run


def _arbitrary(styles: Sequence[Image.Image], blend: Sequence[float], settings: Settings,
               device: torch.device) -> Painter:
    images = [*styles, *(builtin_style_image(index) for index in settings.builtin_styles)]
    squares = [_central_square(image, device) for image in images]

    def mix_for(content: torch.Tensor | None) -> torch.Tensor:
        """The blended style embedding; with ``histogram``, of the squares matched to ``content``."""
        matched = squares if content is None else [color.match_histogram(square, content) for square in squares]
        return sum(weight * embed(square, device) for square, weight in zip(matched, blend))  # type: ignore[return-value]

    fixed = None if settings.preserve_color == "histogram" else mix_for(None)  # else once per content

    def run(content: torch.Tensor) -> torch.Tensor:
        mix = fixed if fixed is not None else mix_for(content)
        if settings.strength < 1:
            mix = torch.lerp(embed(content, device), mix, settings.strength)
        return transform(content, mix)
    return run


def _builtin(blend: Sequence[float], settings: Settings) -> Painter:
    weights = torch.zeros(BUILTIN_STYLES)
    for index, weight in zip(settings.builtin_styles, blend):
        weights[index] += weight

    def run(content: torch.Tensor) -> torch.Tensor:
        out = multistyle(content, weights)
        if settings.preserve_color == "histogram":
            out = color.match_histogram(out, content)
        return torch.lerp(content, out, settings.strength) if settings.strength < 1 else out
    return run


def _central_square(image: Image.Image, device: torch.device) -> torch.Tensor:
    """The central square of a style image at the predictor's side, as a (3, S, S) tensor: the
    crop is taken before converting, so a large painting never becomes a large float tensor."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.convert("RGB").resize((STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS,
                                         box=(left, top, left + side, top + side))
    return torch.from_numpy(np.asarray(square, dtype=np.float32) / 255.0).permute(2, 0, 1).to(device)
