"""Painted regions -> Settings.mask and Settings.regions (studio/services/painted_regions.py): pure functions on
paintings made the way the canvas returns them (strokes at STROKE_ALPHA, unpremultiplied)."""

from __future__ import annotations

import numpy as np
import pytest

from nst.core import masks
from nst.core.settings import Settings
from studio.services import painted_regions
from studio.services.painted_regions import PHOTO, STROKE_ALPHA
from tests.support.apptest import BLUE, RED, WHITE, YELLOW, canvas, stroke

pytestmark = pytest.mark.unit

ALPHA = round(STROKE_ALPHA * 255)


def test_strokes_are_seen_through_and_count_as_painted():
    assert painted_regions.stroke_colour("Red") == f"rgba(255, 0, 0, {STROKE_ALPHA})"
    assert painted_regions.stroke_colour(painted_regions.ERASER) == f"rgba(255, 255, 255, {STROKE_ALPHA})"
    assert masks.ALPHA_PAINTED <= ALPHA < 255


def test_painted_colours_ignore_specks_and_edges_and_keep_palette_order():
    paint = canvas()
    stroke(paint, BLUE, slice(100, 200), slice(0, 150))
    stroke(paint, RED, slice(0, 100), slice(0, 150))
    stroke(paint, YELLOW, slice(0, 2), slice(290, 300))  # 20 pixels: a speck, under MIN_SHARE
    paint[150:, 200:] = (0, 255, 0, 60)  # green, but too faint to be painted (alpha < 128)
    assert painted_regions.painted_colours(paint) == [RED, BLUE]
    assert painted_regions.painted_colours(None) == [] and painted_regions.painted_colours(canvas()) == []


def test_overlapping_strokes_never_read_as_a_third_colour():
    """Yellow over red blends towards orange, blue over red towards purple: each overlap still
    counts as one of the two painted colours, never as another palette colour."""
    paint = canvas()
    stroke(paint, RED, slice(0, 200), slice(0, 200))
    stroke(paint, YELLOW, slice(0, 100), slice(100, 300))
    stroke(paint, BLUE, slice(100, 200), slice(100, 300))
    assert painted_regions.painted_colours(paint) == [RED, BLUE, YELLOW]
    mask, items = painted_regions.painted_regions(paint, (300, 200), {RED: "1", BLUE: "2", YELLOW: PHOTO}, PHOTO)
    labels = masks.mask_labels(mask, items)
    assert items == ("#ff0000=1", "#0000ff=2", "#ffff00=photo")  # everything painted: no unpainted region
    assert labels[50, 150] == 2 and labels[150, 150] == 1 and labels[50, 50] == 0  # the later stroke wins


def test_painting_becomes_a_mask_of_the_contents_shape_with_each_colours_target():
    paint = canvas(300, 200)
    stroke(paint, RED, slice(0, 100), slice(0, 150))  # top left quarter
    stroke(paint, BLUE, slice(100, 200), slice(150, 300))  # bottom right quarter
    stroke(paint, WHITE, slice(150, 200), slice(250, 300))  # erased corner
    mask, items = painted_regions.painted_regions(paint, (96, 64), {RED: "2", BLUE: PHOTO}, "1")
    assert items == ("#ff0000=2", "#0000ff=photo", "#ffffff=1")
    labels = masks.mask_labels(mask, items)
    assert labels.shape == (64, 96)
    assert labels[10, 10] == 0 and labels[50, 60] == 1 and labels[10, 80] == 2 and labels[60, 92] == 2
    settings = Settings(mask=mask, regions=items)  # the rule table accepts what the editor makes
    assert masks.region_styles(settings.regions) == [1, None, 0]


def test_a_large_contents_mask_is_stored_at_most_512_px_and_fits_it():
    paint = canvas(600, 400)
    stroke(paint, RED, slice(0, 200), slice(0, 600))
    mask, items = painted_regions.painted_regions(paint, (3000, 2000), {RED: "1"}, PHOTO)
    height, width = masks.mask_pixels(mask).shape[:2]
    assert (width, height) == painted_regions.mask_size((3000, 2000)) == (512, 341)
    assert masks.mask_shape_fits((height, width), (3000, 2000))
    assert items == ("#ff0000=1", "#ffffff=photo")
    assert painted_regions.mask_size((96, 64)) == (96, 64)


def test_nothing_painted_means_no_regions():
    paint = canvas()
    paint[..., :3] = 255
    paint[..., 3] = 100  # all below the painted alpha
    assert painted_regions.painted_regions(paint, (96, 64), {}, PHOTO) == (None, None)
    assert painted_regions.painted_regions(None, (96, 64), {}, PHOTO) == (None, None)


def test_targets_labels_and_defaults():
    assert painted_regions.targets(2) == ["1", "2", PHOTO] and painted_regions.targets(0) == [PHOTO]
    assert [painted_regions.default_target(i, 2) for i in range(3)] == ["1", "2", "1"]
    assert painted_regions.default_target(0, 0) == PHOTO
    assert painted_regions.target_label("2", ["a.png", "b.png"]) == "Style 2 · b.png"
    assert painted_regions.target_label("3", ["a.png"]) == "Style 3" and painted_regions.target_label(PHOTO, []) == "Keep the photo"
    assert painted_regions.region_lines(("#ff0000=1", "#123456=photo", "#ffffff=photo"), ["a.png"]) == [
        ':color[■]{foreground="#ff0000"} Red → Style 1 · a\\.png', "`#123456` → Keep the photo",  # names literal
        ":gray[□] Unpainted area → Keep the photo"]


def test_a_recipes_regions_that_do_not_fit_the_inputs_are_named():
    paint = canvas(300, 200)
    stroke(paint, RED, slice(0, 100), slice(0, 300))
    mask, items = painted_regions.painted_regions(paint, (96, 64), {RED: "2"}, PHOTO)
    assert painted_regions.region_problem(mask, items, (96, 64), 2) is None
    assert painted_regions.region_problem(mask, items, (192, 128), 2) is None  # the same shape, larger
    assert "the mask is 96×64 pixels but the content is 64×64" in painted_regions.region_problem(mask, items, (64, 64), 2)
    assert "names style image 2, but 1 style image was given" in painted_regions.region_problem(mask, items, (96, 64), 1)


def test_overlay_lays_the_regions_over_the_photo():
    from tests.support.synthetic import gradient

    paint = canvas(96, 64)
    stroke(paint, BLUE, slice(0, 32), slice(0, 96))
    mask, _ = painted_regions.painted_regions(paint, (96, 64), {BLUE: "1"}, PHOTO)
    photo = gradient(96, 64, seed=3)
    shown = np.asarray(painted_regions.overlay(photo, mask)).astype(int)
    original = np.asarray(photo).astype(int)
    assert (shown[40:] == original[40:]).all()  # unpainted: the photo as it is
    assert (shown[:30, :, 2] > original[:30, :, 2]).all()  # painted blue: bluer


@pytest.mark.parametrize("size, expected", [((3000, 2000), (600, 400)), ((64, 96), (400, 600)), ((5, 5), (600, 600))])
def test_canvas_keeps_the_photos_shape(size, expected):
    assert painted_regions.canvas_size(size, 600) == expected
