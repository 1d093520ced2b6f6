"""Layer explorer: what single VGG19 layers keep of an image, rendered by reconstruction from noise.

Content reconstructions match one layer's activations (style weight 0); style reconstructions
match the Gram matrices of a growing set of layers (content weight 0). Each image is a small
run on the shared device queue, run as the browser's own (:mod:`studio.services.browser_runs`), and
kept in its session per (image digest, settings): a user's reconstructions are theirs
(:mod:`studio.session.memo`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from nst.core.settings import DEFAULT_STYLE_LAYERS, Settings
from studio.services import browser_runs
from studio.services.jobs import DONE, QUEUED, Snapshot
from studio.session.memo import session_memo
from studio.session.uploads import Upload

CONTENT_LAYERS: tuple[str, ...] = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
STYLE_SETS: tuple[tuple[str, ...], ...] = tuple(DEFAULT_STYLE_LAYERS[: k + 1] for k in range(len(DEFAULT_STYLE_LAYERS)))
MAX_CACHED = 40  # reconstructions a session keeps: both rows at four sizes or images
# kind -> (title, the layer sets it renders, caption of one layer set)
KINDS: dict[str, tuple[str, list[tuple[str, ...]], Callable[[tuple[str, ...]], str]]] = {
    "content": ("Content reconstructions", [(layer,) for layer in CONTENT_LAYERS], lambda layers: layers[0]),
    "style": ("Style reconstructions", list(STYLE_SETS), lambda layers: " + ".join(layers)),
}


class ReconstructionError(RuntimeError):
    """A reconstruction run failed or was cut short; the message is for the user."""


def reconstruction_settings(kind: str, layers: tuple[str, ...], size: int, steps: int, device: str) -> Settings:
    """Settings for one reconstruction from noise ('content' or 'style')."""
    common = dict(size=size, steps=steps, init="noise", multiscale="off", device=device, preview_every=steps)
    if kind == "content":
        return Settings(style_weight=0.0, content_layers=layers, **common)
    return Settings(content_weight=0.0, style_layers=layers, **common)


def reconstruct(owner: str, upload: Upload, settings: Settings, on_update: Callable[[Snapshot], None]) -> np.ndarray:
    """The reconstruction for ``settings`` (kept in the session once made), run as ``owner``'s and
    calling ``on_update`` while it runs."""
    return session_memo("reconstructions", (upload.digest, settings),
                        lambda: _run(owner, upload, settings, on_update), MAX_CACHED)


def _run(owner: str, upload: Upload, settings: Settings, on_update: Callable[[Snapshot], None]) -> np.ndarray:
    styles = [upload.image] if settings.style_weight > 0 else []
    snap = browser_runs.reconstruct(owner, upload.image, styles, settings, on_update)
    if snap.status != DONE or snap.result is None:
        raise ReconstructionError(snap.message or "The reconstruction was stopped.")
    return snap.result


def render_kind(owner: str, kind: str, upload: Upload, size: int, steps: int, device: str) -> None:
    """One row of reconstructions of ``kind``, drawn as each finishes, with a progress bar."""
    title, layer_sets, caption = KINDS[kind]
    progress = st.progress(0.0, text="Starting …")
    columns = st.columns(len(layer_sets))
    for index, (column, layers) in enumerate(zip(columns, layer_sets)):

        def update(snap: Snapshot, index: int = index, layers: tuple = layers) -> None:
            if snap.status == QUEUED:
                waiting = f"Waiting for the {snap.device} (number {snap.queue_position} in the queue) …"
                progress.progress(index / len(layer_sets), text=waiting if snap.queue_position else "Starting …")
            else:
                progress.progress((index + snap.fraction) / len(layer_sets),
                                  text=f"{caption(layers)}: step {snap.step} of {snap.total_steps}")

        image = reconstruct(owner, upload, reconstruction_settings(kind, layers, size, steps, device), update)
        column.image(image, caption=caption(layers), width="stretch")
    progress.empty()
