"""Shared helpers for the browser tests and ``bench/load.py``: page actions and server memory.

Page helpers follow Streamlit's own e2e harness (wait for the script run an action triggers,
fail fast with the app's own error text). Memory is read from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

LOAD_TIMEOUT_MS = 30_000


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
RERUN_SEEN_MS = 10_000
RUN_ENDED_JS = """
(before) => window.__nstRunsEnded > before &&
  document.querySelector('[data-testid="stApp"]').getAttribute("data-test-script-state") === "notRunning"
"""


def rerun_and_wait(page: Page, action: Callable[[], None], timeout: int = LOAD_TIMEOUT_MS) -> None:
    """Do ``action`` (which must trigger a rerun) and wait until that rerun has finished."""
    page.evaluate(RUN_COUNTER_JS)
    before = page.evaluate("window.__nstRunsEnded")
    action()
    try:
        page.wait_for_function(RUN_ENDED_JS, arg=before, timeout=RERUN_SEEN_MS)
    except PlaywrightTimeoutError:
        # The frontend can merge the rerun into one already under way, so no separate
        # "running" -> "notRunning" edge is seen; an idle, connected app is then as good.
        wait_for_app_idle(page, timeout)
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


def image_with_caption(page: Page, caption: str | re.Pattern) -> Locator:
    return page.locator('[data-testid="stImageContainer"]').filter(
        has=page.locator('[data-testid="stImageCaption"]', has_text=caption)
    )


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` in MB (``field="VmHWM"``: its peak so far)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


class PeakRss:
    """Samples a process's RSS on a background thread while in a ``with`` block; ``peak`` in MB."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):  # the process has ended
                return
            if self._done.wait(self.interval):
                return

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mb(self.pid))


# Journal of one run as this page shows it, from the moment it is installed (just before "Start"):
# every queue place shown ("you are number N in the queue"; 0 for "next"), when the progress bar
# first appeared and when the run's "Result" image replaced its panel (ms after install). Survives
# reruns; read with ``run_journal``.
RUN_JOURNAL_JS = """
() => {
  const log = { t0: performance.now(), places: [], queued: null, running: null, result: null };
  window.__nstRun = log;
  const live = (el) => !el.closest('[data-stale="true"]');
  const seen = (sel, test) => [...document.querySelectorAll(sel)].some((el) => live(el) && test(el));
  const snap = () => {
    const t = Math.round(performance.now() - log.t0);
    document.querySelectorAll('[data-testid="stAlert"]').forEach((el) => {
      const m = live(el) && el.innerText.match(/you are (?:number (\\d+) in the queue|next)/);
      if (!m) return;
      const place = m[1] ? Number(m[1]) : 0;
      if (!log.places.includes(place)) log.places.push(place);
      if (log.queued === null) log.queued = t;
    });
    const progress = document.querySelector('[data-testid="stProgress"]');  // stale ones too: mid-redraw
    const queue = [...document.querySelectorAll('[data-testid="stAlert"]')].some((el) => /in the queue|you are next/.test(el.innerText));
    if (log.running === null && progress && live(progress)) log.running = t;
    // A result counts once this run was seen queued or running and its panel is gone (the previous
    // run's "Result" stays on the page until then).
    if (log.result === null && (log.running !== null || log.queued !== null) && !progress && !queue &&
        seen('[data-testid="stImageCaption"]', (el) => el.innerText.trim() === "Result")) log.result = t;
  };
  new MutationObserver(snap).observe(document.body, { subtree: true, childList: true, characterData: true });
  snap();
}
"""


def prepare(page: Page, url: str, content: Path, style: Path, steps: int, size: int) -> None:
    """Open the app, upload both images and set Steps and Output size."""
    page.goto(url, wait_until="domcontentloaded")
    wait_for_app_idle(page)
    wait_visible(page, page.get_by_role("button", name="Start", exact=True), '"Start" button', LOAD_TIMEOUT_MS)
    upload(page, "Content image", content)
    upload(page, "Style images", style)
    set_number(page, "Steps", steps)
    set_number(page, "Output size (px)", size)


def start_run(page: Page) -> None:
    """Install the run journal and press Start."""
    page.evaluate(RUN_JOURNAL_JS)
    page.get_by_role("button", name="Start", exact=True).click()


def run_journal(page: Page) -> dict:
    """The journal of the run started by :func:`start_run` (times in ms after Start, or None)."""
    return page.evaluate("window.__nstRun")


def wait_results(pages: list[Page], timeout_s: float) -> None:
    """Poll every page until each shows its "Result" image; fail on an app error or at the deadline."""
    deadline = time.monotonic() + timeout_s
    waiting = list(pages)
    while waiting:
        for page in list(waiting):
            check_no_app_error(page)
            if run_journal(page)["result"] is not None:
                waiting.remove(page)
        if waiting and time.monotonic() > deadline:
            pytest.fail(f"{len(waiting)} of {len(pages)} pages showed no result after {timeout_s:.0f} s",
                        pytrace=False)
        time.sleep(0.2)
