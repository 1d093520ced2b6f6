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


def stop_app(app: AppTest) -> None:
    """Never leave a job holding the shared device slot."""
    run = app.session_state["active_run"] if "active_run" in app.session_state else None
    if run is not None:
        run.job.stop()
        run.job.join(10)


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def finished(app: AppTest) -> bool:
    return "active_run" not in app.session_state


def poll(app: AppTest, until: Callable[[AppTest], bool], timeout: float = 120.0) -> None:
    """Rerun the app until ``until(app)`` holds."""
    wait_for(lambda: until(app), timeout, interval=0.1, between=app.run, what="the app")


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def captions(app: AppTest) -> list[str]:
    return [img.caption for element in app.image for img in element.proto.imgs]
