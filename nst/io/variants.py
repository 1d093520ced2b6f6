"""A grid of quick variants of one set of settings, to find good weights without many slow runs.

:func:`variants` sweeps the style weight (×¼, ×1, ×4) across a row and, down the rows, either
the seed (base seed, +1, +2) or the colour mode (the base's first, then the other two of none,
luminance, histogram). The seed changes
only noise-initialised runs (a run from the content or the style is deterministic), so
``rows="auto"`` sweeps seeds when ``init`` is noise and colour modes otherwise. Row by row, the
first N of the 3×3 grid are taken: N = 3 gives the three weights.

Each variant runs small (:data:`PREVIEW`: 256 px, few steps); ``overrides`` replaces that (a
``method`` field, once the engine has one, goes there too). ``Variant.changes`` holds only the
swept fields, so ``base.replace(**variant.changes)`` is that variant at the full size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nst.core.errors import SettingsError
from nst.core.settings import MAX_SEED, Settings

MAX_VARIANTS = 9
STYLE_FACTORS = (0.25, 1.0, 4.0)
COLOR_SWEEP = ("none", "luminance", "histogram")
ROWS = ("auto", "seed", "color")
PREVIEW: dict[str, Any] = {"size": 256, "steps": 60}
_FACTOR_NAMES = {0.25: "¼", 1.0: "1", 4.0: "4"}


@dataclass(frozen=True)
class Variant:
    """One tile of the grid: its label, the swept fields, and the small run's settings."""

    label: str
    changes: dict[str, Any]
    settings: Settings

    def full(self, base: Settings) -> Settings:
        """This variant at ``base``'s size and steps: "Render full size"."""
        return base.replace(**self.changes)


def variants(base: Settings, n: int = MAX_VARIANTS, *, rows: str = "auto",
             overrides: Mapping[str, Any] | None = None) -> list[Variant]:
    """The first ``n`` (1 to 9) variants of ``base``, row by row (see the module docstring)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_VARIANTS:
        raise SettingsError({"variants": f"the number of variants must be a whole number from 1 to"
                                         f" {MAX_VARIANTS}, got {n!r}"})
    if rows not in ROWS:
        raise SettingsError({"variants": f"rows must be one of {', '.join(ROWS)}, got {rows!r}"})
    if rows == "auto":
        rows = "seed" if base.init == "noise" else "color"
    if rows == "seed" and base.init != "noise":
        raise SettingsError({"init": "seeds change only noise-initialised runs: set init to noise, or sweep"
                                     " colour modes"})
    small = {**PREVIEW, **(overrides or {})}
    small["size"] = min(small.get("size", base.size), base.size)  # a preview never outgrows the result
    colors = [base.preserve_color] + [mode for mode in COLOR_SWEEP if mode != base.preserve_color]
    out = []
    for row in range(3):
        for factor in STYLE_FACTORS:
            changes: dict[str, Any] = {"style_weight": base.style_weight * factor}
            if rows == "seed":
                changes["seed"] = (base.seed + row) % (MAX_SEED + 1)
                label = f"style ×{_FACTOR_NAMES[factor]} · seed {changes['seed']}"
            else:
                changes["preserve_color"] = colors[row]
                label = f"style ×{_FACTOR_NAMES[factor]} · colour {colors[row]}"
            out.append(Variant(label, changes, base.replace(**{**small, **changes})))
    return out[:n]
