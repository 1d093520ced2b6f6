"""Every message true and current (issue 21, parts 4 and 5), through AppTest: an error goes when its
cause is fixed, messages name controls by their labels, a fast result's Losses tab says it has no
steps, an over-limit picture is called over the limit, a recipe's region colours missing from its
mask are named, controls show only for the method that uses them, and the fast method with regions
keeps the photo regions (and says before Start what it cannot use)."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bench.region_quality import luminance_ssim, photo_region_ssim
from tests.support.synthetic import gradient
from nst import Settings
from nst.core.errors import RecipeError
from nst.core.masks import encode_mask
from nst.io.images import RECIPE_KEY
from nst.io.recipe import make_recipe, read_recipe
from nst.core.settings import parse_bytes
from studio.views.region_editor import PAINT
from studio.services.literal import shown
from tests.support.apptest import BLUE, RED, button, canvas, fast_result, latest_result, stroke, upload_inputs

pytestmark = pytest.mark.app


def texts(elements) -> list[str]:
    """What the page reads as (messages are Markdown with the user's text escaped: studio.session.text)."""
    return [shown(e.value) for e in elements]


def errors(at) -> list[str]:
    return texts(at.error)


# -- a. an error goes when its cause is fixed ----------------------------------------------------
def test_a_size_error_goes_when_the_size_is_corrected(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(99999).run()
    button(at, "Start").click().run()
    assert any("got 99999" in e for e in errors(at)), errors(at)
    at.number_input(key="set_size").set_value(64).run()
    assert not any("99999" in e for e in errors(at)), errors(at)
    assert latest_result(at) is None  # nothing ran: the note just went


def test_of_two_errors_the_one_still_wrong_stays(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(99999)
    at.number_input(key="set_steps").set_value(0).run()
    button(at, "Start").click().run()
    under_start = [e for e in errors(at) if e.startswith("Invalid settings")]
    assert len(under_start) == 1 and "99999" in under_start[0] and "got 0" in under_start[0], errors(at)
    at.number_input(key="set_size").set_value(64).run()
    under_start = [e for e in errors(at) if e.startswith("Invalid settings")]
    assert len(under_start) == 1 and "99999" not in under_start[0] and "got 0" in under_start[0], errors(at)


# -- b. messages name controls by their labels ---------------------------------------------------
def test_the_budget_error_names_the_memory_budget_control(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(4096)
    budget = at.selectbox(key="set_max_memory")
    budget.set_value(parse_bytes(next(o for o in budget.options if o != "Auto")[:-1])).run()  # too small for 4096 px
    budget = [e for e in errors(at) if "needs at least" in e]
    assert budget and "Memory budget" in budget[0], errors(at)
    assert not any("max_memory" in e for e in errors(at)), errors(at)


def test_a_settings_error_names_the_control_under_start_and_under_the_widget(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(99999).run()
    assert any(m.startswith(":red[“Output size (px)” must be") for m in texts(at.markdown)), texts(at.markdown)
    button(at, "Start").click().run()
    assert any(e.startswith("Invalid settings: “Output size (px)” must be") for e in errors(at)), errors(at)


def test_a_recipes_refusal_names_the_controls(studio_app):
    recipe = make_recipe(Settings())
    recipe["settings"].update(style_weight=-1.0, steps=0)
    studio_app.file_uploader(key="recipe_file").set_value(
        ("style_weight.json", json.dumps(recipe).encode(), "application/json")).run()
    shown = errors(studio_app)
    assert any("“Style weight β” must be" in e and "“Steps” must be" in e for e in shown), shown
    assert any(e.startswith("Invalid settings: style_weight.json: ") for e in shown), shown  # a file name stays


# -- c. a fast result's Losses tab -------------------------------------------------------------------
def test_a_fast_results_losses_tab_says_it_has_no_steps_and_offers_no_csv(studio_app):
    at = studio_app
    assert fast_result(at) is not None, errors(at)
    assert not any("appears after the first step" in c for c in texts(at.caption))
    assert any("no steps" in c for c in texts(at.caption)), texts(at.caption)
    labels = [d.label for d in at.download_button]
    assert "Download PNG" in labels and "Download losses (CSV)" not in labels, labels


# -- d. an over-limit picture ------------------------------------------------------------------------
def huge_png(side: int = 20000, recipe: dict | None = None) -> bytes:
    """A valid 1-bit PNG of side × side black pixels (≈ 50 KB), with a recipe chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + -(-side // 8))
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    text = RECIPE_KEY.encode() + b"\0\0\0\0\0" + json.dumps(recipe or make_recipe(Settings())).encode()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"iTXt", text) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_an_over_limit_recipe_png_is_called_over_the_limit():
    with pytest.raises(RecipeError) as caught:
        read_recipe(huge_png(), name="big.png")
    message = str(caught.value)
    assert "20000×20000" in message and "limit" in message and "corrupt" not in message, message


def test_an_over_limit_picture_is_called_over_the_limit_as_a_recipe_and_as_a_photo(studio_app):
    at = studio_app
    data = huge_png()
    at.file_uploader(key="recipe_file").set_value(("big.png", data, "image/png")).run()
    at.file_uploader(key="content_file").set_value(("big.png", data, "image/png")).run()
    shown = errors(at)
    assert len([e for e in shown if "big.png" in e and "limit" in e]) == 2, shown
    assert not any("corrupt" in e for e in shown), shown


# -- e. region colours missing from the mask ---------------------------------------------------------
def test_a_recipe_naming_region_colours_its_mask_lacks_is_warned_about(studio_app, png_of):
    at = studio_app
    upload_inputs(at, png_of, styles=2)
    paint = np.zeros((48, 64, 3), np.uint8)
    paint[:, :32] = (255, 0, 0)
    paint[:, 32:] = (255, 255, 255)
    items = ("#ff0000=1", "#0000ff=2", "#00ff00=photo", "#ffffff=photo")
    recipe = make_recipe(Settings(size=32, steps=2, mask=encode_mask(paint, items), regions=items))
    at.file_uploader(key="recipe_file").set_value(("r.json", json.dumps(recipe).encode(), "application/json")).run()
    assert not any("Loaded every setting" in s for s in texts(at.success)), texts(at.success)
    warned = [w for w in texts(at.warning) if "#0000ff" in w and "#00ff00" in w]
    assert warned and "#ff0000" not in warned[0] and "r.json" in warned[0], texts(at.warning)
    assert at.session_state["set_regions"] == items  # loaded, and the regions line says it too
    assert any("#0000ff" in c and "not in its mask" in c for c in texts(at.caption)), texts(at.caption)


# -- f. controls show only for the method that uses them ---------------------------------------------
OPTIMISE_ONLY = ("set_steps", "set_lr", "set_seed", "set_min_scale", "set_preview_every", "set_style_scale",
                 "set_eps", "set_beta1", "set_beta2")


def widget_keys(at) -> set[str]:
    kinds = ("number_input", "slider", "select_slider", "radio", "selectbox", "multiselect", "toggle")
    return {w.key for kind in kinds for w in getattr(at, kind) if w.key}


def test_optimise_shows_no_fast_method_control_and_fast_no_optimiser_control(studio_app):
    at = studio_app
    assert at.session_state["set_method"] == "gatys" and at.session_state["set_init"] == "fast"
    strength = [s.label for s in at.slider if s.key == "set_strength"]
    assert strength and "fast method" not in strength[0].lower(), strength  # it sets the fast start
    at.selectbox(key="set_init").set_value("content").run()
    assert "set_strength" not in widget_keys(at)

    at.radio(key="set_method").set_value("fast").run()
    shown = widget_keys(at)
    assert {"set_size", "set_strength", "set_preserve_color", "set_device", "set_max_memory", "set_region_blur"} <= shown
    hidden = {*OPTIMISE_ONLY, "set_optimizer", "set_init", "set_content_weight", "set_style_weight",
              "set_tv_weight", "set_multiscale", "set_pooling", "set_content_layers", "set_style_layers",
              "set_weights", "set_precision", "run_length"}
    assert not hidden & shown, hidden & shown
    at.radio(key="set_method").set_value("gatys").run()  # back: every value as it was
    assert at.session_state["set_init"] == "content" and {*OPTIMISE_ONLY, "set_init"} <= widget_keys(at)


# -- g. the fast method with regions ------------------------------------------------------------------
def test_the_fast_method_with_painted_regions_keeps_the_photo_region(studio_app, png_of):
    at = studio_app
    at.file_uploader(key="content_file").set_value(("photo.png", png_of(96, 64, 1), "image/png"))
    at.file_uploader(key="style_files").set_value([("style.png", png_of(48, 48, 10), "image/png")])
    at.radio(key="set_method").set_value("fast")
    at.number_input(key="set_size").set_value(96)
    at.run()
    paint = canvas(600, 400)
    stroke(paint, RED, slice(0, 400), slice(0, 300))  # the left half takes style 1, the rest keeps the photo
    at.session_state[PAINT] = paint
    at.run()
    assert at.session_state["set_regions"] == ("#ff0000=1", "#ffffff=photo")
    button(at, "Start").click().run()
    result = latest_result(at)
    assert result is not None and not errors(at), errors(at)
    assert result.settings.method == "fast" and result.settings.regions == ("#ff0000=1", "#ffffff=photo")
    photo = gradient(96, 64, 1)
    kept = photo_region_ssim(result.image, photo, result.settings)
    styled = float(luminance_ssim(result.image, np.asarray(photo))[:, :40].mean())
    # A fast result is a picture of the network's (uint8 after rounding): the photo region is the
    # photo blended by soft masks that are ≥ 0.99 photo there, so its SSIM is close to 1.
    assert kept >= 0.95 and styled < kept - 0.3, (kept, styled)


def test_with_regions_the_page_says_before_start_what_it_cannot_use_and_the_recipe_records_it(studio_app,
                                                                                              png_of):
    at = studio_app
    upload_inputs(at, png_of, styles=1)
    at.radio(key="set_method").set_value("fast")
    at.multiselect(key="set_builtin_styles").set_value([3])
    at.number_input(key="set_size").set_value(64)
    at.run()
    paint = canvas(600, 450)
    stroke(paint, BLUE, slice(0, 450), slice(300, 600))
    at.session_state[PAINT] = paint
    at.run()
    assert at.session_state["set_regions"] == ("#0000ff=1", "#ffffff=photo")
    notes = [c for c in texts(at.caption) + texts(at.warning) if "Built-in styles" in c and "not used" in c]
    assert notes, texts(at.caption) + texts(at.warning)
    button(at, "Start").click().run()
    result = latest_result(at)
    assert result is not None, errors(at)
    recipe = read_recipe(result.png())["settings"]
    assert recipe["builtin_styles"] == [] and recipe["regions"] == ["#0000ff=1", "#ffffff=photo"]


def test_every_setting_has_a_label_and_only_settings_are_relabelled():
    from nst.core.settings import RULES
    from studio.services.labels import FIELD_LABELS, labelled

    assert set(FIELD_LABELS) == set(RULES)
    assert labelled("but max_memory is 1G; raise max_memory or lower the size.") == (
        "but “Memory budget” is 1G; raise “Memory budget” or lower the size.")
    # A value or a file name is the user's text, shown as given; a plain word is a setting only as a rule's subject.
    assert labelled("init must be one of content, got 'style_weight'") == (
        "“Initialise from” must be one of content, got 'style_weight'")
    assert labelled("style_weight.json: steps must be a whole number") == (
        "style_weight.json: “Steps” must be a whole number")
