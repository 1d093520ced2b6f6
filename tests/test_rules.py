"""Every setting's rule lives in one place (``nst.core.settings.RULES``): validation, the CLI's flags, the
studio's widgets and old recipes all follow it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nst.cli.main import build_parser, flag, settings_from_args
from nst.core.errors import SettingsError
from nst.io.images import load_rgba
from nst.core.masks import encode_mask
from nst.io.recipe import read_recipe, settings_from_recipe
from nst.core.settings import DEFAULTS, FLOAT, INT, RULES, Settings, preset
from studio.session import state, text
from studio.services.labels import labelled
from tests.support.apptest import start_app, stop_app

pytestmark = pytest.mark.app

DATA = Path(__file__).parent / "data"
MASK = DATA / "mask-96x64.png"  # red, blue and white (unpainted) with antialiased edges
REGIONS = ("#ff0000=1", "#0000ff=2", "#ffffff=photo")
# A value per field that differs from its default: as a CLI user types it, and as the setting holds it.
TYPED = {"size": ("96", 96), "method": ("fast", "fast"), "strength": ("0.5", 0.5),
         "builtin_styles": ("3,12", (3, 12)), "steps": ("7", 7), "optimizer": ("adam", "adam"), "lr": ("0.5", 0.5),
         "betas": ("0.8,0.99", (0.8, 0.99)), "eps": ("0.001", 0.001), "content_weight": ("2", 2.0),
         "style_weight": ("0.01", 0.01), "tv_weight": ("3", 3.0), "content_layers": ("conv3_2,conv4_2", ("conv3_2", "conv4_2")),
         "style_layers": ("conv1_1,conv2_1", ("conv1_1", "conv2_1")), "style_layer_weights": ("1,3", (1.0, 3.0)),
         "style_blend": ("1,2", (1.0, 2.0)), "style_scale": ("0.5", 0.5), "init": ("noise", "noise"),
         "preserve_color": ("luminance", "luminance"), "multiscale": ("off", "off"), "min_scale": ("64", 64),
         "pooling": ("avg", "avg"), "weights": ("torchvision", "torchvision"), "device": ("cpu", "cpu"),
         "precision": ("fp32", "fp32"), "seed": ("11", 11), "preview_every": ("3", 3),
         "mask": (str(MASK), encode_mask(load_rgba(MASK), REGIONS)), "region_blur": ("0.05", 0.05),
         "regions": ("#FF0000=1,#0000ff=2,#ffffff=photo", REGIONS),
         "max_memory": ("1.5G", 3 * 2**29)}


def test_each_field_has_a_flag_that_sets_it():
    assert set(TYPED) == set(RULES)
    argv = ["c.png", "s.png", "-o", "o.png"] + [part for name, (text, _) in TYPED.items() for part in (flag(name), text)]
    expected = Settings(**{name: value for name, (_, value) in TYPED.items()})
    assert settings_from_args(build_parser().parse_args(argv)) == expected
    assert all(getattr(expected, name) != default for name, default in DEFAULTS.items())


def test_each_flag_help_states_the_rule():
    parser = build_parser()
    helps = {a.dest: a for a in parser._actions}
    for name, rule in RULES.items():
        action = helps[name]
        # As --help prints it: argparse %-formats the help (a rule's '%' is written '%%' for it).
        assert rule.help in parser._get_formatter()._expand_help(action)
        if rule.kind in (INT, FLOAT) and rule.bounds():
            assert rule.bounds() in action.help, name
        if rule.choices:
            assert tuple(action.choices) == rule.choices


@pytest.mark.parametrize("name", [n for n, r in RULES.items() if r.kind in (INT, FLOAT)])
def test_validation_follows_each_numeric_bound(name):
    rule = RULES[name]
    step = 1 if rule.kind == INT else 1e-6 * max(1.0, abs(rule.low or 0), abs(rule.high or 0))
    cast = int if rule.kind == INT else float
    for bound, outside, closed in ((rule.low, -step, not rule.above), (rule.high, step, not rule.below)):
        if bound is None:
            continue
        assert (name in Settings.problems({name: cast(bound)})) != closed, (name, bound)
        assert name in Settings.problems({name: cast(bound + outside)}), (name, bound + outside)


# Numeric widgets of the form: the bound the studio enforces is the rule's, no more and no less.
FORM_NUMBERS = ["size", "steps", "lr", "style_scale", "min_scale", "seed", "preview_every", "eps"]


@pytest.fixture(scope="module")
def form_app():
    app = start_app()
    yield app
    stop_app(app)


@pytest.mark.parametrize("name", FORM_NUMBERS)
def test_widget_bounds_are_the_rule_bounds(form_app, name):
    rule = RULES[name]
    key = state.KEY[name]
    widget = form_app.number_input(key=key)
    assert rule.help in widget.help
    cast = int if rule.kind == INT else float
    step = 1 if rule.kind == INT else 1e-3
    edges = [(rule.low, -step, not rule.above), (rule.high, step, not rule.below)]
    if name == "seed":  # the studio's own, lower ceiling: a browser number holds 2**53 - 1 exactly
        edges[1] = (state.BROWSER_MAX_SEED, 0, True)
    for bound, outside, closed in edges:
        if bound is None:
            continue
        for value, ok in ((cast(bound), closed), (cast(bound + outside), False)):
            if outside == 0 and not ok:
                continue
            form_app.number_input(key=key).set_value(value).run()
            marks = [m.value for m in form_app.sidebar.markdown if m.value.startswith(":red[")]
            assert (not marks) == ok, (name, value, marks)
            if not ok:
                assert marks == [text.markdown(":red[{}]", labelled(Settings.problems({name: value})[name]))]
    form_app.number_input(key=key).set_value(DEFAULTS[name] if DEFAULTS[name] is not None else None).run()


def test_the_form_mapping_round_trips_any_settings():
    exotic = preset("paper", size=64, steps=3, lr=None, style_weight=3.3e-5, tv_weight=2.0, init="noise",
                    preserve_color="histogram", pooling="avg", seed=1234, style_scale=1.5, min_scale=32,
                    content_layers=("conv3_2", "conv4_2"), style_layers=("conv1_1", "conv3_1", "conv5_1"),
                    style_layer_weights=(0.5, 0.25, 0.25), style_blend=(0.25, 0.75), preview_every=2,
                    precision="fp32", device="cpu")
    values = state.widget_values(exotic, n_blends=2)
    assert state.settings_from_widgets(values, n_styles=2) == exotic
    assert state.problems(values, n_styles=2) == {}


def test_the_form_mapping_of_blends_and_layer_weights():
    values = state.widget_values(Settings())
    assert state.settings_from_widgets(values, 1).style_blend is None
    values[state.blend_key(0)] = 0.0  # a stale slider of an earlier two-style upload
    assert state.settings_from_widgets(values, 1).style_blend is None  # one style needs no blend
    values[state.blend_key(1)] = 2.0
    assert state.settings_from_widgets(values, 2).style_blend == (0.0, 2.0)
    values[state.CUSTOM_LAYER_WEIGHTS] = True
    values[state.layer_weight_key("conv5_1")] = 4.0
    assert state.settings_from_widgets(values, 0).style_layer_weights == (1.0, 1.0, 1.0, 1.0, 4.0)


@pytest.mark.parametrize("changes, field, fragment", [
    ({"set_steps": 0}, "steps", "steps must be a whole number from 1 to 100000, got 0"),
    ({"set_size": 5000}, "size", "size must be a whole number of pixels from 16 to 4096"),
    ({"set_seed": 2**53}, "seed", "seed must be at most"),
    ({"set_weights": "/etc/passwd"}, "weights", "never a file path"),
    ({"set_beta1": 1.0}, "betas", "betas must be 2 numbers in [0, 1)"),
    ({"set_content_weight": 0.0, "set_style_weight": 0.0}, "style_weight", "cannot both be 0"),
])
def test_the_form_names_the_field_of_each_problem(changes, field, fragment):
    values = {**state.widget_values(Settings()), **changes}
    found = state.problems(values)
    assert list(found) == [field] and fragment in found[field]
    with pytest.raises(SettingsError, match="Invalid settings: .*" + re.escape(fragment)):
        state.settings_from_widgets(values, 0)


@pytest.mark.parametrize("key, value, showable", [
    ("set_steps", -5, True), ("set_steps", "abc", False), ("set_steps", True, False), ("set_lr", None, True),
    ("set_size", None, False), ("set_style_scale", float("nan"), False), ("set_style_scale", 1e300, True),
    ("set_optimizer", "sgd", False), ("set_content_layers", ["conv9_9"], False), ("set_seed", 2**60, False),
    ("set_weights", "/etc/passwd", False), ("set_blend_0", -1.0, False), ("set_custom_lw", 1, False),
])
def test_what_a_widget_can_show(key, value, showable):
    assert state.showable(key, value) is showable


@pytest.mark.parametrize("name", ["recipe-2026-11-25.png", "recipe-2026-11-25.json"])
def test_recipes_saved_before_the_rule_table_still_load(name):
    """Fixtures written by the CLI of 2026-11-25 (before this layout): one with the old preset 'seed'."""
    settings = settings_from_recipe(read_recipe(DATA / name))
    recipe = read_recipe(DATA / name)
    saved = settings.to_dict()
    newer = {key: saved.pop(key) for key in set(saved) - set(recipe["settings"])}  # fields added since
    assert saved == recipe["settings"]
    assert newer == {key: Settings().to_dict()[key] for key in newer}
    if name.endswith(".png"):
        assert settings == preset("paper", size=48, steps=3, seed=7)
    else:
        assert (settings.style_weight, settings.preserve_color, settings.size) == (1e-3, "luminance", 48)
    assert json.loads(json.dumps(saved)) == recipe["settings"]
    assert Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
