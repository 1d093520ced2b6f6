"""Settings validation, presets and the recipe round trip."""

import json

import pytest

from nst.core.errors import RecipeError
from nst.io.recipe import make_recipe, settings_from_recipe
from nst.core.settings import PRESETS, Settings, SettingsError, preset

pytestmark = pytest.mark.unit


def test_defaults_are_valid_and_documented_values():
    s = Settings()
    assert (s.optimizer, s.init, s.content_layers) == ("lbfgs", "content", ("conv4_2",))
    assert s.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert s.learning_rate == 1.0 and Settings(optimizer="adam").learning_rate == 0.02


def test_paper_preset_is_the_original_recipe_and_seed_its_old_name():
    s = preset("paper")
    assert (s.optimizer, s.lr, s.betas[0], s.eps, s.steps) == ("adam", 0.01, 0.99, 0.1, 1000)
    assert s.style_weight == Settings().style_weight / 10
    assert preset("seed") == s  # recipes and scripts written before the rename
    assert preset("fast") == Settings(init="fast", steps=60)
    assert set(PRESETS) == {"fast", "paper"}
    with pytest.raises(SettingsError, match="unknown preset"):
        preset("nope")


@pytest.mark.parametrize("changes, fragment", [
    ({"size": 0}, "size"),
    ({"size": 10**6}, "size"),
    ({"steps": 0}, "steps"),
    ({"style_weight": -1.0}, "style_weight"),
    ({"tv_weight": float("nan")}, "tv_weight"),
    ({"content_weight": 0.0, "style_weight": 0.0}, "both be 0"),
    ({"content_layers": ("conv6_1",)}, "conv6_1"),
    ({"style_layers": ("relu1_1",)}, "relu1_1"),
    ({"style_layer_weights": (1.0, 2.0)}, "needs 5 values"),
    ({"style_blend": (0.0, 0.0)}, "all 0"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"init": "random"}, "init"),
    ({"preserve_color": "yes"}, "preserve_color"),
    ({"pooling": "min"}, "pooling"),
    ({"lr": -0.1}, "lr"),
    ({"betas": (1.5, 0.9)}, "betas"),
    ({"seed": -1}, "seed"),
    ({"preview_every": 0}, "preview_every"),
])
def test_each_impossible_value_is_named(changes, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings(**changes)


def test_from_dict_rejects_unknown_keys_and_wrong_types_together():
    with pytest.raises(SettingsError) as err:
        Settings.from_dict({"size": "512", "steps": True, "evil": 1, "style_layers": "conv1_1"})
    message = str(err.value)
    for part in ("evil", "size", "steps", "style_layers"):
        assert part in message
    with pytest.raises(SettingsError):
        Settings.from_dict(["not", "a", "dict"])


def test_recipe_round_trip_through_json():
    s = Settings(size=300, steps=42, optimizer="adam", lr=0.05, style_blend=(1.0, 2.0), seed=9,
                 preserve_color="histogram", style_layer_weights=(1, 1, 1, 1, 2))
    recipe = json.loads(json.dumps(make_recipe(s, losses={"total": 1.5})))
    assert settings_from_recipe(recipe) == s
    assert recipe["versions"]["torch"] and recipe["settings"]["seed"] == 9
    with pytest.raises(RecipeError, match="not a recipe"):
        settings_from_recipe({"settings": s.to_dict()})
