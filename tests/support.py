"""Helpers the tests share (plain functions; the fixtures built on them live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, *, interval: float = 0.02,
             between: Callable[[], object] | None = None, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds. ``between`` runs after each
    failed poll (an AppTest's ``run`` to let the page redraw)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(interval)
        if between is not None:
            between()


# -- Streamlit AppTest ---------------------------------------------------------------------------
def start_app(**state: object) -> AppTest:
    """A fresh app with ``state`` set before its first run (the Stylize page)."""
    app = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    return app


def owner(app: AppTest) -> str:
    """The browser token the app gave this session."""
    return app.session_state["_browser_token"]


def active_run(app: AppTest):
    """The session's uncollected run (``studio.runs.ActiveRun``), or None."""
    from studio import runs

    return runs.active(owner(app)) if "_browser_token" in app.session_state else None


def latest_result(app: AppTest):
    """The session's newest stored result (``studio.results.Result``), or None."""
    from studio.results import results

    found = results(owner(app)) if "_browser_token" in app.session_state else []
    return found[-1] if found else None


def stop_app(app: AppTest) -> None:
    """Never leave a job holding the shared device slot."""
    from studio import runs

    if "_browser_token" not in app.session_state:
        return
    for run in runs.live_runs(owner(app)):
        run.job.stop()
        run.job.join(10)


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def finished(app: AppTest) -> bool:
    """Every run of this session has ended and its page has collected it (drawn its outcome)."""
    from studio import runs

    return "_browser_token" in app.session_state and not runs.uncollected(owner(app))


def poll(app: AppTest, until: Callable[[AppTest], bool], timeout: float = 120.0) -> None:
    """Rerun the app until ``until(app)`` holds."""
    wait_for(lambda: until(app), timeout, interval=0.1, between=app.run, what="the app")


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def captions(app: AppTest) -> list[str]:
    return [img.caption for element in app.image for img in element.proto.imgs]
