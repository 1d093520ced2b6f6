"""The Video page in a real browser: upload a small clip, style it, and the result plays in the page
(Debian's Chromium decodes the H.264 MP4 the page serves) and downloads as a real clip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (download, download_button, make_style, press, rerun_and_wait, set_number, upload,
                                   wait_for_app_idle, wait_visible)
from tests.support.clips import pan, read_back, write_clip

pytestmark = pytest.mark.slow  # a real server and browser (the e2e tier: tests/e2e/conftest.py)

RUN_MS = 180_000
FRAMES = 16
PLAYS_JS = """
async () => {
  const video = document.querySelector('[data-testid="stVideo"]');
  video.muted = true;  // a page may only start a sound clip on a person's click
  await video.play();
  const start = video.currentTime;
  const until = Date.now() + 10000;
  while (Date.now() < until && !(video.readyState >= 2 && video.currentTime > start + 0.2)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {ready: video.readyState, moved: video.currentTime - start, duration: video.duration,
          error: video.error ? video.error.code : null};
}
"""


def test_an_uploaded_clip_is_styled_plays_in_the_page_and_downloads(page: Page, app_url: str, tmp_path: Path,
                                                                    artifacts_dir: Path) -> None:
    clip = write_clip(tmp_path / "walk.mp4", pan(128, 96, frames=FRAMES, step=2), FRAMES, 8, tone=330)
    page.goto(app_url, wait_until="domcontentloaded")
    wait_for_app_idle(page)
    rerun_and_wait(page, lambda: page.locator('[data-testid="stSidebarNavLink"]', has_text="Video").click())
    rerun_and_wait(page, lambda: page.get_by_text("My clip", exact=True).click())
    upload(page, "Video clip", clip)
    described = re.compile(rf"walk\.mp4 · 128×96 · {FRAMES} frames · 2\.0 s · with sound")
    expect(page.get_by_text(described)).to_be_visible()
    upload(page, "Style images", make_style(tmp_path / "style.png"))
    set_number(page, "Working side (px)", 96)
    wait_visible(page, page.get_by_text("Styled", exact=True), "the first frame styled", RUN_MS)
    press(page, "Start")
    wait_visible(page, page.locator('[data-testid="stVideo"]'), "the result's player", RUN_MS)
    page.screenshot(path=str(artifacts_dir / "video-result.png"))
    played = page.evaluate(PLAYS_JS)
    assert played["error"] is None and played["ready"] >= 2 and played["moved"] > 0.2, played
    assert abs(played["duration"] - FRAMES / 8) < 0.2, played  # the input's 2 s, frame count and rate kept
    expect(download_button(page, "Download GIF")).to_be_visible()
    saved = read_back(download(page, "Download MP4", tmp_path / "styled.mp4"))
    assert saved["frames"] == FRAMES and saved["codec"] == "h264" and saved["audio"] == "aac"
    assert "consistency" in saved["tags"].get("comment", "")  # the recipe in the container's tag
