"""Browser end-to-end test: upload, configure, run, watch progress, download the result.

Drives the real Streamlit app in headless Chromium (fixtures in ``conftest.py``, helpers in
``tests/support/browser.py``). A MutationObserver installed before "Start" journals every DOM state of
the loss chart, the "Step N" preview and the "Result" image, so the "while running" assertions
hold however fast the run is; screenshots of each stage land in the artifacts dir.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from PIL import Image
import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import (LOAD_TIMEOUT_MS, download_button, image_with_caption, make_content, make_style,
                           set_number, upload, wait_for_app_idle, wait_visible)
from nst.io.recipe import read_recipe

pytestmark = pytest.mark.slow  # real server and browser: the full run, not the quick loop

STEPS = 40
SIZE = 64
RUN_TIMEOUT_MS = 120_000  # bounded; a 64 px, 40-step CPU run normally takes seconds
STAGES = ("01-loaded", "02-uploaded", "03-running", "04-done", "result")
STEP_CAPTION = re.compile(r"^\s*Step\s+(\d+)")

# Journal of what the page shows, one entry per distinct state, recorded in the browser.
WATCH_JS = """
() => {
  const log = { t0: performance.now(), events: [] };
  window.__nstLog = log;
  let last = "";
  const live = (el) => !el.closest('[data-stale="true"]');
  const snap = () => {
    const previews = [];
    let result = false;
    document.querySelectorAll('[data-testid="stImageContainer"]').forEach((box) => {
      const cap = box.querySelector('[data-testid="stImageCaption"]');
      const img = box.querySelector("img");
      if (!cap || !img || !live(box)) return;
      const text = cap.innerText.trim();
      if (text.startsWith("Step ")) previews.push({ caption: text, src: img.src });
      if (text === "Result") result = true;
    });
    const chart = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
      .some((c) => live(c) && c.querySelector("svg, canvas"));
    const key = JSON.stringify([previews, chart, result]);
    if (key === last) return;
    last = key;
    log.events.push({ t: Math.round(performance.now() - log.t0), previews, chart, result });
  };
  new MutationObserver(snap).observe(document.body, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["src", "data-stale"],
  });
  snap();
}
"""


DRAWN_JS = """
() => [...document.querySelectorAll('[data-testid="stImageContainer"]')].some((box) => {
    const cap = box.querySelector('[data-testid="stImageCaption"]');
    const img = box.querySelector("img");
    return cap && img && cap.innerText.trim().startsWith("Step ") && img.complete && img.naturalWidth > 0;
  }) && !!document.querySelector('[data-testid="stVegaLiteChart"] svg, [data-testid="stVegaLiteChart"] canvas')
"""


def download_png(page: Page) -> Locator:
    return download_button(page, "Download PNG")


def test_stylize_end_to_end(page: Page, app_url: str, artifacts_dir: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    for stale in [f"{stage}.png" for stage in STAGES] + ["timings.txt", "progress.json"]:
        (artifacts_dir / stale).unlink(missing_ok=True)  # never let an old file pass for this run's
    content = make_content(tmp_path / "content.png")
    style = make_style(tmp_path / "style.png")

    timings: list[str] = []

    def shot(name: str) -> None:
        page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
        timings.append(f"{name}: {time.monotonic() - started:.1f} s")
        (artifacts_dir / "timings.txt").write_text("\n".join(timings) + "\n")

    # 1. Loaded: the default page ("Stylize") with its Start button.
    page.goto(app_url, wait_until="domcontentloaded")
    wait_for_app_idle(page)
    wait_visible(page, page.get_by_role("button", name="Start", exact=True), '"Start" button', LOAD_TIMEOUT_MS)
    expect(page.get_by_role("link", name="Stylize")).to_be_visible()
    shot("01-loaded")

    # 2. Inputs: two generated images and small settings.
    upload(page, "Content image", content)
    upload(page, "Style images", style)
    set_number(page, "Steps", STEPS)
    set_number(page, "Output size (px)", SIZE)
    shot("02-uploaded")

    # 3. Running: the loss chart appears and the "Step N" preview advances.
    page.evaluate(WATCH_JS)
    page.get_by_role("button", name="Start", exact=True).click()
    result = image_with_caption(page, re.compile(r"^\s*Result\s*$"))
    # Live checks; should the run already be over (a fast GPU), the journal below still holds
    # what was shown while it ran.
    preview = image_with_caption(page, re.compile(r"^\s*Step \d+"))
    wait_visible(page, preview.or_(result), '"Step N" preview', RUN_TIMEOUT_MS)
    wait_visible(page, page.locator('[data-testid="stVegaLiteChart"]').or_(result), "loss chart", RUN_TIMEOUT_MS)
    try:  # the panel redraws every poll: catch a frame with both drawn, for the screenshot only
        page.wait_for_function(DRAWN_JS, timeout=5_000)
    except PlaywrightTimeoutError:
        pass
    shot("03-running")

    # 4. Done: the result image and its PNG download.
    wait_visible(page, result, '"Result" image', RUN_TIMEOUT_MS)
    expect(download_png(page)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    shot("04-done")

    events = page.evaluate("window.__nstLog.events")
    (artifacts_dir / "progress.json").write_text(json.dumps(events, indent=1))
    _assert_progress_seen(events)

    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as info:
        download_png(page).click()
    download = info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename.lower().endswith(".png"), download.suggested_filename
    saved = artifacts_dir / "result.png"
    download.save_as(str(saved))

    with Image.open(saved) as img:
        assert img.format == "PNG"
        assert max(img.size) == SIZE, img.size
        # The content image is 3:2, so the result keeps that shape.
        assert abs(img.size[0] / img.size[1] - 96 / 64) < 0.1, img.size
    settings = read_recipe(saved)["settings"]
    assert settings["size"] == SIZE
    assert settings["steps"] == STEPS

    print(f"e2e flow took {time.monotonic() - started:.1f} s; artifacts in {artifacts_dir}")


def _assert_progress_seen(events: list[dict]) -> None:
    """Before "Result" first showed: the chart was drawn and the preview changed at least once."""
    before = []
    for event in events:
        if event["result"]:
            break
        before.append(event)
    summary = "\n".join(
        f"  t={e['t']}ms chart={e['chart']} result={e['result']} "
        f"previews={[p['caption'] for p in e['previews']]}"
        for e in events[:60]
    )
    assert any(e["chart"] for e in before), f"loss chart never drawn while running:\n{summary}"
    states = []
    for event in before:
        for preview in event["previews"]:
            state = (preview["caption"], preview["src"])
            if state not in states:
                states.append(state)
    assert len(states) >= 2, f"preview never updated while running (states={states}):\n{summary}"
    numbers = {int(m.group(1)) for caption, _ in states if (m := STEP_CAPTION.match(caption))}
    sources = {src for _, src in states}
    assert len(numbers) >= 2 or len(sources) >= 2, f"preview step and image never changed:\n{summary}"
