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
