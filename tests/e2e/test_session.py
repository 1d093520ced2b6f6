"""Nothing the user made is lost, and the controls say what they do: reloads, page visits, Stop then
Start, typed values out of range, and the live view on a 1280×720 screen, in a real browser."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (LOAD_TIMEOUT_MS, check_no_app_error, image_with_caption, make_content, make_style,
                           new_page, prepare, press, rerun_and_wait, set_number, upload, wait_for_app_idle,
                           wait_visible)

pytestmark = pytest.mark.slow  # real server and browser: the full run, not the quick loop

LONG_STEPS, SIZE = 5000, 64
RUN_MS = 90_000
PREVIEW = re.compile(r"^\s*Step (\d+) of")
RESULT = re.compile(r"^\s*Result\s*$")


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    return make_content(tmp_path / "content.png"), make_style(tmp_path / "style.png")


def preview_step(page: Page) -> int:
    """The step of the live preview now on screen (waits for one)."""
    preview = image_with_caption(page, PREVIEW)
    wait_visible(page, preview, '"Step N" preview', RUN_MS)
    return int(PREVIEW.match(preview.first.locator('[data-testid="stImageCaption"]').inner_text()).group(1))


def gallery_titles(page: Page) -> list[str]:
    page.get_by_role("link", name="Gallery").click()
    wait_for_app_idle(page)
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    return [t.strip() for t in page.locator('[data-testid="stMarkdownContainer"] strong').all_inner_texts()
            if t.strip().startswith("#")]


def test_a_reload_mid_run_reattaches_and_keeps_the_result_for_this_browser_only(
        page: Page, open_page: Callable[[], Page], app_url: str, images: tuple[Path, Path]) -> None:
    prepare(page, app_url, *images, LONG_STEPS, SIZE)
    press(page, "Start")
    preview_step(page)
    page.get_by_role("link", name="How it works").click()  # another page says so, with a way back
    wait_for_app_idle(page)
    expect(page.get_by_role("link", name="A run is in progress — watch it")).to_be_visible()
    page.get_by_role("link", name="A run is in progress — watch it").click()
    wait_for_app_idle(page)
    before = preview_step(page)
    assert "session=" in page.url  # the browser's identity lives in its URL
    page.reload(wait_until="domcontentloaded")
    wait_for_app_idle(page)
    page.wait_for_function(  # the same run, live again, further on
        """(before) => [...document.querySelectorAll('[data-testid="stImageCaption"]')]
             .some((el) => { const m = el.innerText.match(/^Step (\\d+) of/); return m && +m[1] > before; })""",
        arg=before, timeout=RUN_MS)
    press(page, "Stop")
    wait_visible(page, image_with_caption(page, RESULT), '"Result" image', RUN_MS)
    assert [t.split(" · ")[0] for t in gallery_titles(page)] == ["#1"]

    other = open_page()  # another browser: its own identity, none of these results
    other.goto(app_url, wait_until="domcontentloaded")
    wait_for_app_idle(other)
    other.get_by_role("link", name="Gallery").click()
    wait_for_app_idle(other)
    expect(other.get_by_text("No results yet")).to_be_visible()


def test_uploads_survive_a_visit_to_another_page(page: Page, app_url: str, images: tuple[Path, Path]) -> None:
    content, style = images
    prepare(page, app_url, content, style, 7, SIZE)
    page.get_by_role("link", name="How it works").click()
    wait_for_app_idle(page)
    page.get_by_role("link", name="Stylize").click()
    wait_for_app_idle(page)
    expect(image_with_caption(page, f"{content.name} · 96×64")).to_be_visible()
    expect(page.get_by_text(f"In use: {style.name}")).to_be_visible()
    expect(page.locator('[data-testid="stNumberInput"] input[aria-label="Steps"]')).to_have_value("7")
    press(page, "Start")  # and they are what the run uses
    wait_visible(page, image_with_caption(page, RESULT), '"Result" image', RUN_MS)
    check_no_app_error(page)


def test_stop_then_start_at_once_runs_the_new_one(page: Page, app_url: str, images: tuple[Path, Path]) -> None:
    prepare(page, app_url, *images, LONG_STEPS, SIZE)
    press(page, "Start")
    preview_step(page)
    # As fast as a person: Start right after Stop, without waiting for the page to redraw.
    page.get_by_role("button", name="Stop", exact=True).click()
    page.locator('.st-key-start button').first.click()  # labelled Start or Queue another
    wait_for_app_idle(page)
    check_no_app_error(page)
    expect(page.get_by_text(re.compile("already in progress"))).to_have_count(0)
    # The stopped run is saved (the gallery lists it) while the new one runs.
    wait_visible(page, page.locator('[data-testid="stProgress"]'), "a run's progress", RUN_MS)
    deadline = time.monotonic() + RUN_MS / 1000
    while not any(title.startswith("#1 ") for title in gallery_titles(page)):
        assert time.monotonic() < deadline, "the stopped run never reached the gallery"
        page.wait_for_timeout(500)
    page.get_by_role("link", name="Stylize", exact=True).click()
    wait_for_app_idle(page)
    wait_visible(page, page.locator('[data-testid="stProgress"]'), "the second run's progress", RUN_MS)
    press(page, "Stop")
    wait_visible(page, page.get_by_text(re.compile(r"^Result #2")), "the second run's result", RUN_MS)
    assert [t.split(" · ")[0] for t in gallery_titles(page)] == ["#2", "#1"]


@pytest.mark.parametrize("label, typed, message", [
    ("Steps", "100001", "“Steps” must be a whole number from 1 to 100000, got 100001"),
    ("Steps", "-5", "“Steps” must be a whole number from 1 to 100000, got -5"),
    ("Output size (px)", "5000", "“Output size (px)” must be a whole number of pixels from 16 to 4096, got 5000"),
    ("Output size (px)", "8", "“Output size (px)” must be a whole number of pixels from 16 to 4096, got 8"),
])
def test_an_out_of_range_number_is_named_and_never_run(page: Page, app_url: str, images: tuple[Path, Path],
                                                       label: str, typed: str, message: str) -> None:
    prepare(page, app_url, *images, 5, SIZE)
    field = page.locator(f'[data-testid="stNumberInput"] input[aria-label="{label}"]')

    def enter() -> None:
        field.fill(typed)
        field.press("Enter")

    rerun_and_wait(page, enter)
    expect(field).to_have_value(typed)  # what the user sees is what the app holds
    expect(page.get_by_text(message)).to_be_visible()  # marked under the field
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_app_idle(page)
    alert = page.locator('[data-testid="stAlertContentError"]')
    expect(alert).to_contain_text(message)
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)  # nothing ran
    typed = "5" if label == "Steps" else str(SIZE)  # put right, the error goes before the next Start
    rerun_and_wait(page, enter)
    expect(page.get_by_text(message)).to_have_count(0)
    expect(alert).to_have_count(0)


def test_the_live_view_is_above_the_fold_at_1280x720(browser, app_url: str, images: tuple[Path, Path],
                                                     artifacts_dir: Path) -> None:
    page = new_page(browser, 1280, 720)
    try:
        prepare(page, app_url, *images, LONG_STEPS, 256)
        press(page, "Start")
        preview_step(page)
        page.wait_for_selector('[data-testid="stVegaLiteChart"] svg, [data-testid="stVegaLiteChart"] canvas')
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts_dir / "live-1280x720.png"))
        for what, locator in (("preview", image_with_caption(page, PREVIEW).locator("img")),
                              ("chart", page.locator('[data-testid="stVegaLiteChart"]').first)):
            box = locator.first.bounding_box()
            assert box is not None, what
            assert box["y"] >= 0 and box["y"] + box["height"] <= 720, (what, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, (what, box)
        preview = image_with_caption(page, PREVIEW).locator("img").first.bounding_box()
        assert preview["width"] >= 400, preview  # large, whatever the scale being optimised
        press(page, "Stop")
    finally:
        page.context.close()
