"""One preflight (issue 19, item 2): from sizes and settings alone, every reason a run cannot start,
as {field: message}; the engine raises exactly what it finds, the CLI and batch print it naming the
user's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.cli.main import main
from nst.core.errors import BudgetError, DeviceError, ImageError, NSTError, SettingsError
from nst.core.masks import encode_mask
from nst.core.settings import Settings
from nst.engine import stylize
from nst.plan.budget import RunPlan, plan_run
from nst.plan.preflight import BUDGET, CONTENT_SIZE, DEVICE, STYLE_SIZE, preflight, size_fields
from tests.support.synthetic import gradient

pytestmark = pytest.mark.unit

RED, BLUE = (255, 0, 0), (0, 0, 255)
SMALL = dict(size=32, steps=1, multiscale="off", init="content")


def halves_mask(width: int, height: int) -> str:
    """A mask of (width, height): red left, blue right; red takes style 1, blue style 2."""
    paint = np.zeros((height, width, 3), np.uint8)
    paint[:, : width // 2], paint[:, width // 2:] = RED, BLUE
    return encode_mask(paint, ("#ff0000=1", "#0000ff=2"))


def test_a_run_that_can_start_has_no_problems_and_the_engines_plan():
    settings = Settings(**SMALL)
    check = preflight(settings, (64, 48), [(48, 48)])
    assert check.ok and check.settings is settings
    assert isinstance(check.plan, RunPlan)
    assert check.plan.scales[-1].shape == plan_run(settings, (64, 48), [(48, 48)]).scales[-1].shape == (24, 32)
    check.raise_problems()  # nothing to raise


def test_raw_values_that_break_a_rule_give_those_problems_alone():
    check = preflight({"size": 0, "steps": 0}, (4, 3), [])  # a 4×3 content would be refused too: not judged
    assert check.settings is None and check.plan is None
    assert set(check.problems) == {"size", "steps"}
    with pytest.raises(SettingsError) as err:
        check.raise_problems()
    assert err.value.problems == check.problems


@pytest.mark.parametrize("changes, message", [
    ({"method": "fast"}, "the fast method needs a style image or a built-in style"),
    ({"init": "fast"}, "init fast starts from the fast method's result"),
    ({}, "at least one style image or built-in style is needed (or set style_weight to 0)"),
])
def test_a_run_without_a_style_names_what_needs_one(changes, message):
    check = preflight(Settings(**{**SMALL, **changes}), (64, 48), [])
    assert message in check.problems["styles"]
    assert preflight(Settings(**{**SMALL, **changes, "builtin_styles": (3,)}), (64, 48), []).ok
    assert "styles" not in preflight(Settings(**{**SMALL, "style_weight": 0}), (64, 48), []).problems


def test_sizes_name_the_users_files_and_raise_one_image_error():
    check = preflight(Settings(**SMALL), (400, 8), [(48, 48), (1, 1)], labels=["strip.png", "a.png", "dot.png"])
    assert size_fields(check.problems) == [CONTENT_SIZE, f"{STYLE_SIZE}2"]
    assert check.problems[CONTENT_SIZE].startswith("strip.png is 400×8 px; images need at least 16 px")
    assert check.problems[f"{STYLE_SIZE}2"].startswith("dot.png is 1×1 px")
    with pytest.raises(ImageError) as err:
        check.raise_problems()
    assert str(err.value) == f"{check.problems[CONTENT_SIZE]} {check.problems[f'{STYLE_SIZE}2']}"
    # Without labels, the words the engine uses.
    assert preflight(Settings(**SMALL), (400, 8), []).problems[CONTENT_SIZE].startswith("The content image is")


def test_the_start_image_and_the_blend_weights():
    assert "give one" in preflight(Settings(**{**SMALL, "init": "image"}), (64, 48), [(48, 48)]).problems["init"]
    assert preflight(Settings(**{**SMALL, "init": "image"}), (64, 48), [(48, 48)], start=(32, 24)).ok
    assert "set init to 'image'" in preflight(Settings(**SMALL), (64, 48), [(48, 48)], start=(32, 24)).problems["init"]
    blend = preflight(Settings(**{**SMALL, "style_blend": (1.0,)}), (64, 48), [(48, 48)] * 2)
    assert blend.problems == {"style_blend": "style_blend has 1 weights for 2 style images"}


def test_regions_against_the_content_and_the_styles():
    settings = Settings(**SMALL, mask=halves_mask(60, 48), regions=("#ff0000=1", "#0000ff=2"))
    assert preflight(settings, (120, 96), [(48, 48)] * 2).ok  # the same shape, larger
    wrong = preflight(settings, (64, 48), [(48, 48)])
    assert wrong.problems["mask"].startswith("the mask is 60×48 pixels but the content is 64×48")
    assert wrong.problems["regions"] == "region #0000ff=2 names style image 2, but 1 style image was given"
    with pytest.raises(SettingsError) as err:
        wrong.raise_problems()
    assert set(err.value.problems) == {"mask", "regions"}


def test_the_memory_budget_and_the_device():
    over = Settings(**{**SMALL, "size": 2048, "max_memory": 64 * 2**20})
    check = preflight(over, (2048, 1536), [(512, 512)])
    assert check.plan is None and "raise max_memory or lower the size" in check.problems[BUDGET]
    with pytest.raises(BudgetError, match="raise max_memory"):
        check.raise_problems()
    assert preflight(over, (2048, 1536), [(512, 512)], plan=False).ok  # planned elsewhere (a cluster's worker)
    away = preflight(Settings(**{**SMALL, "device": "cuda:99"}), (64, 48), [(48, 48)])
    assert DEVICE in away.problems and away.plan is None
    with pytest.raises(DeviceError, match="cuda:99"):
        away.raise_problems()


def test_settings_problems_raise_before_sizes_and_sizes_before_the_budget():
    settings = Settings(**{**SMALL, "size": 2048, "max_memory": 64 * 2**20})
    check = preflight(settings, (4000, 8), [])
    assert {"styles", CONTENT_SIZE, BUDGET} <= set(check.problems)
    with pytest.raises(SettingsError):
        check.raise_problems()
    with pytest.raises(ImageError):
        preflight(settings.replace(style_weight=0), (4000, 8), []).raise_problems()


@pytest.mark.parametrize("content, styles, changes", [
    ((64, 48), [], {}),  # no style
    ((400, 8), [(48, 48)], {}),  # a strip
    ((64, 48), [(48, 48)], {"size": 2048, "max_memory": 64 * 2**20}),  # over the budget
    ((64, 48), [(48, 48)], {"device": "cuda:99"}),
    ((64, 48), [(48, 48)] * 2, {"style_blend": (1.0,)}),
])
def test_the_engine_raises_what_the_preflight_finds(content, styles, changes):
    settings = Settings(**{**SMALL, **changes})
    with pytest.raises(NSTError) as expected:
        preflight(settings, content, styles).raise_problems()
    with pytest.raises(NSTError) as raised:
        next(stylize(gradient(*content), [gradient(*size, seed=2) for size in styles], settings))
    assert type(raised.value) is type(expected.value) and str(raised.value) == str(expected.value)


def test_the_cli_names_the_files_in_one_line_and_exits_2(tmp_path: Path, capsys):
    strip, style = tmp_path / "strip.png", tmp_path / "style.png"
    Image.new("RGB", (400, 8)).save(strip)
    gradient(48, 48).save(style)
    code = main([str(strip), str(style), "-o", str(tmp_path / "out.png"), "--size", "64", "--steps", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"nst: error: {strip} is 400×8 px; images need at least 16 px"), err
