"""Hostile input through the web app (AppTest): the corpus as uploads, settings forced through the
session state, and crafted recipes. Each gives a correct result or one clear ``st.error``, never a
traceback, and the same session goes on serving the next request."""

from __future__ import annotations

import builtins
import io
import json
import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.support.synthetic import encode, gradient
from nst import Settings
from nst.io.images import load_image, png_bytes
from nst.core.masks import encode_mask
from nst.io.recipe import make_recipe
from nst.core.settings import MAX_SIZE
from studio.session import state
from studio.services.labels import labelled
from tests.hostile import EXPECTED_OK, TOO_SMALL, corpus
from tests.support.apptest import APP, active_run, button, captions, finished, latest_result, poll, stop_app, texts

pytestmark = pytest.mark.app

BAD = sorted(set(corpus()) - EXPECTED_OK)
# As a style image: every refused kind, plus odd modes and shapes that must still blend in (the rest
# of EXPECTED_OK runs as a style in tests/test_hostile.py; huge_style.jpg has its own test here).
STYLE_SUBSET = ["empty.png", "truncated.jpg", "html_as.png", "bomb.png", "cmyk.jpg", "palette_alpha.png",
                "extreme_aspect.png"]
MIME = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}


def as_upload(name: str, data: bytes) -> tuple[str, bytes, str]:
    return name, data, MIME[name.rsplit(".", 1)[1]]


def good_content() -> tuple[str, bytes, str]:
    return "content.png", encode(gradient(64, 48, 1)), "image/png"


def good_style() -> tuple[str, bytes, str]:
    return "style.png", encode(gradient(48, 48, 2)), "image/png"


def tiny_run(at) -> None:
    """Output size 64, 2 steps, one scale: Start, wait, and check the result is there."""
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(2)
    at.radio(key="set_multiscale").set_value("off")
    at.run()
    assert not at.exception
    button(at, "Start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    poll(at, finished)
    assert not at.exception and not at.error, texts(at.error)
    assert "Result" in captions(at)


def result_shape(at) -> tuple[int, ...]:
    return latest_result(at).image.shape


def settings_state(at) -> dict:
    return {k: at.session_state[k] for k in at.session_state if str(k).startswith("set_")}


@pytest.fixture
def at(studio_app):
    return studio_app


# -- the corpus as uploads ---------------------------------------------------------------------------
def test_uploaders_refuse_other_extensions(at):
    """The browser's file picker filters by extension, so text.txt never reaches the loader from
    there (Streamlit's server repeats the check); its bytes under an image name are refused below."""
    for uploader in at.file_uploader:
        allowed = {t.lstrip(".") for t in uploader.allowed_type}
        assert "txt" not in allowed
        if uploader.key in ("content_file", "style_files"):
            assert {"jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff"} <= allowed


@pytest.mark.parametrize("name", sorted(corpus()))
def test_corpus_as_content(at, name):
    data = corpus()[name]
    if name.endswith(".txt"):  # as a crafted request would send it: under an accepted extension
        name = name + ".png"
    at.file_uploader(key="style_files").set_value([good_style()])
    at.file_uploader(key="content_file").set_value(as_upload(name, data)).run()
    assert not at.exception
    if name in TOO_SMALL:  # decoded and shown, but named with its size as soon as it is uploaded
        width, height = load_image(data, max_side=MAX_SIZE, name=name).size
        assert any(f"{name} is {width}×{height} px" in w for w in texts(at.warning))
        refused_start(at, f"{name} is {width}×{height} px")
    elif name in EXPECTED_OK:
        assert not at.error, texts(at.error)
        width, height = load_image(data, max_side=MAX_SIZE, name=name).size
        assert f"{name} · {width}×{height}" in captions(at)
        tiny_run(at)
        shape = result_shape(at)
        assert max(shape[:2]) == 64 and min(shape[:2]) >= 16 and shape[2] == 3
        assert math.isclose(shape[1] / shape[0], width / height, rel_tol=0.5)
    else:
        errors = texts(at.error)
        assert len(errors) == 1 and name in errors[0], errors
        button(at, "Start").click().run()  # nothing usable to run on: asked for a content image
        assert not at.exception and active_run(at) is None
        assert any("Upload a content image" in e for e in texts(at.error))

    # The same session serves the next request: a valid image replaces the hostile one.
    at.file_uploader(key="content_file").set_value(good_content()).run()
    assert not at.exception and not any(name in e for e in texts(at.error))
    assert "content.png · 64×48" in captions(at)


@pytest.mark.parametrize("name", STYLE_SUBSET)
def test_corpus_as_style(at, name):
    at.file_uploader(key="content_file").set_value(good_content())
    at.file_uploader(key="style_files").set_value([as_upload(name, corpus()[name])]).run()
    assert not at.exception
    if name in TOO_SMALL:
        width, height = load_image(corpus()[name], name=name).size
        refused_start(at, f"{name} is {width}×{height} px")
    elif name in EXPECTED_OK:
        assert not at.error, texts(at.error)
        tiny_run(at)
        assert result_shape(at) == (48, 64, 3)
    else:
        errors = texts(at.error)
        assert len(errors) == 1 and name in errors[0], errors
        button(at, "Start").click().run()
        assert not at.exception and active_run(at) is None
        assert any("Upload at least one style image" in e for e in texts(at.error))
        at.file_uploader(key="style_files").set_value([good_style()]).run()
        assert not at.exception and not any(name in e for e in texts(at.error))
        assert "style.png" in texts(at.caption)  # the good style replaced the refused one


def test_huge_style_with_small_content(at):
    at.file_uploader(key="content_file").set_value(("small.png", encode(gradient(16, 16)), "image/png"))
    at.file_uploader(key="style_files").set_value([as_upload("huge_style.jpg", corpus()["huge_style.jpg"])])
    at.run()
    assert not at.exception and not at.error
    tiny_run(at)
    assert result_shape(at) == (64, 64, 3)


def refused_start(at, expected: str) -> None:
    """Start is refused with one error naming the file and its size; nothing runs."""
    at.number_input(key="set_size").set_value(64)
    button(at, "Start").click().run()
    assert not at.exception and active_run(at) is None
    errors = texts(at.error)
    assert len(errors) == 1 and expected in errors[0], errors


# -- settings forced through the session state -------------------------------------------------------
LAST_VALID = {"set_style_scale": 1.0, "set_content_layers": ["conv4_2"], "set_seed": 0}


# Sent after the first run, a value travels as the widget's own state, as a typed value or a crafted
# browser message would. A number the widget can show stays on screen with its rule's message and
# Start refuses it; one it cannot show (NaN, unknown layers) is replaced by the last valid value.
@pytest.mark.parametrize("key, value, expected", [
    ("set_steps", -5, "steps must be a whole number from 1 to 100000, got -5"),
    ("set_steps", 0, "steps must be a whole number"),
    ("set_steps", 10**9, "steps must be a whole number"),
    ("set_size", 0, "size must be a whole number of pixels"),
    ("set_size", 10**6, "size must be a whole number of pixels"),
    ("set_seed", -1, "seed must be a whole number"),
    ("set_style_scale", float("nan"), "style_scale must be a number from 0.1 to 4"),
    ("set_style_scale", 1e300, "style_scale must be a number from 0.1 to 4"),
    ("set_lr", -1.0, "lr must be a positive number"),
    ("set_content_layers", ["../../etc/passwd"], "content_layers must be a list of distinct VGG19 layer names"),
])
def test_out_of_range_widget_values_are_refused(at, key, value, expected):
    at.file_uploader(key="content_file").set_value(good_content())
    at.file_uploader(key="style_files").set_value([good_style()])
    at.run()
    at.session_state[key] = value
    button(at, "Start").click().run()
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and labelled(expected) in errors[0], errors  # the studio names controls by label
    assert active_run(at) is None and latest_result(at) is None
    if key in LAST_VALID and not state.showable(key, value):  # the form shows the last valid value again
        assert at.session_state[key] == LAST_VALID[key]
    else:  # the form still shows what was typed, marked with the same message
        assert at.session_state[key] == value
        assert any(labelled(expected) in m for m in texts(at.sidebar.markdown))


DEFAULTS = state.default_values()


# Set before the first run, a value is plain session state that no widget has seen yet (a script,
# or values carried over between pages): wrong types and file paths included.
@pytest.mark.parametrize("key, value, expected", [
    ("set_steps", "abc", "steps must be a whole number from 1 to 100000, got 'abc'"),
    ("set_steps", float("nan"), "steps must be a whole number"),
    ("set_steps", True, "steps must be a whole number"),
    ("set_size", "512", "size must be a whole number of pixels"),
    ("set_size", -32, "size must be a whole number of pixels"),
    ("set_style_weight", float("nan"), "style_weight must be a finite number >= 0"),
    ("set_style_weight", "heavy", "style_weight must be a finite number >= 0"),
    ("set_style_weight", -1.0, "style_weight must be a finite number >= 0"),
    ("set_optimizer", "sgd", "optimizer must be one of"),
    ("set_weights", "/etc/passwd", "weights cannot be '/etc/passwd'"),
    ("set_weights", "../../secret.pth", "weights cannot be '../../secret.pth'"),
    ("set_mask", "not a png", "mask must be a PNG in base64"),
    ("set_region_blur", 5.0, "region_blur must be a number from 0 to 0.25, got 5.0"),  # a slider cannot show it
])
def test_invalid_session_state_is_refused_at_start(monkeypatch, key, value, expected):
    opened = spy_file_access(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60)  # not run yet: the value is plain session state
    try:
        at.session_state[key] = value
        at.run()
        assert not at.exception
        at.file_uploader(key="content_file").set_value(good_content())
        at.file_uploader(key="style_files").set_value([good_style()])
        at.run()
        button(at, "Start").click().run()
        assert not at.exception
        errors = texts(at.error)
        assert len(errors) == 1 and labelled(expected) in errors[0], errors
        assert active_run(at) is None
        assert at.session_state["set_weights"] == "bundled"
        if state.showable(key, value):  # shown as set, with its message, and refused
            assert at.session_state[key] == value
        else:  # the form shows the default again
            assert at.session_state[key] == DEFAULTS[key]
        if key == "set_weights":  # the rejection was reported once: the next Start runs on the bundled VGG19
            button(at, "Start").click().run()
            assert not at.exception and not at.error and active_run(at) is not None
        assert not any("passwd" in p or "secret.pth" in p for p in opened)
    finally:
        stop_app(at)


# -- crafted recipes ---------------------------------------------------------------------------------
def recipe_with(**settings) -> dict:
    recipe = make_recipe(Settings())
    recipe["settings"].update(settings)
    return recipe


def spy_file_access(monkeypatch) -> list[str]:
    """Record every path opened with open()/io.open() and every torch.load."""
    seen: list[str] = []
    real_open, real_load = builtins.open, torch.load

    def spy_open(file, *args, **kwargs):
        seen.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_load(f, *args, **kwargs):
        seen.append(str(f))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(torch, "load", spy_load)
    return seen


RECIPES = {
    "steps_negative": (recipe_with(steps=-1), "steps must be a whole number"),
    "size_huge": (recipe_with(size=10**7), "size must be a whole number of pixels"),
    "style_weight_inf": (recipe_with(style_weight=1e400), "style_weight must be a finite number"),
    "unknown_key": (recipe_with(colour=1, exec="rm -rf /"), "unknown setting 'colour'"),
    "wrong_type": (recipe_with(steps="300"), "steps must be a whole number from 1 to 100000, got '300'"),
    "wrong_type_layers": (recipe_with(content_layers="conv4_2"), "content_layers must be a list of distinct"),
    "etc_passwd": (recipe_with(weights="/etc/passwd"), "file path"),
    "relative_path": (recipe_with(weights="../../secret.pth"), "file path"),
    "sentinel_path": (None, "file path"),
    "not_a_recipe": ({"format": "something-else", "settings": {}}, "not a recipe made by this tool"),
    "settings_not_object": ({**make_recipe(Settings()), "settings": [1, 2]}, "expected a JSON object"),
    "mask_not_png": (recipe_with(mask="bm90IGEgcG5n", regions=["#ff0000=1"]), "mask must be a PNG in base64"),
    "regions_without_mask": (recipe_with(regions=["#ff0000=1"]), "regions need a mask"),
    "mask_colour_unnamed": (recipe_with(mask=encode_mask(np.full((8, 8, 3), (255, 0, 0), np.uint8), ["#ff0000=1"]),
                                        regions=["#0000ff=1"]), "no region names"),
}


def recipe_files(recipe: dict, stem: str) -> list[tuple[str, bytes, str]]:
    return [(f"{stem}.json", json.dumps(recipe).encode(), "application/json"),
            (f"{stem}.png", png_bytes(gradient(16, 16), recipe), "image/png")]


@pytest.mark.parametrize("stem", sorted(RECIPES))
def test_crafted_recipes_are_refused(at, monkeypatch, tmp_path, stem):
    recipe, expected = RECIPES[stem]
    sentinel = tmp_path / "secret.pth"
    sentinel.write_bytes(b"not read")
    if stem == "sentinel_path":  # an absolute path to a file that really exists on the server
        recipe = recipe_with(weights=str(sentinel))
    opened = spy_file_access(monkeypatch)
    before = settings_state(at)
    for name, data, mime in recipe_files(recipe, stem):
        at.file_uploader(key="recipe_file").set_value((name, data, mime)).run()
        assert not at.exception
        errors = texts(at.error)
        assert len(errors) == 1 and labelled(expected) in errors[0], (name, errors)
        assert not at.success
        assert settings_state(at) == before, name  # the form is untouched
    assert at.radio(key="set_weights").value == "bundled"
    assert not any(p == str(sentinel) or p.endswith("secret.pth") or p == "/etc/passwd" for p in opened)
    assert sentinel.read_bytes() == b"not read"
    # The next request is served: a good recipe loads after the refused ones.
    good = make_recipe(Settings(steps=7))
    at.file_uploader(key="recipe_file").set_value(("good.json", json.dumps(good).encode(), "application/json"))
    at.run()
    assert not at.exception and not at.error
    assert at.number_input(key="set_steps").value == 7


@pytest.mark.parametrize("name, data, expected", [
    ("huge.json", json.dumps({**make_recipe(Settings()), "pad": "x" * (1024 * 1024 + 1)}).encode(), "limit is 1 MB"),
    ("list.json", b"[1, 2, 3]", "expected a JSON object"),
    ("null.json", b"null", "expected a JSON object"),
    ("string.json", b'"/etc/passwd"', "expected a JSON object"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "recipe"),
    ("broken.json", b'{"format": ', "not valid JSON"),
    ("binary.json", bytes(range(256)) * 8, "has no recipe"),
    ("plain.png", png_bytes(gradient(16, 16)), "has no recipe"),
    ("truncated.png", png_bytes(gradient(16, 16), make_recipe(Settings()))[:60], "not a readable PNG"),
    ("bomb.png", corpus()["bomb.png"], "30000×30000 pixels, over the limit"),
])
def test_unreadable_recipes_are_refused(at, name, data, expected):
    before = settings_state(at)
    at.file_uploader(key="recipe_file").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and expected in errors[0] and name in errors[0], errors
    assert settings_state(at) == before
