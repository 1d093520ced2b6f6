"""Post-run controls on the stage's result and the gallery's grid picture, through AppTest: what
the download buttons would give (their data, called as a click calls it) follows the widgets."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from PIL import Image
import pytest

from tests.support.synthetic import gradient
from nst.io.adjust import Adjustments, adjust
from nst.io.grid import grid_image
from nst.io.images import png_bytes
from nst.io.recipe import read_recipe
from studio.views.result_view import DISPLAY_SIDE, display_adjuster
from tests.support.apptest import captions, new_owner, start_app, store_results

pytestmark = pytest.mark.app


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_strength_and_colour_change_the_download_and_its_recipe(content_image, downloads):
    owner = new_owner()
    (result,) = store_results(owner, content_image, count=1)
    at = start_app(_browser_token=owner)
    assert not at.exception
    assert at.slider(key="adjust_strength_1").value == 1.0 and at.selectbox(key="adjust_recolor_1").value == "none"
    untouched = downloads["nst-result-1.png"]()
    assert untouched == result.png() and "adjustments" not in read_recipe(untouched)

    at.slider(key="adjust_strength_1").set_value(0.5).run()
    half = downloads["nst-result-1.png"]()
    recipe = read_recipe(half)
    assert recipe["adjustments"] == {"mix": 0.5, "recolor": "none"}
    assert recipe["settings"] == result.settings.to_dict() and recipe["losses"] == result.losses
    assert recipe["versions"] == read_recipe(untouched)["versions"]  # the run's, not today's
    assert np.array_equal(pixels(half), adjust(result.image, result.content, Adjustments(mix=0.5)))
    assert not np.array_equal(pixels(half), result.image)
    assert "Result · strength 0.5 · colour off" in captions(at)

    at.selectbox(key="adjust_recolor_1").set_value("luminance").run()
    both = Adjustments(mix=0.5, recolor="luminance")
    assert read_recipe(downloads["nst-result-1.png"]())["adjustments"] == both.to_dict()
    assert json.loads(downloads["nst-result-1.json"]())["adjustments"] == both.to_dict()
    jpeg = np.asarray(Image.open(io.BytesIO(downloads["nst-result-1.jpg"]())), dtype=float)
    assert np.abs(jpeg - adjust(result.image, result.content, both)).mean() < 4  # the JPEG is adjusted too


def test_the_shown_picture_is_adjusted_at_display_size_well_under_a_second(tmp_path):
    """A 2048×1536 result: the page adjusts a 1024 px copy prepared once (per result and session:
    tests/test_app_user_caches.py), so a change is quick."""
    image_path, content_path = tmp_path / "1.png", tmp_path / "1-content.jpg"
    image_path.write_bytes(png_bytes(gradient(2048, 1536, seed=5)))
    gradient(2048, 1536, seed=6).save(content_path, quality=90)
    adjuster = display_adjuster(str(image_path), str(content_path))
    change = Adjustments(mix=0.3, recolor="luminance")
    start = time.perf_counter()
    shown = adjuster(change)
    elapsed = time.perf_counter() - start
    assert shown.shape == (DISPLAY_SIDE * 3 // 4, DISPLAY_SIDE, 3)
    assert elapsed < 0.25, f"one change took {elapsed:.3f} s"


def test_gallery_downloads_a_grid_of_the_chosen_results_in_order(content_image, downloads):
    owner = new_owner()
    results = store_results(owner, content_image, count=3)
    at = start_app(_browser_token=owner).switch_page("pages/gallery.py").run()
    assert not at.exception
    grid_button = next(b for b in at.download_button if b.label == "Download grid (PNG)")
    assert grid_button.proto.disabled  # nothing chosen yet
    at.multiselect(key="gallery_grid").set_value([3, 1]).run()
    assert not next(b for b in at.download_button if b.label == "Download grid (PNG)").proto.disabled
    sheet = pixels(downloads["nst-grid.png"]())
    assert np.array_equal(sheet, np.asarray(grid_image([results[2].image, results[0].image])))
    cell = sheet[8 + 256, 8 + 256].astype(int), sheet[8 + 256, 8 + 512 + 8 + 256].astype(int)
    assert cell[0].sum() > cell[1].sum()  # #3 (the brightest) first
