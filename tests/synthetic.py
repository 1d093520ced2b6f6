"""Test images made in code: a content-like scene and a striped, colourful style."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def content_image(width: int = 64, height: int = 48) -> Image.Image:
    """Sky gradient, a 'house' and a 'sun': edges and flat areas like a photo."""
    y = np.linspace(0, 1, height)[:, None, None]
    sky = np.concatenate([0.3 + 0.2 * y, 0.5 + 0.3 * y, 0.9 - 0.2 * y], axis=2) * np.ones((1, width, 1))
    image = Image.fromarray((sky * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rectangle([width // 5, height // 2, width // 2, height - 2], fill=(180, 60, 40))
    draw.polygon([(width // 6, height // 2), (width * 7 // 20, height // 5), (width * 11 // 20, height // 2)],
                 fill=(90, 40, 30))
    draw.ellipse([width * 3 // 4 - 6, 4, width * 3 // 4 + 6, 16], fill=(250, 220, 60))
    return image


def style_image(size: int = 64, seed: int = 1) -> Image.Image:
    """Diagonal colour stripes with a little seeded texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    phase = (xx + yy) / 6.0
    image = np.stack([np.sin(phase), np.sin(phase + 2.1), np.sin(phase + 4.2)], axis=2) * 0.5 + 0.5
    image = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1)
    return Image.fromarray((image * 255).astype(np.uint8))


def checker_style(size: int = 64) -> Image.Image:
    """Black and yellow checks: a second, very different style."""
    yy, xx = np.mgrid[0:size, 0:size]
    on = ((xx // 8 + yy // 8) % 2).astype(bool)
    image = np.zeros((size, size, 3), np.uint8)
    image[on] = (240, 200, 20)
    return Image.fromarray(image)
