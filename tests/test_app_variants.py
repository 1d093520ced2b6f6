"""The variant grid: real tiny runs one after another on the shared queue (studio/services/variant_grids.py), and
the Stylize page's grid through AppTest (tiles fill in, a tile sets the form, Render full size)."""

from __future__ import annotations

import pytest

from tests.support.synthetic import gradient
from nst import Settings
from nst.plan.device import device_key
from studio.services import browser_runs, variant_grids
from studio.services.jobs import CANCELLED, DONE, QUEUED, RUNNING, STOPPED
from studio.services.limiter import shared_limiter
from studio.session.results import results
from tests.support.apptest import button, finished, latest_result, new_owner, owner, poll, texts, wait_for

pytestmark = pytest.mark.app


def watched() -> bool:
    """A keepalive: the page is there (these grids have no page sending heartbeats)."""
    return True


def test_a_grid_runs_its_tiles_one_at_a_time_and_stop_cancels_the_rest():
    content, style = gradient(48, 32, seed=1), gradient(32, 32, seed=2)
    grid = variant_grids.Grid(Settings(size=32, steps=5000, device="cpu"), content, [style], 3, keepalive=watched)
    browser_runs.start_grid(new_owner(), grid)
    wait_for(lambda: grid.live() is not None and grid.live()[1].step >= 1, what="the first tile's run")
    index, snap = grid.live()
    assert index == 0 and snap.status == RUNNING and [t.status for t in grid.tiles[1:]] == [QUEUED, QUEUED]
    assert shared_limiter().busy("cpu") == 1  # one device slot, whatever the grid's size
    grid.stop()
    assert grid.join(30)
    assert [t.status for t in grid.tiles] == [STOPPED, CANCELLED, CANCELLED]
    assert grid.tiles[0].image is not None and grid.tiles[1].image is None  # the stopped tile keeps its image
    assert grid._inputs is None and grid._job is None  # nothing held once it has ended


def test_grids_are_one_per_browser_and_bounded(monkeypatch):
    """With the device held, grids wait in the queue: a browser's new grid stops its old one, and
    past MAX_GRIDS the oldest grid is stopped and dropped; a grid stopped while waiting never runs."""
    monkeypatch.setattr(browser_runs, "MAX_GRIDS", 2)
    content, style = gradient(32, 32, seed=1), gradient(32, 32, seed=2)
    owners = [new_owner() for _ in range(3)]

    def grid() -> variant_grids.Grid:
        return variant_grids.Grid(Settings(size=16, steps=1, device="cpu"), content, [style], 2, keepalive=watched)

    holder = object()
    shared_limiter().acquire(device_key("cpu"), holder, cancelled=lambda: False)
    try:
        made = [browser_runs.start_grid(o, grid()) for o in owners]
        replaced = browser_runs.start_grid(owners[2], grid())
        assert browser_runs.grid(owners[0]) is None and browser_runs.grid(owners[1]) is made[1]
        assert browser_runs.grid(owners[2]) is replaced
        assert made[0].join(10) and made[2].join(10)
        assert [t.status for t in made[0].tiles] == [CANCELLED, CANCELLED] and made[0].images() == []
        assert not made[1].finished and not replaced.finished  # still waiting for the device
    finally:
        for o in owners:
            browser_runs.close_grid(o)
        shared_limiter().release(device_key("cpu"), holder)
    assert made[1].join(10) and replaced.join(10)


@pytest.fixture
def at(studio_app, png_of):
    studio_app.file_uploader(key="content_file").set_value(("photo.png", png_of(48, 32, 1), "image/png"))
    studio_app.file_uploader(key="style_files").set_value([("style.png", png_of(32, 32, 2), "image/png")])
    studio_app.number_input(key="set_size").set_value(32)
    studio_app.number_input(key="set_steps").set_value(3)
    studio_app.slider(key="variants_count").set_value(3)
    yield studio_app.run()
    browser_runs.close_grid(owner(studio_app))


def test_variants_fill_a_grid_and_a_tile_sets_the_form_then_renders_full_size(at):
    base = Settings().style_weight
    button(at, "Variants").click().run()
    assert not at.error, texts(at.error)
    grid = browser_runs.grid(owner(at))
    assert [t.variant.settings.steps for t in grid.tiles] == [3, 3, 3]  # never longer than the run itself
    poll(at, lambda a: grid.finished and grid.collected)
    assert [t.status for t in grid.tiles] == [DONE] * 3 and all(t.image.shape == (21, 32, 3) for t in grid.tiles)
    assert any(c.startswith("**Variants** · 3 of 3 done") for c in (m.value for m in at.markdown))
    assert results(owner(at)) == []  # variants stay out of the gallery
    assert [b.label for b in at.button if b.key and b.key.startswith("variant-")] == \
        ["style ×¼", "style ×1", "style ×4"]

    button(at, "style ×4").click().run()
    assert at.select_slider(key="set_style_weight").value == pytest.approx(4 * base)
    assert at.number_input(key="set_size").value == 32  # the form's size, not the tile's
    assert grid.chosen == 2 and button(at, "✓ style ×4").proto.type == "primary"
    at.number_input(key="set_size").set_value(48).run()
    button(at, "Render full size (48 px): style ×4 · colour none").click().run()
    assert not at.error, texts(at.error)
    poll(at, finished)
    result = latest_result(at)
    assert result.settings.style_weight == pytest.approx(4 * base) and result.image.shape[1] == 48


def test_a_grid_that_cannot_run_says_why(at):
    at.radio(key="variants_rows").set_value("seed").run()  # seeds need a noise start
    button(at, "Variants").click().run()
    assert any("seeds change only noise-initialised runs" in e for e in texts(at.error))
    assert browser_runs.grid(owner(at)) is None
