"""Post-run adjustments (mix, colour) on real results, their recipes, and the CLI's flags."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.synthetic import checks, scene, stripes
from nst.model import color
from nst.io.adjust import ADJUST_RULES, Adjuster, Adjustments, adjust, content_at
from nst.cli.main import build_parser, flag, main
from nst.engine import run
from nst.core.errors import SettingsError
from nst.io.images import resize_max_side
from nst.io.recipe import adjustments_from_recipe, make_recipe, read_recipe
from nst.core.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def result():
    """A real result at 64×43 of a 96×64 photo, and that photo."""
    content = scene(96, 64)
    record = run(content, [checks(64)], Settings(size=64, steps=8, multiscale="off", style_weight=1e-2))
    return record.image, content


def _yiq(image: np.ndarray) -> torch.Tensor:
    return color.rgb_to_yiq(torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255)


def test_mix_blends_from_the_content_to_the_result(result):
    image, content = result
    photo = np.asarray(resize_max_side(content, 64))  # the content as the engine took it
    assert image.shape == photo.shape == (43, 64, 3)
    adjuster = Adjuster(image, content)
    assert np.array_equal(adjuster(Adjustments(mix=0.0)), photo)
    assert np.array_equal(adjuster(Adjustments(mix=1.0)), image)
    half = adjuster(Adjustments(mix=0.5)).astype(float)
    assert np.abs(half - (photo.astype(float) + image) / 2).max() <= 0.5 + 1e-9
    assert not np.array_equal(half, image)


def test_recolor_keeps_the_contents_colours(result):
    image, content = result
    photo = np.asarray(content_at(content, (64, 43)))
    kept = adjust(image, content, Adjustments(recolor="luminance"))
    chroma = lambda a: (_yiq(a)[1:] - _yiq(photo)[1:]).abs().mean()  # noqa: E731
    # Not zero: a bright result under a saturated photo's chroma leaves the RGB cube and is clipped.
    assert chroma(kept) < 0.25 * chroma(image), (chroma(kept), chroma(image))
    assert (_yiq(kept)[0] - _yiq(image)[0]).abs().mean() < 0.02  # the result's luminance stays
    stats = lambda a: np.concatenate([a.reshape(-1, 3).mean(0), np.cov(a.reshape(-1, 3).T).ravel() / 255])  # noqa
    matched = adjust(image, content, Adjustments(recolor="histogram"))
    gap = lambda a: np.abs(stats(a) - stats(photo)).sum()  # noqa: E731
    assert gap(matched) < 0.2 * gap(image), (gap(matched), gap(image))


@pytest.mark.parametrize("values, fragment", [
    ({"mix": 1.5}, "mix must be a number from 0 to 1"),
    ({"recolor": "sepia"}, "recolor must be one of none, luminance, histogram"),
    ({"brightness": 2}, "unknown setting 'brightness'"),
])
def test_bad_adjustments_are_clear_errors(values, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Adjustments.from_dict(values)
    with pytest.raises(SettingsError, match="adjustments must be a JSON object"):
        adjustments_from_recipe({"adjustments": [1]})


def test_recipes_carry_the_adjustments():
    adjustments = Adjustments(mix=0.25, recolor="histogram")
    recipe = make_recipe(Settings(), adjustments)
    assert recipe["adjustments"] == {"mix": 0.25, "recolor": "histogram"}
    assert adjustments_from_recipe(recipe) == adjustments
    assert adjustments_from_recipe(make_recipe(Settings())) == Adjustments()  # older recipes: none
    assert Adjustments.from_dict({"mix": 0}) == Adjustments(mix=0.0)  # JSON's whole numbers


def test_each_adjustment_has_a_flag():
    parser = build_parser()
    for name, rule in ADJUST_RULES.items():
        action = next(a for a in parser._actions if a.dest == name)
        assert flag(name) in action.option_strings and rule.help in action.help


def test_cli_applies_the_adjustments_and_a_recipe_repeats_them(tmp_path):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    scene(96, 64).save(content)
    stripes(64).save(style)
    common = ["--size", "48", "--steps", "4", "--multiscale", "off", "--quiet"]
    plain, adjusted, again = (tmp_path / n for n in ("plain.png", "adjusted.png", "again.png"))
    assert main([str(content), str(style), "-o", str(plain), *common]) == 0
    assert main([str(content), str(style), "-o", str(adjusted), "--mix", "0.4", "--recolor", "luminance",
                 *common]) == 0
    assert read_recipe(adjusted)["adjustments"] == {"mix": 0.4, "recolor": "luminance"}
    expected = adjust(np.asarray(Image.open(plain)), Image.open(content), Adjustments(0.4, "luminance"))
    assert np.array_equal(np.asarray(Image.open(adjusted)), expected)
    assert main([str(content), str(style), "-o", str(again), "--recipe", str(adjusted), "--quiet"]) == 0
    assert Image.open(again).tobytes() == Image.open(adjusted).tobytes()
