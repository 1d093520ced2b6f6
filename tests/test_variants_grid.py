"""The variant sweep and the grid picture: pure functions, checked on their outputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst.core.errors import ImageError, SettingsError
from nst.io.grid import grid_image, grid_shape
from nst.core.settings import Settings
from nst.io.variants import MAX_VARIANTS, PREVIEW, variants

pytestmark = pytest.mark.unit


def test_nine_variants_sweep_style_weight_and_colour():
    base = Settings(size=768, steps=400, style_weight=1e-3, preserve_color="luminance")
    tiles = variants(base)
    assert len(tiles) == MAX_VARIANTS
    assert [t.changes["style_weight"] for t in tiles[:3]] == pytest.approx([2.5e-4, 1e-3, 4e-3])
    assert [t.changes["preserve_color"] for t in tiles[::3]] == ["luminance", "none", "histogram"]
    assert len({(t.changes["style_weight"], t.changes["preserve_color"]) for t in tiles}) == 9
    assert all((t.settings.size, t.settings.steps) == (PREVIEW["size"], PREVIEW["steps"]) for t in tiles)
    assert tiles[2].label == "style ×4 · colour luminance"
    full = tiles[5].full(base)
    assert (full.size, full.steps, full.style_weight, full.preserve_color) == (768, 400, 4e-3, "none")


def test_noise_runs_sweep_seeds_and_first_n_are_the_weights():
    base = Settings(init="noise", seed=41)
    tiles = variants(base, 3)
    assert [t.changes for t in tiles] == [{"style_weight": base.style_weight * f, "seed": 41} for f in (0.25, 1, 4)]
    assert [t.changes["seed"] for t in variants(base)[::3]] == [41, 42, 43]


def test_overrides_and_small_bases():
    base = Settings(size=128, steps=30)
    tiles = variants(base, 4, overrides={"steps": 5, "style_weight": 9.0})
    assert all(t.settings.size == 128 and t.settings.steps == 5 for t in tiles)  # never larger than the base
    assert tiles[0].settings.style_weight == base.style_weight / 4  # the sweep wins over an override


@pytest.mark.parametrize("n, rows, fragment", [(0, "auto", "from 1 to 9"), (10, "auto", "from 1 to 9"),
                                               (3, "seed", "seeds change only noise"), (3, "size", "rows must")])
def test_bad_variant_requests(n, rows, fragment):
    with pytest.raises(SettingsError, match=fragment):
        variants(Settings(), n, rows=rows)


def test_grid_places_each_image_in_its_cell():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 0), (0, 250, 250)]
    images = [Image.new("RGB", (40, 20), c) for c in colours[:4]] + [np.full((30, 30, 3), colours[4], np.uint8)]
    sheet = grid_image(images, tile=50, gap=4)
    assert grid_shape(5) == (2, 3) and sheet.size == (3 * 54 + 4, 2 * 54 + 4)
    pixels = np.asarray(sheet)
    for index, colour in enumerate(colours):
        row, col = divmod(index, 3)
        centre = (4 + row * 54 + 25, 4 + col * 54 + 25)
        assert tuple(pixels[centre]) == colour
    assert tuple(pixels[4 + 2, 4 + 25]) == (255, 255, 255)  # a wide image leaves the cell's top empty
    assert tuple(pixels[4 + 54 + 25, 4 + 2 * 54 + 25]) == (255, 255, 255)  # the sixth cell is empty
    assert grid_image(images, columns=1, tile=10, gap=0).size == (10, 50)


def test_grid_limits():
    with pytest.raises(ImageError, match="at least one"):
        grid_image([])
    with pytest.raises(ImageError, match="at most 100"):
        grid_image([Image.new("RGB", (2, 2))] * 101)
    big = grid_image([Image.new("RGB", (4, 4))] * 100, tile=4096, gap=0)
    assert big.size[0] * big.size[1] <= 40_000_000
