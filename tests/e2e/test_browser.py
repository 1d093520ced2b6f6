"""Browser end-to-end test: upload, configure, run, watch progress, download the result.

Drives the real Streamlit app in headless Chromium (fixtures in ``conftest.py``). A
MutationObserver installed before "Start" journals every DOM state of the loss chart, the
"Step N" preview and the "Result" image, so the "while running" assertions hold however
fast the run is; screenshots of each stage land in the artifacts dir.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from nst.images import read_recipe

STEPS = 40
SIZE = 64
LOAD_TIMEOUT_MS = 30_000
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


def make_content(path: Path) -> Path:
    """96x64 gradient with a few shapes: enough structure for a content loss."""
    img = Image.new("RGB", (96, 64))
    px = img.load()
    for x in range(96):
        for y in range(64):
            px[x, y] = (int(255 * x / 95), int(255 * y / 63), 128)
    draw = ImageDraw.Draw(img)
    draw.ellipse((10, 10, 40, 40), fill=(250, 240, 30))
    draw.rectangle((55, 20, 85, 55), fill=(20, 30, 200))
    draw.line((0, 63, 95, 0), fill=(255, 255, 255), width=3)
    img.save(path)
    return path


def make_style(path: Path) -> Path:
    """64x64 diagonal red/black stripes."""
    img = Image.new("RGB", (64, 64))
    px = img.load()
    for x in range(64):
        for y in range(64):
            px[x, y] = (220, 40, 30) if ((x + y) // 6) % 2 else (15, 15, 15)
    img.save(path)
    return path


def wait_for_app_idle(page: Page, timeout: int = LOAD_TIMEOUT_MS) -> None:
    """Like Streamlit's e2e ``wait_for_app_run``: connected and the script not running."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', state="attached", timeout=timeout
    )
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', state="attached", timeout=timeout
    )


# Counts script runs that ended, so an interaction can wait for *its* rerun to finish. Checking
# "notRunning" alone can pass before the rerun has even started, and acting during that rerun
# races the app (a rerun requested while the style upload's run is still drawing its widgets
# can leave that run's blend slider at 0).
RUN_COUNTER_JS = """
() => {
  if (window.__nstRunsEnded !== undefined) return;
  window.__nstRunsEnded = 0;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver((records) => {
    for (const r of records) if (r.oldValue === "running") window.__nstRunsEnded += 1;
  }).observe(app, { attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"] });
}
"""
RUN_ENDED_JS = """
(before) => window.__nstRunsEnded > before &&
  document.querySelector('[data-testid="stApp"]').getAttribute("data-test-script-state") === "notRunning"
"""


def rerun_and_wait(page: Page, action: Callable[[], None], timeout: int = LOAD_TIMEOUT_MS) -> None:
    """Do ``action`` (which must trigger a rerun) and wait until that rerun has finished."""
    page.evaluate(RUN_COUNTER_JS)
    before = page.evaluate("window.__nstRunsEnded")
    action()
    page.wait_for_function(RUN_ENDED_JS, arg=before, timeout=timeout)
    check_no_app_error(page)


ERRORS_JS = """
() => [...document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]')]
  .filter((el) => !el.closest('[data-stale="true"]'))
  .map((el) => el.innerText.trim())
"""


def check_no_app_error(page: Page) -> None:
    """Fail at once, with the app's own message, if it shows an exception or an st.error."""
    errors = page.evaluate(ERRORS_JS)
    if errors:
        pytest.fail("the app shows an error:\n" + "\n---\n".join(errors)[:4000], pytrace=False)


def wait_visible(page: Page, locator: Locator, what: str, timeout_ms: int) -> None:
    """Poll for ``locator`` (re-queried each time: reruns replace elements) or an app error."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        check_no_app_error(page)
        if locator.filter(visible=True).count():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout_ms / 1000:.0f} s", pytrace=False)
        page.wait_for_timeout(200)


def uploader(page: Page, label: str) -> Locator:
    box = page.locator('[data-testid="stFileUploader"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )
    expect(box).to_have_count(1)
    return box


def upload(page: Page, label: str, path: Path) -> None:
    box = uploader(page, label)
    rerun_and_wait(page, lambda: box.locator('input[type="file"]').set_input_files(str(path)))
    expect(uploader(page, label).get_by_text(path.name)).to_be_visible()


def set_number(page: Page, label: str, value: int) -> None:
    field = page.locator(f'[data-testid="stNumberInput"] input[aria-label="{label}"]')
    expect(field).to_have_count(1)
    if field.input_value() != str(value):  # an unchanged value triggers no rerun

        def enter() -> None:
            field.fill(str(value))
            field.press("Enter")

        rerun_and_wait(page, enter)
    expect(field).to_have_value(str(value))


def download_png(page: Page) -> Locator:
    # A download button with ``help`` renders a second, hidden copy of itself (for sizing);
    # the role query skips that one.
    return (
        page.locator('[data-testid="stDownloadButton"]')
        .get_by_role("button", name="Download PNG", exact=True)
        .filter(visible=True)
    )


def image_with_caption(page: Page, caption: str | re.Pattern) -> Locator:
    return page.locator('[data-testid="stImageContainer"]').filter(
        has=page.locator('[data-testid="stImageCaption"]', has_text=caption)
    )


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
