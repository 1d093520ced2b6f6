"""What the engine streams back: one record per optimiser step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepRecord:
    """One optimiser step of a run, as streamed by :func:`nst.engine.stylize`.

    ``losses`` holds the weighted terms (α·content, β·style, γ·TV and their ``total``); ``raw``
    holds the unweighted terms plus each style layer's E_l as ``style/<layer>``.
    """

    step: int  # 1-based, counted over all scales
    total_steps: int
    scale: int  # 0-based index of the current scale (coarse to fine)
    n_scales: int
    shape: tuple[int, int]  # (height, width) being optimised at this scale
    losses: dict[str, float]
    raw: dict[str, float]
    elapsed: float  # seconds since the run started (model and targets included)
    # RGB uint8 (H, W, 3) on the first step, every preview_every steps and the last; else None
    image: np.ndarray | None = field(default=None, repr=False)
    done: bool = False  # last record of the run
    stopped: bool = False  # the run ended early because the stop event was set
