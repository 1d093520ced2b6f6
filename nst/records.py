"""What the engine streams back: one record per optimiser step."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from nst.model.tiles import TileGrid
    from nst.plan.budget import RunPlan


@dataclass(frozen=True)
class StepRecord:
    """One optimiser step of a run, as streamed by :func:`nst.engine.stylize`.

    ``losses`` holds the weighted terms (α·content, β·style, γ·TV and their ``total``); ``raw``
    holds the unweighted terms plus each style layer's E_l as ``style/<layer>``. They are the
    losses of the image the step evaluated, except on a scale's last record, which carries the
    scale's best image and that image's losses. A fast-method run has one record, without losses.
    The first record of a Gatys run carries the run's plan.
    """

    step: int  # 1-based, counted over all scales
    total_steps: int
    scale: int  # 0-based index of the current scale (coarse to fine)
    n_scales: int
    shape: tuple[int, int]  # (height, width) optimised at this scale (a stopped run's image is upsampled)
    losses: dict[str, float]
    raw: dict[str, float]
    elapsed: float  # seconds since the run started (model and targets included)
    # RGB uint8 (H, W, 3) on the first step, every preview_every steps and each scale's last; else None
    image: np.ndarray | None = field(default=None, repr=False)
    done: bool = False  # last record of the run
    stopped: bool = False  # the run ended early because the stop event was set
    # The final image again in 16 bits: RGB uint16 (H, W, 3), 0 … 65535, on the last record only
    # (for 16-bit PNG and TIFF files; rounded from the optimised float image, not from ``image``).
    image16: np.ndarray | None = field(default=None, repr=False)
    tiles: "TileGrid | None" = None  # how this step's pass was tiled; None when it was one pass
    # The run's plan (scales, steps, tiles, bytes: nst.plan.budget.RunPlan), on its first record
    # only: what the ETA prices (nst.plan.estimate.remaining_seconds). None on the others.
    plan: "RunPlan | None" = None


LOSS_TERMS = ("content", "style", "tv", "total")


def loss_row(record: StepRecord) -> dict[str, float]:
    """A record's losses as one flat row: step, scale, elapsed_s, the weighted terms, then each
    raw term as ``raw_<name>`` (the CLI's CSV, the studio's chart and its CSV download)."""
    row: dict[str, float] = {"step": record.step, "scale": record.scale, "elapsed_s": record.elapsed}
    row.update({term: record.losses.get(term, 0.0) for term in LOSS_TERMS})
    row.update({f"raw_{name}": value for name, value in record.raw.items()})
    return row


def losses_csv(rows: Iterable[dict[str, float]]) -> str:
    """CSV text of loss rows; the columns are the union of their keys in first-seen order (the
    style layers can differ between runs of a gallery or scales of a run)."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
