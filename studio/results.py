"""Finished runs: the session's gallery of results and every file a result can be downloaded as."""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import streamlit as st
from PIL import Image

from nst.images import jpeg_bytes, png_bytes, to_image
from nst.recipe import make_recipe
from nst.records import losses_csv
from nst.settings import Settings
from studio.charts import loss_chart
from studio.jobs import STOPPED, Snapshot
from studio.uploads import thumbnail

_GALLERY = "gallery"


@dataclass(eq=False)
class Result:
    """One finished (or stopped) run, with its inputs' names, settings and per-step losses."""

    number: int
    image: np.ndarray  # RGB uint8, full resolution
    content: Image.Image  # the content image at the result's size, for before/after
    settings: Settings
    rows: list[dict[str, float]]
    losses: dict[str, float]
    stopped: bool
    step: int
    elapsed: float
    content_name: str
    style_names: list[str]
    created: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))

    @classmethod
    def from_snapshot(cls, snap: Snapshot, settings: Settings, content: Image.Image, content_name: str,
                      style_names: list[str]) -> "Result":
        """Build from a finished job's snapshot (its ``result`` must be set)."""
        assert snap.result is not None
        height, width = snap.result.shape[:2]
        return cls(number=len(gallery()) + 1, image=snap.result,
                   content=content.resize((width, height), Image.Resampling.LANCZOS),
                   settings=settings, rows=snap.rows, losses=dict(snap.losses), stopped=snap.status == STOPPED,
                   step=snap.step, elapsed=snap.elapsed, content_name=content_name, style_names=style_names)

    @property
    def title(self) -> str:
        state = f"stopped at step {self.step}" if self.stopped else f"{self.step} steps"
        return f"#{self.number} · {self.content_name} · {state} · {self.created}"

    @property
    def stem(self) -> str:
        return f"nst-result-{self.number}"

    @cached_property
    def thumb(self) -> Image.Image:
        return thumbnail(to_image(self.image))

    def recipe(self) -> dict:
        """The recipe embedded in the PNG and offered as JSON."""
        return make_recipe(self.settings, losses=self.losses, steps_done=self.step, stopped=self.stopped,
                           elapsed_s=round(self.elapsed, 3), content=self.content_name, styles=self.style_names)

    def png(self) -> bytes:
        return png_bytes(self.image, self.recipe())

    def jpeg(self) -> bytes:
        return jpeg_bytes(self.image)

    def recipe_json(self) -> bytes:
        return json.dumps(self.recipe(), indent=2, ensure_ascii=False).encode("utf-8")

    def losses_csv(self) -> bytes:
        """Per-step losses: step, scale, elapsed, the weighted terms, then every raw term."""
        return losses_csv(self.rows).encode("utf-8")


def gallery() -> list[Result]:
    """Every result of this session, oldest first."""
    return st.session_state.setdefault(_GALLERY, [])


def add_result(result: Result) -> None:
    gallery().append(result)


def zip_bytes(results: list[Result]) -> bytes:
    """A ZIP with each result's PNG (recipe embedded), settings JSON and losses CSV."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for result in results:
            archive.writestr(f"{result.stem}.png", result.png())
            archive.writestr(f"{result.stem}.json", result.recipe_json())
            archive.writestr(f"{result.stem}-losses.csv", result.losses_csv())
    return buffer.getvalue()


def download_buttons(result: Result, key: str) -> None:
    """PNG (with recipe), JPEG, losses CSV and settings JSON; bytes are made when clicked."""
    files = [
        ("Download PNG", result.png, "png", "image/png", "The image with its recipe embedded."),
        ("Download JPEG", result.jpeg, "jpg", "image/jpeg", "The image as a JPEG (quality 95)."),
        ("Download losses (CSV)", result.losses_csv, "-losses.csv", "text/csv", "Every loss term per step."),
        ("Download settings (JSON)", result.recipe_json, "json", "application/json",
         "The recipe: load it back with Load recipe to repeat the run."),
    ]
    with st.container(horizontal=True):
        for label, data, suffix, mime, help in files:
            name = f"{result.stem}{suffix}" if suffix.startswith("-") else f"{result.stem}.{suffix}"
            st.download_button(label, data, file_name=name, mime=mime, help=help, key=f"{key}-{suffix}",
                               on_click="ignore")


def result_view(result: Result) -> None:
    """A result: the image, before/after, its loss curve and every download."""
    st.subheader(f"Result #{result.number}" + (" (stopped early)" if result.stopped else ""))
    result_tab, compare_tab, losses_tab = st.tabs(["Result", "Before / after", "Losses"])
    with result_tab:
        st.image(result.image, caption="Result")
    with compare_tab:
        before, after = st.columns(2)
        before.image(result.content, caption="Before: content")
        after.image(result.image, caption="After: stylised")
    with losses_tab:
        loss_chart(result.rows)
        st.json({"final losses": result.losses, "seconds": round(result.elapsed, 2), "steps": result.step},
                expanded=False)
    download_buttons(result, key="latest")
