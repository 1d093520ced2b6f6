"""VGG19 layer names, in network order.

Each ``convB_C`` names the ReLU output of the C-th convolution of block B, as in Gatys et al.
A 2×2 pooling follows the last convolution of every block.
"""

from __future__ import annotations

import math

BLOCK_SIZES: tuple[int, ...] = (2, 2, 4, 4, 4)
CONV_LAYERS: tuple[str, ...] = tuple(
    f"conv{block}_{conv}" for block, n in enumerate(BLOCK_SIZES, start=1) for conv in range(1, n + 1)
)
CHANNELS: dict[str, int] = {
    name: (64, 128, 256, 512, 512)[int(name[4]) - 1] for name in CONV_LAYERS
}
# The last conv of each block: a 2×2 pooling follows it.
POOLED: frozenset[str] = frozenset(
    f"conv{block}_{n}" for block, n in enumerate(BLOCK_SIZES, start=1)
)
# Downsampling factor of each layer's feature map relative to the input image.
STRIDE: dict[str, int] = {name: 2 ** (int(name[4]) - 1) for name in CONV_LAYERS}


def layer_shapes(height: int, width: int, deepest: int) -> list[tuple[str, int, int]]:
    """(layer, height, width) of each ReLU output up to CONV_LAYERS[deepest] (ceil-mode pooling): the
    one walk of the network's maps that the memory model (bytes) and the benchmark (FLOPs) share."""
    out = []
    for name in CONV_LAYERS[: deepest + 1]:
        out.append((name, height, width))
        if name in POOLED:
            height, width = math.ceil(height / 2), math.ceil(width / 2)
    return out


def reach(layer: str) -> int:
    """Input pixels on each side of its own stride cell that a feature at ``layer`` depends on
    (half its receptive field beyond the cell): 70 for conv5_1, 38 for conv4_2.

    A 3×3 convolution widens the field by one step of the current stride on each side, a 2×2
    pooling by half a step, and then doubles the stride.
    """
    field, step = 1, 1
    for name in CONV_LAYERS[: CONV_LAYERS.index(layer) + 1]:
        field += 2 * step
        if name in POOLED and name != layer:
            field += step
            step *= 2
    return (field - step) // 2


def depth(layers: "list[str] | tuple[str, ...] | set[str]") -> int:
    """Index (in CONV_LAYERS) of the deepest of ``layers``; -1 when empty."""
    return max((CONV_LAYERS.index(layer) for layer in layers), default=-1)
