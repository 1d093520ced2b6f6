"""Finished runs: saving a job's outcome to the store, and every file a result offers (adjusted after
the fact when given :class:`nst.io.adjust.Adjustments`)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from nst.io.adjust import Adjustments, adjust
from nst.io.images import jpeg_bytes, png_bytes, to_image
from nst.io.recipe import ADJUSTMENTS_KEY, make_recipe, read_recipe
from nst.records import losses_csv
from nst.core.settings import Settings
from studio.services.jobs import FAILED, STOPPED, Snapshot
from studio.services.store import Stored, shared_store
from studio.session.memo import session_memo
from studio.session.uploads import thumbnail

KEPT_PIXELS = 4  # full-size results a session keeps decoded: the two compared, and room to switch


@dataclass(frozen=True)
class Result:
    """One finished, stopped or failed run as the store keeps it. Made afresh on every rerun, so what
    it caches lasts one rerun; decoded pixels last the session (:mod:`studio.session.memo`)."""

    stored: Stored

    @property
    def number(self) -> int:
        return self.stored.number

    @property
    def settings(self) -> Settings:
        return self.stored.settings

    @property
    def meta(self) -> dict:
        return self.stored.meta

    @property
    def rows(self) -> list[dict[str, float]]:
        return self.meta["rows"]

    @property
    def losses(self) -> dict[str, float]:
        return self.meta["losses"]

    @property
    def step(self) -> int:
        return self.meta["step"]

    @property
    def stopped(self) -> bool:
        return self.meta["status"] in (STOPPED, FAILED)

    @property
    def clip_path(self) -> Path | None:
        """A clip result's file (its :attr:`image` is the poster frame); None for a picture."""
        return self.stored.clip_path

    @cached_property
    def image(self) -> np.ndarray:
        """The full-size pixels, decoded once a session (results are never rewritten: the path is a fine key)."""
        path = self.stored.image_path
        return session_memo("pixels", str(path), lambda: np.asarray(Image.open(path).convert("RGB")), KEPT_PIXELS)

    @property
    def content(self) -> Image.Image:
        return self.stored.content()

    @cached_property
    def thumb(self) -> Image.Image:
        """The thumbnail stored with the result; one stored before thumbnails were gets it made, from the
        full-size image, and kept on its first view."""
        kept = shared_store().thumbnail(self.stored.owner, self.number)
        if kept is None:
            kept = thumbnail(to_image(self.image))
            height, width = self.image.shape[:2]
            shared_store().keep_thumbnail(self.stored.owner, self.number, kept, (width, height))
        return kept

    @cached_property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image, as stored with it; read from the image where it was not (the
        thumbnail's first view keeps it)."""
        if self.stored.size is not None:
            return self.stored.size
        height, width = self.image.shape[:2]
        return width, height

    @property
    def title(self) -> str:
        return f"#{self.number} · {self.meta['content_name']} · {self.state} · {self.meta['created']}"

    @property
    def state(self) -> str:
        """'300 steps', or how and where it ended early."""
        meta = self.meta
        if self.clip_path is not None:
            frames = f"frame {meta['step']} of {meta['total_steps']}"
            return f"{meta['total_steps']} frames" if meta["status"] == "done" else f"stopped at {frames}"
        if meta["status"] == "done":
            return "fast method" if self.settings.method == "fast" else f"{meta['step']} steps"
        height, width = meta["scale_shape"]
        where = f"at step {meta['step']} of {meta['total_steps']}"
        if (width, height) != self.size:  # upsampled from a coarser scale
            where += f", scale {width}×{height} upsampled"
        return f"{'failed' if meta['status'] == FAILED else 'stopped'} {where}"

    @property
    def stem(self) -> str:
        return f"nst-{'clip' if self.clip_path is not None else 'result'}-{self.number}"

    def adjusted(self, adjustments: Adjustments | None = None) -> np.ndarray:
        """The image at full size with ``adjustments`` applied, against the photo stored with it."""
        if adjustments is None or adjustments.identity:
            return self.image
        return adjust(self.image, self.content, adjustments)

    def png(self, adjustments: Adjustments | None = None) -> bytes:
        """The PNG with its recipe embedded: the stored one, or the adjusted image whose recipe
        records the adjustments."""
        if adjustments is None or adjustments.identity:
            return self.stored.image_path.read_bytes()
        return png_bytes(self.adjusted(adjustments), self.recipe(adjustments))

    def jpeg(self, adjustments: Adjustments | None = None) -> bytes:
        return jpeg_bytes(self.adjusted(adjustments))

    def recipe(self, adjustments: Adjustments | None = None) -> dict:
        """The stored recipe; with adjustments, the same recipe recording them (its run's versions kept)."""
        recipe = read_recipe(self.stored.image_path)
        if adjustments is None or adjustments.identity:
            return recipe
        extra = {key: value for key, value in recipe.items() if key not in ("format", "settings", ADJUSTMENTS_KEY)}
        return make_recipe(self.settings, adjustments, **extra)

    def recipe_json(self, adjustments: Adjustments | None = None) -> bytes:
        return json.dumps(self.recipe(adjustments), indent=2, ensure_ascii=False).encode("utf-8")

    def losses_csv(self) -> bytes:
        """Per-step losses: step, scale, elapsed, the weighted terms, then every raw term."""
        return losses_csv(self.rows).encode("utf-8")


def save_result(owner: str, snap: Snapshot, settings: Settings, content: Image.Image, content_name: str,
                style_names: list[str]) -> Result | None:
    """Store a finished job's image (None when it ended without one) with its recipe and losses."""
    if snap.result is None:
        return None
    height, width = snap.result.shape[:2]
    meta = dict(status=snap.status, message=snap.message, step=snap.step, total_steps=snap.total_steps,
                elapsed=round(snap.elapsed, 3), losses=snap.losses, rows=snap.rows, scale_shape=list(snap.shape),
                content_name=content_name, style_names=style_names, created=time.strftime("%Y-%m-%d %H:%M"))
    ended_early = {} if snap.status == "done" else {"optimized_at": {"width": snap.shape[1], "height": snap.shape[0]}}
    recipe = make_recipe(settings, losses=snap.losses, steps_done=snap.step, stopped=snap.status != "done",
                         elapsed_s=meta["elapsed"], content=content_name, styles=style_names, **ended_early)
    before = content.resize((width, height), Image.Resampling.LANCZOS)
    thumb = thumbnail(to_image(snap.result))  # stored with it: a listing never decodes the full image
    return Result(shared_store().add(owner, settings, snap.result, before, meta, recipe, thumb=thumb))


def results(owner: str, kind: str = "image") -> list[Result]:
    """This browser's pictures (``kind="image"``), clips (``"clip"``) or both (``"all"``), oldest first."""
    return [Result(s) for s in shared_store().list(owner, kind)]


def zip_bytes(chosen: list[Result]) -> bytes:
    """A ZIP with each result's PNG (recipe embedded; a clip's poster frame), settings JSON, losses
    CSV and, for a clip, the clip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for result in chosen:
            archive.writestr(f"{result.stem}.png", result.png())
            archive.writestr(f"{result.stem}.json", result.recipe_json())
            if result.clip_path is not None:
                archive.write(result.clip_path, f"{result.stem}{result.clip_path.suffix}")
            if result.rows:  # a fast result has no steps, so no losses
                archive.writestr(f"{result.stem}-losses.csv", result.losses_csv())
    return buffer.getvalue()


def download_buttons(result: Result, key: str, adjustments: Adjustments | None = None) -> None:
    """PNG (with recipe), JPEG, losses CSV and settings JSON; bytes are made when clicked. With
    ``adjustments``, the images are adjusted and the recipes record it."""
    adjusted = " Adjusted as set above; the recipe records it." if adjustments and not adjustments.identity else ""
    files = [
        ("Download PNG", lambda: result.png(adjustments), "png", "image/png",
         "The image with its recipe embedded." + adjusted),
        ("Download JPEG", lambda: result.jpeg(adjustments), "jpg", "image/jpeg",
         "The image as a JPEG (quality 95)." + adjusted),
        *([("Download losses (CSV)", result.losses_csv, "-losses.csv", "text/csv", "Every loss term per step.")]
          if result.rows else []),  # none without a step (a fast result): it would be one empty line
        ("Download settings (JSON)", lambda: result.recipe_json(adjustments), "json", "application/json",
         "The recipe: load it back with Load recipe to repeat the run." + adjusted),
    ]
    with st.container(horizontal=True):
        for label, data, suffix, mime, help in files:
            name = f"{result.stem}{suffix}" if suffix.startswith("-") else f"{result.stem}.{suffix}"
            st.download_button(label, data, file_name=name, mime=mime, help=help, key=f"{key}-{suffix}",
                               on_click="ignore")
