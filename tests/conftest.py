"""Shared fixtures: tiny generated images (never files from ../shared)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


def make_image(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth random RGB picture (gradients plus noise) of the given size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.random((height, width, 3)) * 55
    return Image.fromarray(base.astype(np.uint8))


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def content_image() -> Image.Image:
    return make_image(64, 48, seed=1)


@pytest.fixture
def style_image() -> Image.Image:
    return make_image(48, 48, seed=2)


@pytest.fixture
def png_of():
    """Encode a generated picture: ``png_of(width, height, seed, fmt="PNG") -> bytes``."""
    return lambda width=64, height=48, seed=0, fmt="PNG": encode(make_image(width, height, seed), fmt)


# -- Streamlit AppTest helpers shared by the app tests ----------------------------------------------
APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "app.py")


def start_app():
    """A fresh Stylize page, run once."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    return app


def stop_app(app) -> None:
    """Never leave a job holding the shared device slot."""
    run = app.session_state["active_run"] if "active_run" in app.session_state else None
    if run is not None:
        run.job.stop()
        run.job.join(10)


@pytest.fixture
def studio_app():
    app = start_app()
    yield app
    stop_app(app)


def app_button(app, label: str):
    return next(b for b in app.button if b.label == label)


def app_finished(app) -> bool:
    return "active_run" not in app.session_state


def app_poll(app, until, timeout: float = 120.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not until(app):
        assert time.monotonic() < end, "timed out waiting for the app"
        time.sleep(0.1)
        app.run()


def app_texts(elements) -> list[str]:
    return [e.value for e in elements]


def app_captions(app) -> list[str]:
    return [img.caption for element in app.image for img in element.proto.imgs]
