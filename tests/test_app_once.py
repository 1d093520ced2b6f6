"""The Stylize page works out the run its form describes once per rerun (issue 19, item 4): the
settings' problems and the run's plan, counted on the real functions, wrapped so that they still
run. Start refuses what the run's preflight refuses (item 2), before any job starts."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from nst.plan import budget
from studio.session import sizing, state
from studio.views import form
from tests.support.apptest import active_run, button, start_app, stop_app, texts, upload_inputs

pytestmark = pytest.mark.app


@pytest.fixture
def counted(monkeypatch):
    """Calls of the settings' problems and of the memory planner, in the page's own thread (a job's
    thread plans its run again, as the engine must)."""
    calls: Counter[str] = Counter()

    def counting(name, real):
        def wrapper(*args, **kwargs):
            if threading.current_thread().name != "nst-job":
                calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(state, "problems", counting("problems", state.problems))
    # Every plan (plan_run and plan_fast) starts by working out its budget.
    monkeypatch.setattr(budget, "_budgets", counting("plans", budget._budgets))
    # The device's step cost is measured in the background; once known, Quick and Quality price runs
    # of other step counts (plans of other settings). Unknown here, so every count is this rerun's own.
    for module in (form, sizing):
        monkeypatch.setattr(module, "measured_step_cost", lambda device: None)
    return calls


@pytest.mark.parametrize("method", ["gatys", "fast"])
def test_one_rerun_checks_the_settings_and_plans_the_run_once(counted, png_of, method):
    at = start_app()
    try:
        at.radio(key="set_method").set_value(method)
        upload_inputs(at, png_of)
        at.run()
        for change in (lambda: None, lambda: at.number_input(key="set_size").set_value(96)):
            change()
            counted.clear()
            at.run()
            assert not at.exception
            assert counted == {"problems": 1, "plans": 1}, counted
    finally:
        stop_app(at)


def test_start_is_refused_where_the_start_image_needs_a_style(png_of):
    """The studio's default start is the fast result, which needs a style even with the style weight
    at 0: Start says so, and where to find one, instead of starting a job that fails."""
    at = start_app()
    try:
        at.file_uploader(key="content_file").set_value(("content.png", png_of(64, 48, 1), "image/png"))
        at.select_slider(key="set_style_weight").set_value(0.0).run()
        assert at.session_state["set_init"] == "fast"
        button(at, "Start").click().run()
        assert not at.exception and active_run(at) is None
        assert any("style library" in e and "the fast method's result" in e for e in texts(at.error)), texts(at.error)
    finally:
        stop_app(at)
