"""Changes to a finished result that need no new optimisation: how much style to keep, and colour.

* ``mix`` s in [0, 1] blends the result back towards the content, in RGB:
  out = (1 − s)·content + s·result, the content taken at the result's size as the engine takes it
  (Lanczos). 0 gives the content, 1 the result. RGB rather than luminance, so that at low
  mix the style's colours fade along with its textures.
* ``recolor`` then changes the colours: ``luminance`` keeps the blended image's luminance and
  takes the content's chroma (YIQ, as the run's own luminance mode does); ``histogram`` matches
  its RGB mean and covariance to the content's; ``none`` leaves them.

:class:`Adjuster` prepares a result and its content once, so each change of the sliders is a
few array operations on the CPU (see ``python -m bench.adjust_speed`` for the time at 2048×1536).
Recipes carry the adjustments under ``"adjustments"`` (:func:`nst.io.recipe.make_recipe`,
:func:`nst.io.recipe.adjustments_from_recipe`); applied to the re-run of a recipe's settings, they
give the same image again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np
import torch
from PIL import Image

from nst.model import color
from nst.core.errors import SettingsError
from nst.core.settings import CHOICE, FLOAT, rule_problems, setting
from nst.io.images import resize_max_side

RECOLOR_MODES = ("none", "luminance", "histogram")


@dataclass(frozen=True)
class Adjustments:
    """Post-run controls; validated like Settings through their rules."""

    mix: float = setting(1.0, FLOAT, "After the run: how much of the style to keep; lower blends the result"
                              " back towards the photo (in RGB).", low=0, high=1)
    recolor: str = setting("none", CHOICE, "After the run: keep the photo's colours under the result's luminance,"
                           " or match the result's colour statistics to the photo's.", choices=RECOLOR_MODES)

    def __post_init__(self) -> None:
        problems = self.problems(dataclasses.asdict(self))
        if problems:
            raise SettingsError(problems)

    @classmethod
    def problems(cls, values: Mapping[str, Any]) -> dict[str, str]:
        """{field: message} for values that cannot make Adjustments (missing ones take defaults)."""
        return rule_problems(ADJUST_RULES, values, {n: values.get(n, d) for n, d in ADJUST_DEFAULTS.items()})

    @property
    def identity(self) -> bool:
        """True when applying these leaves the result as it is."""
        return self == Adjustments()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Adjustments":
        """From a (possibly untrusted) mapping such as a recipe's; every problem reported together."""
        if not isinstance(data, Mapping):
            raise SettingsError({"adjustments": "adjustments must be a JSON object"})
        values = {k: float(v) if k == "mix" and type(v) is int else v for k, v in data.items()}
        problems = cls.problems(values)
        if problems:
            raise SettingsError(problems)
        return cls(**values)


ADJUST_RULES = {f.name: f.metadata["rule"] for f in fields(Adjustments)}
ADJUST_DEFAULTS = {f.name: f.default for f in fields(Adjustments)}


def content_at(content: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The content at a result's (W, H), resized as the engine resizes it for a run of that size."""
    resized = resize_max_side(content.convert("RGB"), max(size))
    return resized if resized.size == tuple(size) else resized.resize(tuple(size), Image.Resampling.LANCZOS)


def _float(image: np.ndarray) -> torch.Tensor:
    """(3, H, W) float view of an (H, W, 3) uint8 array, stored pixel-interleaved: every
    element-wise result keeps that layout, so the uint8 (H, W, 3) at the end needs no transpose."""
    return torch.from_numpy(np.require(image, requirements="W")).float().div_(255).permute(2, 0, 1)


class Adjuster:
    """A result and its content, prepared once; call it with Adjustments for the adjusted image."""

    def __init__(self, result: np.ndarray, content: Image.Image) -> None:
        """``result``: RGB uint8 (H, W, 3), as a run's last record holds it; ``content``: the photo."""
        if result.ndim != 3 or result.shape[2] != 3 or result.dtype != np.uint8:
            raise SettingsError({"result": f"a result must be an RGB uint8 array, got shape {result.shape}"})
        self.result = result
        self.styled = _float(result)
        self.content = _float(np.asarray(content_at(content, (result.shape[1], result.shape[0]))))
        self._content_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, adjustments: Adjustments) -> np.ndarray:
        """The adjusted image, RGB uint8 (H, W, 3)."""
        if adjustments.identity:
            return self.result
        image = self.styled
        if adjustments.mix < 1:
            image = torch.lerp(self.content, self.styled, adjustments.mix)
        if adjustments.recolor == "luminance":
            image = color.recombine(image, self.content)
        elif adjustments.recolor == "histogram":
            if self._content_stats is None:
                self._content_stats = color.color_stats(self.content)
            image = color.match_stats(image, *self._content_stats)
        return image.clamp(0, 1).mul_(255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def adjust(result: np.ndarray, content: Image.Image, adjustments: Adjustments) -> np.ndarray:
    """``result`` with ``adjustments`` applied (see the module docstring)."""
    return Adjuster(result, content)(adjustments)
