"""The fast method in the studio (AppTest): an example photo and the style library, a result in the
same redraw as Start, and Refine from it."""

from __future__ import annotations

import pytest

from studio.services import examples
from tests.support.apptest import active_run, button, latest_result, poll, texts

pytestmark = pytest.mark.app


@pytest.fixture
def at(studio_app):
    studio_app.radio(key="set_method").set_value("fast").run()
    return studio_app


def test_a_fast_result_from_an_example_photo_and_a_builtin_style_then_refine(at):
    at.selectbox(key="example_content").set_value("Harbour town at dusk (rendered)").run()
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    at.number_input(key="set_size").set_value(128).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    result = latest_result(at)  # there at once: Start waits for a fast result
    assert result is not None and result.image.shape == (96, 128, 3)
    assert (result.settings.method, result.settings.builtin_styles) == ("fast", (3,))
    assert result.meta["content_name"] == "Harbour town at dusk (rendered)"
    assert [b.label for b in at.button if b.key == f"refine-{result.number}"] == ["Refine"]

    at.radio(key="set_method").set_value("gatys").run()  # the optimiser's settings are drawn under Optimise
    at.number_input(key="set_steps").set_value(40).run()  # not the preset's: Refine takes the form's
    at.button(key=f"refine-{result.number}").click().run()
    assert not at.error, texts(at.error)
    run = active_run(at)
    assert (run.job.settings.method, run.job.settings.init, run.job.settings.steps) == ("gatys", "fast", 40)
    poll(at, lambda a: active_run(a).job.snapshot().step >= 1)
    at.button(key="stop").click().run()


def test_an_example_painting_from_the_library_is_a_style(at):
    at.selectbox(key="example_content").set_value("Lake landscape (rendered)").run()
    name = next(iter(examples.PAINTINGS))
    at.checkbox(key=f"library_{name}").check().run()
    at.number_input(key="set_size").set_value(96).run()
    button(at, "Start").click().run()
    assert not at.error, texts(at.error)
    assert latest_result(at).meta["style_names"] == [name]
    at.checkbox(key=f"library_{name}").uncheck().run()
    button(at, "Start").click().run()
    assert any("pick one from the style library" in e for e in texts(at.error))


def test_fast_without_any_style_says_where_to_find_one(at):
    at.selectbox(key="example_content").set_value("Lake landscape (rendered)").run()
    button(at, "Start").click().run()
    assert any("style library" in e for e in texts(at.error)) and active_run(at) is None
