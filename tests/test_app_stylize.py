"""The Stylize page through Streamlit's AppTest: widgets, real tiny runs, Stop, bad input, recipes."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from nst import Settings, preset
from nst.core.settings import RULES
from nst.plan.device import gpu_name
from nst.io.recipe import make_recipe, read_recipe
from studio.session import state
from studio.session.results import results
from tests.support.apptest import (active_run, button, captions, finished, latest_result, owner, poll, start_app, texts,
                           upload_inputs)

pytestmark = pytest.mark.app

@pytest.fixture
def at(studio_app):
    return studio_app


def test_widgets_have_defaults(at):
    assert not at.exception
    # the fast preset: its start, optimised at the output size for its steps
    assert at.number_input(key="set_steps").label == "Steps"
    assert at.number_input(key="set_steps").value == preset("fast").steps
    assert at.number_input(key="set_size").label == "Output size (px)"
    assert at.number_input(key="set_size").value == 512
    assert [b.label for b in at.button][:2] == ["Start", "Stop"]
    uploaders = {u.label: u for u in at.file_uploader}
    assert uploaders["Style images"].accept_multiple_files and not uploaders["Content image"].accept_multiple_files
    assert "tiff" in uploaders["Content image"].allowed_type or ".tiff" in uploaders["Content image"].allowed_type
    assert at.selectbox(key="preset").value == "fast"
    assert at.select_slider(key="set_style_weight").value == Settings().style_weight
    assert at.select_slider(key="set_content_weight").value == 1.0
    assert at.radio(key="set_optimizer").value == "lbfgs"
    assert at.number_input(key="set_lr").value is None  # the optimiser's own default
    assert at.radio(key="set_preserve_color").value == "none"
    assert at.multiselect(key="set_content_layers").value == ["conv4_2"]
    assert at.radio(key="set_weights").value == "bundled"
    device = at.radio(key="set_device")
    if gpu_name() is None:
        assert device.value == "cpu" and device.disabled


def test_paper_preset_sets_the_original_recipe(at):
    at.selectbox(key="preset").set_value("paper").run()
    assert at.number_input(key="set_steps").value == 1000
    assert at.radio(key="set_optimizer").value == "adam"
    assert at.number_input(key="set_lr").value == 0.01


def test_run_streams_then_shows_result_and_downloads(at, png_of):
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(12)
    at.number_input(key="set_preview_every").set_value(2)
    at.run()
    assert captions(at).count("content.png · 64×48") == 1  # the photo's thumbnail (under Start since issue 22)
    button(at, "Start").click().run()
    assert not at.error

    poll(at, finished)
    assert "Result" in captions(at)
    assert at.get("vega_lite_chart")
    labels = [d.label for d in at.download_button]
    assert labels[:4] == ["Download PNG", "Download JPEG", "Download losses (CSV)", "Download settings (JSON)"]
    result = latest_result(at)
    assert result.step == 12 and not result.stopped and result.image.shape == (48, 64, 3)
    recipe = read_recipe(result.png())
    assert recipe["settings"] == result.settings.to_dict() and "total" in recipe["losses"]
    assert result.losses_csv().decode().splitlines()[0].startswith("step,scale,elapsed_s,content,style,tv,total")
    assert [r.number for r in results(owner(at))] == [1]


def blend_sliders(at: AppTest) -> list[str]:
    return [s.key for s in at.slider if s.key and s.key.startswith("set_blend_")]


def test_one_style_has_no_blend_weight_to_refuse_a_start(at, png_of):
    """A lone style's weight is normalised to 1, so no slider is shown and a 0 left in the
    session (by an earlier multi-style upload, or a rerun race) cannot make Start fail."""
    at.session_state["set_blend_0"] = 0.0
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(32)
    at.number_input(key="set_steps").set_value(2)
    at.run()
    assert blend_sliders(at) == []
    button(at, "Start").click().run()
    assert not at.error
    poll(at, finished)
    assert latest_result(at).settings.style_blend is None


def test_each_of_several_styles_gets_a_blend_slider(at, png_of):
    upload_inputs(at, png_of, styles=2)
    at.run()
    assert blend_sliders(at) == ["set_blend_0", "set_blend_1"]


def test_while_running_start_queues_another_and_both_finish(at, png_of):
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(5000)
    button(at, "Start").click().run()
    poll(at, lambda a: any(c.startswith("Step ") for c in captions(a)))
    assert at.get("vega_lite_chart") and at.get("progress")  # live preview, progress and chart
    assert any("apply to the next run" in c for c in texts(at.caption))
    assert at.button(key="start").label == "Queue another"  # never a silent refusal
    at.number_input(key="set_steps").set_value(3).run()
    at.button(key="start").click().run()
    assert any("1 more run queued" in c for c in texts(at.caption))
    at.button(key="start").click().run()  # a third is refused with a word: one running, one waiting
    assert any("2 runs are already going" in w for w in texts(at.warning))
    at.button(key="stop").click().run()
    poll(at, lambda a: finished(a) and len(results(owner(a))) == 2)
    first, second = results(owner(at))
    assert first.stopped and first.settings.steps == 5000
    assert not second.stopped and second.step == 3


def test_stop_then_start_at_once_starts_the_new_run(at, png_of):
    """Start pressed right after Stop, while the stopped run is still ending its step: the new run
    goes ahead (queued behind the ending one), and the stopped one keeps its image."""
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(5000)
    button(at, "Start").click().run()
    poll(at, lambda a: active_run(a).job.snapshot().step >= 1)
    at.button(key="stop").click()
    at.button(key="start").click().run()  # both clicks in one rerun: as fast as a user can be
    refusals = [w for w in texts(at.warning) if not w.startswith("≈ ")]  # not the size's time estimate
    assert not at.error and not refusals, (texts(at.error), refusals)
    poll(at, lambda a: len(results(owner(a))) >= 1)
    assert results(owner(at))[0].stopped
    assert active_run(at) is not None and active_run(at).job.settings.steps == 5000
    at.button(key="stop").click().run()


def test_stop_keeps_the_current_image(at, png_of):
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(5000)
    button(at, "Start").click().run()
    poll(at, lambda a: active_run(a).job.snapshot().step >= 2)
    button(at, "Stop").click().run()
    poll(at, finished, timeout=60)
    result = latest_result(at)
    assert result.stopped and 2 <= result.step < 5000
    assert any("Stopped at step" in i for i in texts(at.info))
    assert "Result" in captions(at)


@pytest.mark.parametrize("name, data, expected", [
    ("notes.png", b"this is not an image", "is not an image file"),
    ("empty.png", b"", "is empty"),
    ("broken.png", None, "truncated or corrupt"),
    ("huge.png", "bomb", "megapixels"),
])
def test_bad_uploads_show_an_error(at, png_of, name, data, expected):
    if data is None:
        data = png_of(64, 64, 3)[:200]
    elif data == "bomb":  # 48 MP of black: a tiny file over the pixel limit
        buffer = io.BytesIO()
        Image.new("L", (8000, 6000)).save(buffer, format="PNG")
        data = buffer.getvalue()
    at.file_uploader(key="content_file").set_value((name, data, "image/png")).run()
    assert not at.exception
    assert any(expected in e and name in e for e in texts(at.error))
    button(at, "Start").click().run()  # the page keeps working and asks for a usable image
    assert any("Upload a content image" in e for e in texts(at.error))


def test_settings_the_engine_rejects_show_its_message(at, png_of):
    upload_inputs(at, png_of)
    at.multiselect(key="set_content_layers").set_value([])
    button(at, "Start").click().run()
    assert not at.exception
    assert any("“Content layers” is empty" in e for e in texts(at.error))
    assert active_run(at) is None


EXOTIC = preset("paper", size=64, steps=3, lr=None, style_weight=3.3e-5, tv_weight=2.0, init="noise",
                preserve_color="histogram", pooling="avg", seed=1234, style_scale=1.5, min_scale=32,
                content_layers=("conv3_2", "conv4_2"), style_layers=("conv1_1", "conv3_1", "conv5_1"),
                style_layer_weights=(0.5, 0.25, 0.25), style_blend=(0.25, 0.75), preview_every=2,
                precision="fp32", device="cpu")


def load_recipe(at: AppTest, name: str, data: bytes, mime: str) -> None:
    at.file_uploader(key="recipe_file").set_value((name, data, mime)).run()


def test_recipe_round_trip_restores_every_setting(at, png_of):
    load_recipe(at, "recipe.json", json.dumps(make_recipe(EXOTIC)).encode(), "application/json")
    assert not at.exception and any("Loaded every setting" in s for s in texts(at.success))
    upload_inputs(at, png_of, styles=2)
    at.run()
    button(at, "Start").click().run()
    poll(at, finished)
    result = latest_result(at)
    assert result.settings == EXOTIC  # recipe -> widgets -> the settings actually run

    fresh = start_app()
    load_recipe(fresh, "result.png", result.png(), "image/png")
    assert not fresh.error
    for key, value in state.widget_values(EXOTIC, n_blends=2).items():
        assert fresh.session_state[key] == value, key


def test_a_recipes_adjustments_start_the_next_results_controls(at, png_of):
    """A recipe saved with strength 0.6 and the photo's colour statistics: the run made after
    loading it shows its result with those controls set (and downloads adjusted so); the run after
    that starts from the plain result again."""
    from nst.io.adjust import Adjustments

    adjusted = Adjustments(mix=0.6, recolor="histogram")
    recipe = make_recipe(Settings(size=48, steps=2, device="cpu"), adjusted)
    load_recipe(at, "adjusted.json", json.dumps(recipe).encode(), "application/json")
    assert not at.exception and any("strength 0.6" in s for s in texts(at.success))
    upload_inputs(at, png_of)
    at.run()
    button(at, "Start").click().run()
    poll(at, finished)
    first = latest_result(at).number
    assert at.slider(key=f"adjust_strength_{first}").value == 0.6
    assert at.selectbox(key=f"adjust_recolor_{first}").value == "histogram"

    button(at, "Start").click().run()
    poll(at, finished)
    second = latest_result(at).number
    assert second != first
    assert at.slider(key=f"adjust_strength_{second}").value == 1.0
    assert at.selectbox(key=f"adjust_recolor_{second}").value == "none"


def test_a_recipe_with_forged_adjustments_is_refused(at):
    recipe = make_recipe(Settings())
    recipe["adjustments"] = {"mix": 7, "recolor": "sepia"}
    load_recipe(at, "forged.json", json.dumps(recipe).encode(), "application/json")
    assert not at.exception
    assert any("forged.json" in e and "mix" in e for e in texts(at.error))
    assert recipes_pending(at) is None


def recipes_pending(at: AppTest):
    from studio.views.recipes import PENDING_ADJUSTMENTS

    return at.session_state[PENDING_ADJUSTMENTS] if PENDING_ADJUSTMENTS in at.session_state else None


@pytest.mark.parametrize("settings, expected", [
    ({"weights": "/tmp/evil.pth"}, "file path"),
    ({"steps": 0}, "“Steps” must be a whole number"),
    ({"colour": 1}, "unknown setting 'colour'"),
])
def test_bad_recipes_are_refused(at, settings, expected):
    recipe = make_recipe(Settings())
    recipe["settings"].update(settings)
    load_recipe(at, "bad.json", json.dumps(recipe).encode(), "application/json")
    assert not at.exception
    assert any(expected in e for e in texts(at.error))
    assert at.number_input(key="set_steps").value == preset("fast").steps  # the form is untouched


def test_recipe_that_is_not_a_recipe(at, png_of):
    load_recipe(at, "photo.png", png_of(), "image/png")
    assert any("has no recipe" in e for e in texts(at.error))
    load_recipe(at, "x.json", b"{not json", "application/json")
    assert any("not valid JSON" in e for e in texts(at.error))


def test_a_run_stopped_at_a_coarse_scale_gives_the_requested_size(at, png_of):
    """Stopped during its first (128 px) scale, a 256 px run's result is 256 px wide; the caption
    and the recipe say which scale it was optimised at."""
    upload_inputs(at, png_of)
    at.selectbox(key="set_init").set_value("content")  # coarse to fine (from the fast result: 256 px only)
    at.number_input(key="set_size").set_value(256)
    at.number_input(key="set_steps").set_value(5000)
    button(at, "Start").click().run()
    poll(at, lambda a: active_run(a).job.snapshot().step >= 2)
    at.button(key="stop").click().run()
    poll(at, finished, timeout=60)
    result = latest_result(at)
    assert result.image.shape == (192, 256, 3)
    assert "scale 128×96 upsampled" in result.state
    assert any("scale 128×96 upsampled" in m.value for m in at.markdown)
    assert read_recipe(result.png())["optimized_at"] == {"width": 128, "height": 96}


def test_the_gallery_says_a_run_is_in_progress(at, png_of):
    """(The sidebar's link back from every other page is checked in the browser: AppTest runs a page
    without the navigation script that draws it.)"""
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(64)
    at.number_input(key="set_steps").set_value(5000)
    button(at, "Start").click().run()
    poll(at, lambda a: active_run(a).job.snapshot().step >= 1)
    at.switch_page("pages/gallery.py").run()
    assert any("A run is in progress" in i for i in texts(at.info))
    assert not any("No results yet" in i for i in texts(at.info))
    at.switch_page("pages/stylize.py").run()
    at.button(key="stop").click().run()


def test_run_length_sets_steps_and_shows_the_time_on_this_device(at):
    # The default start is the fast result, optimised at the output size: few, full-size steps.
    radio = at.radio(key="run_length")
    assert radio.value == "quality" and at.number_input(key="set_steps").value == 60
    radio.set_value("quick").run()
    assert at.number_input(key="set_steps").value == 20
    # From the content the run goes coarse to fine, where steps are cheap and more are needed.
    at.selectbox(key="set_init").set_value("content").run()
    assert at.radio(key="run_length").value == "custom"
    at.radio(key="run_length").set_value("quick").run()
    assert at.number_input(key="set_steps").value == 100
    # The device's step cost is measured once in the background; then each choice has its time.
    poll(at, lambda a: "≈" in " ".join(a.radio(key="run_length").options), timeout=120)
    options = at.radio(key="run_length").options
    assert options[0].startswith("Quick · 100 steps · ≈ ") and options[0].endswith(" here")
    assert options[1].startswith("Quality · 300 steps · ≈ ")
    at.number_input(key="set_steps").set_value(250).run()
    assert at.radio(key="run_length").value == "custom"


@pytest.mark.parametrize("given, kind, expected", [
    ({"steps": 7, "size": 96}, "warning", f"Loaded 2 of {len(RULES)} settings from part.json (Output size (px),"
                                          " Steps); the rest are at their defaults: Method, Style strength, Optimiser"),
    ({}, "error", "part.json holds no settings, so the form is left as it was."),
])
def test_a_recipe_with_few_or_no_settings_says_what_it_loaded(at, given, kind, expected):
    at.number_input(key="set_steps").set_value(42).run()
    recipe = {**make_recipe(Settings()), "settings": given}
    load_recipe(at, "part.json", json.dumps(recipe).encode(), "application/json")
    shown = texts(getattr(at, kind))
    assert any(expected in m for m in shown), shown
    assert at.number_input(key="set_steps").value == (7 if given else 42)
