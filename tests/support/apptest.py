"""Streamlit AppTest helpers (a fresh page, its runs and results, painted canvases, stored results)
and ``wait_for``, the tests' one poll-until-true, which the unit and cluster tests use too. Plain
functions; the fixtures built on them (``studio_app``, ``downloads``) live in tests/conftest.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


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
    """The session's uncollected run (``studio.views.runs.ActiveRun``), or None."""
    from studio.views import runs

    return runs.active(owner(app)) if "_browser_token" in app.session_state else None


def latest_result(app: AppTest):
    """The session's newest stored result (``studio.session.results.Result``), or None."""
    from studio.session.results import results

    found = results(owner(app)) if "_browser_token" in app.session_state else []
    return found[-1] if found else None


def stop_app(app: AppTest) -> None:
    """Never leave a job holding the shared device slot."""
    from studio.views import runs

    if "_browser_token" not in app.session_state:
        return
    for run in runs.live_runs(owner(app)):
        run.job.stop()
        run.job.join(10)


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def finished(app: AppTest) -> bool:
    """Every run of this session has ended and its page has collected it (drawn its outcome)."""
    from studio.views import runs

    return "_browser_token" in app.session_state and not runs.uncollected(owner(app))


def poll(app: AppTest, until: Callable[[AppTest], bool], timeout: float = 120.0) -> None:
    """Rerun the app until ``until(app)`` holds."""
    wait_for(lambda: until(app), timeout, interval=0.1, between=app.run, what="the app")


def texts(elements) -> list[str]:
    """What a person reads in each element: its Markdown with the escapes that keep user text literal
    resolved (``studio.session.text.shown``); the escapes themselves are tested in tests/test_text.py."""
    from studio.services.literal import shown

    return [shown(e.value) for e in elements]


def captions(app: AppTest) -> list[str]:
    """The images' captions as read (see :func:`texts`)."""
    from studio.services.literal import shown

    return [shown(img.caption) for element in app.image for img in element.proto.imgs]


# -- stored results ------------------------------------------------------------------------------
def new_owner() -> str:
    """A browser token no other test uses."""
    return uuid.uuid4().hex


def store_results(owner: str, content_image: Image.Image, count: int = 2, content_name: str | None = None,
                  style_names: list[str] | None = None) -> list:
    """``count`` results of a browser (``studio.session.results.Result``), saved as a finished job saves
    them (the second stopped early); each image is the photo upside down, brighter by result.
    The photo is named ``photoN.png`` and the painting ``paint.png`` unless named here."""
    from nst import Settings
    from studio.services.jobs import Snapshot
    from studio.session.results import save_result

    saved = []
    for number in range(1, count + 1):
        rows = [{"step": s, "scale": 0, "elapsed_s": 0.1 * s, "content": 1.0 / s, "style": 2.0 / s, "tv": 0.0,
                 "total": 3.0 / s} for s in (1, 2, 3)]
        image = np.clip(np.asarray(content_image)[::-1].astype(int) + 40 * (number - 1), 0, 255).astype(np.uint8)
        snap = Snapshot(status="stopped" if number == 2 else "done", message="", device="cpu", queue_position=0,
                        step=3, total_steps=3 if number == 1 else 9, scale=0, n_scales=1, elapsed=0.3,
                        losses={k: v for k, v in rows[-1].items() if k in ("content", "style", "tv", "total")},
                        rows=rows, preview=None, preview_step=3, result=image, shape=image.shape[:2])
        saved.append(save_result(owner, snap, Settings(size=64, steps=3, seed=number), content_image,
                                 content_name or f"photo{number}.png", style_names or ["paint.png"]))
    return saved


# -- paintings, as the regions editor's canvas returns them ----------------------------------------
RED, BLUE, YELLOW, WHITE = "#ff0000", "#0000ff", "#ffff00", "#ffffff"


def canvas(width: int = 300, height: int = 200) -> np.ndarray:
    """An empty canvas: transparent everywhere."""
    return np.zeros((height, width, 4), np.uint8)


def stroke(paint: np.ndarray, colour: str, rows: slice, cols: slice) -> None:
    """A stroke of the editor's (see studio.services.painted_regions.STROKE_ALPHA) over what is there, composited as
    the browser's canvas does ('source-over') and returned unpremultiplied, as toDataURL gives it."""
    from nst.core.masks import rgb
    from studio.services.painted_regions import STROKE_ALPHA

    region = paint[rows, cols].astype(np.float64)
    a_dst = region[..., 3:] / 255
    a_out = STROKE_ALPHA + a_dst * (1 - STROKE_ALPHA)
    mixed = (np.array(rgb(colour), np.float64) * STROKE_ALPHA + region[..., :3] * a_dst * (1 - STROKE_ALPHA)) / a_out
    paint[rows, cols, :3] = np.rint(mixed)
    paint[rows, cols, 3:] = np.rint(a_out * 255)


def upload_inputs(app: AppTest, png_of, styles: int = 1) -> None:
    """A 64×48 photo and ``styles`` 48 px paintings in the Stylize page's uploaders (``png_of``: the
    conftest fixture)."""
    app.file_uploader(key="content_file").set_value(("content.png", png_of(64, 48, 1), "image/png"))
    app.file_uploader(key="style_files").set_value(
        [(f"style{i}.png", png_of(48, 48, 10 + i), "image/png") for i in range(styles)])


def fast_result(app: AppTest):
    """A fast result of a rendered example photo and a built-in style at 64 px: about a second."""
    app.radio(key="set_method").set_value("fast").run()
    app.selectbox(key="example_content").set_value("Harbour town at dusk (rendered)").run()
    app.multiselect(key="set_builtin_styles").set_value([3]).run()
    app.number_input(key="set_size").set_value(64).run()
    button(app, "Start").click().run()
    return latest_result(app)
