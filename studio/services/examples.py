"""Example inputs, so a new user can start without files of their own.

* Paintings: three public-domain works, downscaled to at most 512 px (files in
  ``studio/services/examples/``; provenance in README): Van Gogh's *The Starry Night* (1889), Munch's
  *The Scream* (1893) and Turner's *The Shipwreck* (1805).
* Photos: two scenes rendered here in code (a lake landscape and a harbour town at dusk), the
  same pixels every time; no photograph of anyone's is shipped.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

FOLDER = Path(__file__).parent / "examples"
PAINTINGS = {
    "The Starry Night (Van Gogh, 1889)": "starry-night-van-gogh-1889.jpg",
    "The Scream (Munch, 1893)": "the-scream-munch-1893.jpg",
    "The Shipwreck (Turner, 1805)": "the-shipwreck-turner-1805.jpg",
}
WIDTH, HEIGHT = 512, 384


def painting(name: str) -> Image.Image:
    """One of the example paintings, as RGB."""
    with Image.open(FOLDER / PAINTINGS[name]) as image:
        return image.convert("RGB")


def _noise(height: int, width: int, scale: int, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: a coarse random grid, bicubically enlarged."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(2, height // scale), max(2, width // scale)))
    grid = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(grid, dtype=np.float32) / 255


def _fractal(height: int, width: int, seed: int) -> np.ndarray:
    octaves = [_noise(height, width, scale, seed + i) * weight
               for i, (scale, weight) in enumerate(((64, 0.5), (24, 0.3), (8, 0.2)))]
    return sum(octaves)


def _sky(height: int, width: int, top: tuple, bottom: tuple, seed: int) -> np.ndarray:
    t = np.linspace(0, 1, height)[:, None, None]
    sky = (1 - t) * np.array(top) + t * np.array(bottom)
    clouds = np.clip(_fractal(height, width, seed) * 1.6 - 0.75, 0, 1)[..., None]
    return np.broadcast_to(sky, (height, width, 3)) * (1 - clouds * 0.6) + clouds * 0.6 * 245


@lru_cache(maxsize=1)
def lake_landscape() -> Image.Image:
    """Mountains over a lake under a cloudy sky, with pines on the shore and their reflection."""
    h, w = HEIGHT, WIDTH
    image = _sky(h, w, (70, 120, 190), (210, 220, 235), seed=1)
    x = np.arange(w)
    ridge = (0.42 * h - 0.16 * h * _noise(1, w, 48, 5)[0] - 0.05 * h * np.sin(x / 37.0)).astype(int)
    hills = (0.55 * h - 0.08 * h * _noise(1, w, 20, 6)[0]).astype(int)
    rows = np.arange(h)[:, None]
    rock = _fractal(h, w, 9)[..., None]
    image = np.where((rows >= ridge)[..., None], np.array([95, 100, 120]) * (0.7 + 0.5 * rock), image)
    snow = (rows >= ridge) & (rows < ridge + 10 + 14 * _noise(h, w, 12, 3))
    image = np.where(snow[..., None], np.array([235, 238, 245]) * (0.9 + 0.1 * rock), image)
    image = np.where((rows >= hills)[..., None], np.array([50, 95, 55]) * (0.6 + 0.6 * rock), image)
    shore = int(0.68 * h)
    land = image[:shore]
    water = land[::-1][: h - shore] * np.array([0.55, 0.7, 0.85]) + np.array([10, 25, 45])
    ripple = 0.85 + 0.15 * _noise(h - shore, w, 4, 11)[..., None]
    image = np.concatenate([land, water * ripple], axis=0)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    rng = np.random.default_rng(4)
    for tree_x in sorted(rng.integers(0, w, 26)):
        top = shore - int(rng.integers(25, 60))
        draw.polygon([(tree_x, top), (tree_x - 9, shore), (tree_x + 9, shore)], fill=(20, 55, 30))
        draw.polygon([(tree_x, 2 * shore - top), (tree_x - 9, shore), (tree_x + 9, shore)], fill=(25, 50, 45))
    return picture.filter(ImageFilter.GaussianBlur(0.6))


@lru_cache(maxsize=1)
def harbour_town() -> Image.Image:
    """Houses of many colours along a quay at dusk, lit windows, boats on the water."""
    h, w = HEIGHT, WIDTH
    image = _sky(h, w, (40, 50, 110), (245, 160, 110), seed=21)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    rng = np.random.default_rng(22)
    quay = int(0.7 * h)
    x = 0
    palette = [(180, 70, 60), (220, 170, 70), (70, 110, 160), (200, 200, 190), (120, 150, 90), (160, 90, 140)]
    while x < w:
        width = int(rng.integers(38, 70))
        top = quay - int(rng.integers(90, 190))
        colour = palette[int(rng.integers(len(palette)))]
        draw.rectangle([x, top, x + width, quay], fill=colour, outline=(40, 30, 30))
        draw.polygon([(x - 3, top), (x + width // 2, top - width // 2), (x + width + 3, top)], fill=(90, 50, 45))
        for wy in range(top + 12, quay - 20, 26):
            for wx in range(x + 8, x + width - 12, 16):
                lit = rng.random() < 0.55
                draw.rectangle([wx, wy, wx + 8, wy + 12], fill=(255, 220, 130) if lit else (50, 60, 80))
        x += width + int(rng.integers(0, 4))
    draw.rectangle([0, quay, w, quay + 8], fill=(90, 85, 80))
    picture = np.asarray(picture, dtype=np.float32)
    town = picture[:quay + 8]
    water = town[::-1][: h - quay - 8] * np.array([0.45, 0.5, 0.65]) + np.array([10, 20, 40])
    ripple = 0.8 + 0.2 * _noise(h - quay - 8, w, 3, 23)[..., None]
    result = Image.fromarray(np.clip(np.concatenate([town, water * ripple]), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(result)
    for boat_x in (70, 260, 400):
        y = quay + 40 + boat_x % 30
        draw.polygon([(boat_x, y), (boat_x + 60, y), (boat_x + 48, y + 14), (boat_x + 10, y + 14)], fill=(150, 40, 30))
        draw.line([(boat_x + 30, y), (boat_x + 30, y - 45)], fill=(60, 40, 30), width=3)
    return result.filter(ImageFilter.GaussianBlur(0.5))


CONTENTS = {"Lake landscape (rendered)": lake_landscape, "Harbour town at dusk (rendered)": harbour_town}
