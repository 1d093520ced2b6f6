"""The fast method in a real browser: a fast result, then Refine optimises from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (image_with_caption, make_content, make_style, press, rerun_and_wait, set_number, upload,
                           wait_for_app_idle, wait_visible)

pytestmark = pytest.mark.slow  # real server and browser: the full run, not the quick loop

RUN_MS = 90_000
RESULT = re.compile(r"^\s*Result\s*$")


def test_a_fast_result_then_refine(page: Page, app_url: str, tmp_path: Path, artifacts_dir: Path) -> None:
    page.goto(app_url, wait_until="domcontentloaded")
    wait_for_app_idle(page)
    rerun_and_wait(page, lambda: page.get_by_text("Fast · about a second").click())
    upload(page, "Content image", make_content(tmp_path / "content.png"))
    upload(page, "Style images", make_style(tmp_path / "style.png"))
    set_number(page, "Output size (px)", 128)
    press(page, "Start")
    wait_visible(page, image_with_caption(page, RESULT), "the fast result", RUN_MS)
    expect(page.get_by_text(re.compile(r"^Result #1 · fast method"))).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "fast-result.png"))
    # Only the fast method's controls, and a Losses tab that says why it has no chart (issue 21).
    steps = page.locator('[data-testid="stNumberInput"] input[aria-label="Steps"]')
    expect(steps).to_have_count(0)
    expect(page.get_by_text("Style strength", exact=True)).to_be_visible()
    page.get_by_role("tab", name="Losses").click()
    no_steps = page.get_by_text(re.compile("fast method paints in one pass of its network: it has no steps"))
    expect(no_steps).to_be_visible()
    expect(page.get_by_text("appears after the first step")).to_have_count(0)
    expect(page.get_by_role("button", name="Download losses (CSV)")).to_have_count(0)
    expect(page.get_by_role("button", name="Download PNG")).to_be_visible()
    # Refine takes the optimiser's settings, shown under Optimise.
    rerun_and_wait(page, lambda: page.get_by_text("Optimise · VGG19, refines step by step").click())
    expect(page.get_by_text("Style strength of the fast start", exact=True)).to_be_visible()
    set_number(page, "Steps", 20)
    press(page, "Refine")
    wait_visible(page, page.get_by_text(re.compile(r"^Result #2 · 20 steps")), "the refined result", RUN_MS)
