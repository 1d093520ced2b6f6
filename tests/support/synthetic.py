"""Images made in code, for the tests, the browser checks and the benchmark's ``--synthetic`` run:
never files from ../shared, always the same pixels for the same arguments."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth random RGB picture: gradients plus seeded noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.random((height, width, 3)) * 55
    return Image.fromarray(base.astype(np.uint8))


def scene(width: int = 64, height: int = 48) -> Image.Image:
    """Sky gradient, a 'house' and a 'sun': edges and flat areas like a photo."""
    y = np.linspace(0, 1, height)[:, None, None]
    sky = np.concatenate([0.3 + 0.2 * y, 0.5 + 0.3 * y, 0.9 - 0.2 * y], axis=2) * np.ones((1, width, 1))
    image = Image.fromarray((sky * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rectangle([width // 5, height // 2, width // 2, height - 2], fill=(180, 60, 40))
    draw.polygon([(width // 6, height // 2), (width * 7 // 20, height // 5), (width * 11 // 20, height // 2)],
                 fill=(90, 40, 30))
    sun = max(2, min(width, height) // 8)
    draw.ellipse([width * 3 // 4 - sun, height // 12, width * 3 // 4 + sun, height // 12 + 2 * sun],
                 fill=(250, 220, 60))
    return image


def stripes(size: int = 64, seed: int = 1) -> Image.Image:
    """Diagonal colour stripes with a little seeded texture: a painting-like style."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    phase = (xx + yy) / 6.0
    image = np.stack([np.sin(phase), np.sin(phase + 2.1), np.sin(phase + 4.2)], axis=2) * 0.5 + 0.5
    image = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1)
    return Image.fromarray((image * 255).astype(np.uint8))


def checks(size: int = 64) -> Image.Image:
    """Black and yellow checks: a second, very different style."""
    yy, xx = np.mgrid[0:size, 0:size]
    on = ((xx // 8 + yy // 8) % 2).astype(bool)
    image = np.zeros((size, size, 3), np.uint8)
    image[on] = (240, 200, 20)
    return Image.fromarray(image)


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    """The image as file bytes in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def save(image: Image.Image, path: Path) -> Path:
    """Write ``image`` to ``path`` (format from the suffix) and return the path."""
    image.save(path)
    return path
