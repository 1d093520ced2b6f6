"""Every button that starts work is a callback (AppTest): a click whose rerun is superseded by the
browser's next message still does its work, exactly once.

The race, as Streamlit has it: a click's trigger travels in one rerun request only. When the
browser's next message (another click, a changed value) arrives while that rerun is still running,
the rerun is cut short at its next Streamlit call and the script starts again with the new
message's widget states, in which the trigger is already reset. A button handled in the script's
body (``if st.button(...)``) below the cut never sees its click; a callback ran before the body did.
Here the next message is delivered during the settings form, above every one of these buttons, as
the server would deliver it: through the run's own ScriptRequests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from streamlit.runtime.scriptrunner import RerunData, get_script_run_ctx
from streamlit.testing.v1 import AppTest

from studio.services import browser_runs
from studio.views import form, runs
from tests.support.apptest import button, fast_result, finished, latest_result, owner, poll, texts, upload_inputs

pytestmark = pytest.mark.app


@pytest.fixture
def superseded(monkeypatch) -> Iterator[Callable[[AppTest], None]]:
    """``superseded(at)``: the app's next run is superseded, while it draws the settings form, by a
    message carrying the widget states as they were before the click (its trigger reset)."""
    pending: list = []
    draw = form.settings_form

    def settings_form(*args, **kwargs):
        if pending:
            ctx = get_script_run_ctx()
            ctx.script_requests.request_rerun(RerunData(widget_states=pending.pop(),
                                                        page_script_hash=ctx.page_script_hash))
        return draw(*args, **kwargs)

    monkeypatch.setattr(form, "settings_form", settings_form)
    yield lambda at: pending.append(at._tree.get_widget_states())
    pending.clear()


def _ready(at: AppTest, png_of, size: int, steps: int) -> AppTest:
    """The Stylize page with a photo and a painting, at ``size`` px for ``steps`` steps."""
    upload_inputs(at, png_of)
    at.number_input(key="set_size").set_value(size)
    at.number_input(key="set_steps").set_value(steps)
    return at.run()


def _superseded_click(at: AppTest, superseded: Callable[[AppTest], None], key: str) -> None:
    superseded(at)  # the states before the click: what the browser sends next, trigger reset
    at.button(key=key).click().run()
    assert not at.exception, at.exception


def test_a_superseded_start_starts_exactly_one_run(studio_app, png_of, superseded):
    at = _ready(studio_app, png_of, 32, 5000)
    _superseded_click(at, superseded, "start")
    assert len(runs.live_runs(owner(at))) == 1, texts(at.error)
    assert at.button(key="start").label == "Queue another"  # the page drawn after it knows
    at.button(key="stop").click().run()


def test_a_superseded_stop_stops_the_run(studio_app, png_of, superseded):
    """Stop has been a callback since the race was first seen: the harness's own check."""
    at = _ready(studio_app, png_of, 32, 5000)
    button(at, "Start").click().run()
    run = runs.active(owner(at))
    _superseded_click(at, superseded, "stop")
    assert run.job.join(60) and run.job.snapshot().status == "stopped"


def test_a_superseded_variants_click_starts_the_grid(studio_app, png_of, superseded):
    studio_app.slider(key="variants_count").set_value(1)
    at = _ready(studio_app, png_of, 32, 3)
    try:
        _superseded_click(at, superseded, "variants")
        assert browser_runs.grid(owner(at)) is not None, texts(at.error)
    finally:
        browser_runs.close_grid(owner(at))


def test_a_superseded_continue_at_2x_starts_the_larger_run(studio_app, png_of, superseded):
    at = _ready(studio_app, png_of, 48, 3)
    button(at, "Start").click().run()
    poll(at, finished)
    first = latest_result(at)
    _superseded_click(at, superseded, f"larger-{first.number}")
    started = runs.live_runs(owner(at)) or []
    assert [run.job.settings.size for run in started] == [96], texts(at.error)
    poll(at, lambda a: finished(a) and latest_result(a).number != first.number, timeout=120)


def test_a_superseded_refine_starts_exactly_one_refinement(studio_app, superseded):
    at = studio_app
    result = fast_result(at)
    assert result is not None, texts(at.error)
    at.radio(key="set_method").set_value("gatys").run()
    at.number_input(key="set_steps").set_value(5000).run()
    _superseded_click(at, superseded, f"refine-{result.number}")
    started = runs.live_runs(owner(at))
    assert [(run.job.settings.init, run.job.settings.steps) for run in started] == [("fast", 5000)], texts(at.error)
    at.button(key="stop").click().run()
