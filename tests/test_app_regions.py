"""The regions editor through AppTest: a painting (as the canvas returns it) becomes the form's mask
and regions, a run and its recipe carry them, a recipe's regions are shown and cleared, and the
toggle, the presets and the edge softness do what they say. (Painting with a mouse on the real
canvas is the browser test's.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from PIL import Image

from bench.region_quality import luminance_ssim
from tests.support.synthetic import gradient
from nst import Settings
from nst.core.masks import mask_labels
from nst.core.settings import PRESETS
from nst.io.recipe import make_recipe, read_recipe
from studio.services import painted_regions
from studio.session import state
from studio.views.region_editor import PAINT
from tests.support.apptest import BLUE, RED, button, canvas, finished, latest_result, poll, stroke, texts

pytestmark = pytest.mark.app


@pytest.fixture
def at(studio_app, png_of):
    """The Stylize page with a 96×64 photo and two styles, set for a tiny run."""
    studio_app.file_uploader(key="content_file").set_value(("photo.png", png_of(96, 64, 1), "image/png"))
    studio_app.file_uploader(key="style_files").set_value(
        [(f"style{i}.png", png_of(48, 48, 10 + i), "image/png") for i in range(2)])
    studio_app.number_input(key="set_size").set_value(32)
    studio_app.number_input(key="set_steps").set_value(2)
    return studio_app.run()


def painting() -> np.ndarray:
    """Red over the top half, blue over the bottom right quarter, at the canvas's 600×400."""
    paint = canvas(600, 400)
    stroke(paint, RED, slice(0, 200), slice(0, 600))
    stroke(paint, BLUE, slice(200, 400), slice(300, 600))
    return paint


def region_caption(at) -> str:
    return next(c for c in texts(at.caption) if c.startswith(("Regions", "No regions")))


def test_a_painting_is_run_with_its_regions_and_the_recipe_carries_them(at):
    assert region_caption(at) == "No regions: the whole picture takes the style."
    at.session_state[PAINT] = painting()  # what the canvas sends after two strokes
    at.run()
    red, blue = painted_regions.SWATCH[RED], painted_regions.SWATCH[BLUE]
    assert region_caption(at) == (f"Regions: {red} Red → Style 1 · style0.png; {blue} Blue → Style 2 · style1.png;"
                                  " :gray[□] Unpainted area → Keep the photo")
    button(at, "Regions").click().run()  # the editor's dialog: one choice per painted colour and the rest
    assert [s.key for s in at.selectbox if s.key.startswith("region_")] == [
        "region_target_ff0000", "region_target_0000ff", "region_unpainted"]
    at.selectbox(key="region_target_0000ff").set_value("photo").run()
    at.selectbox(key="region_unpainted").set_value("2").run()
    items = ("#ff0000=1", "#0000ff=photo", "#ffffff=2")
    assert at.session_state["set_regions"] == items
    labels = mask_labels(at.session_state["set_mask"], items)
    assert labels.shape == (64, 96) and labels[5, 5] == 0 and labels[60, 90] == 1 and labels[60, 5] == 2

    button(at, "Done").click().run()
    button(at, "Start").click().run()
    assert not at.error, texts(at.error)
    poll(at, finished)
    result = latest_result(at)
    assert result.settings.regions == items and result.settings.mask == at.session_state["set_mask"]
    recipe = read_recipe(result.png())["settings"]
    assert recipe["regions"] == list(items) and recipe["mask"] == result.settings.mask


def test_the_toggle_turns_regions_off_and_clear_forgets_the_painting(at):
    at.session_state[PAINT] = painting()
    button(at, "Regions").click().run()
    at.toggle(key="region_apply").set_value(False).run()
    assert at.session_state["set_mask"] is None and at.session_state["set_regions"] is None
    assert region_caption(at).startswith("No regions")
    at.toggle(key="region_apply").set_value(True).run()
    assert at.session_state["set_regions"][0] == "#ff0000=1"
    button(at, "Clear").click().run()
    assert at.session_state["set_mask"] is None and PAINT not in at.session_state
    assert not [s for s in at.selectbox if s.key.startswith("region_target")]


def test_a_recipes_regions_are_kept_shown_and_can_be_cleared(at):
    mask, items = painted_regions.painted_regions(painting(), (96, 64), {RED: "2", BLUE: "photo"}, "1")
    recipe = make_recipe(Settings(size=32, steps=2, mask=mask, regions=items, region_blur=0.1))
    at.session_state[PAINT] = np.flipud(painting())  # an earlier painting: the recipe's regions replace it
    at.file_uploader(key="recipe_file").set_value(("regions.json", json.dumps(recipe).encode(),
                                                    "application/json")).run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.session_state["set_mask"] == mask and at.session_state["set_regions"] == items
    assert at.slider(key="set_region_blur").value == 0.1
    assert region_caption(at).startswith(f"Regions (from the recipe): {painted_regions.SWATCH[RED]} Red → Style 2 ·")
    at.selectbox(key="preset").set_value("paper").run()  # a preset keeps the regions
    assert at.session_state["set_regions"] == items and at.number_input(key="set_steps").value == 1000
    assert at.slider(key="set_region_blur").value == Settings().region_blur

    button(at, "Regions").click().run()
    assert any("From the loaded recipe" in c for c in texts(at.caption))
    assert not [s for s in at.selectbox if s.key.startswith("region_target")]  # shown, not painted over
    button(at, "Clear regions").click().run()
    assert at.session_state["set_mask"] is None and at.session_state["set_regions"] is None
    assert region_caption(at).startswith("No regions")


def test_a_recipes_regions_that_do_not_fit_the_photo_refuse_the_start(at, png_of):
    mask, items = painted_regions.painted_regions(painting(), (96, 64), {RED: "1", BLUE: "2"}, "photo")
    at.file_uploader(key="recipe_file").set_value(("r.json", json.dumps(make_recipe(Settings(
        size=32, steps=2, mask=mask, regions=items))).encode(), "application/json"))
    at.file_uploader(key="content_file").set_value(("square.png", png_of(64, 64, 1), "image/png")).run()
    button(at, "Start").click().run()
    assert any("the mask is 96×64 pixels but the content is 64×64" in e for e in texts(at.error)), texts(at.error)
    assert latest_result(at) is None


def test_region_edge_softness_is_a_setting(at):
    at.slider(key="set_region_blur").set_value(0.1).run()
    values = {key: at.session_state[key] for key in at.session_state}
    assert state.settings_from_widgets(values, 2).region_blur == 0.1


def test_a_regions_run_from_the_studios_defaults_keeps_the_photo(studio_app, png_of):
    """The studio's defaults (the fast preset: from the fast result, 60 steps), only smaller: red
    over the left half takes style 1 and the unpainted right half keeps the photo, as they do by
    default; the result's right half is the photo (luminance SSIM ≥ 0.8: only the soft edge differs)."""
    at = studio_app
    at.file_uploader(key="content_file").set_value(("photo.png", png_of(96, 64, 1), "image/png"))
    at.file_uploader(key="style_files").set_value([("style.png", png_of(48, 48, 10), "image/png")])
    at.number_input(key="set_size").set_value(64)
    at.run()
    assert (at.session_state["set_init"], at.session_state["set_steps"]) == ("fast", PRESETS["fast"]["steps"])
    paint = canvas(600, 400)
    stroke(paint, RED, slice(0, 400), slice(0, 300))
    at.session_state[PAINT] = paint
    at.run()
    assert at.session_state["set_regions"] == ("#ff0000=1", "#ffffff=photo")
    button(at, "Start").click().run()
    assert not at.error, texts(at.error)
    poll(at, finished)
    image = latest_result(at).image
    assert image.shape == (43, 64, 3)
    photo = np.asarray(gradient(96, 64, 1).resize((64, 43), Image.Resampling.LANCZOS))
    ssim = luminance_ssim(image, photo)
    styled, kept = float(ssim[:, :32].mean()), float(ssim[:, 32:].mean())
    assert kept >= 0.8 and styled < kept - 0.25, (styled, kept)
