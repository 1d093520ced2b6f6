"""The studio in a headless browser, for the e2e tests and ``bench/load.py``.

``launch_server`` runs the app as a real ``streamlit run`` subprocess on a free loopback port
and waits on ``/_stcore/health`` (modelled on Streamlit's own ``e2e_playwright`` harness);
``new_page`` opens a page in a fresh browser context. Page helpers follow the same harness (wait
for the script run an action triggers, fail fast with the app's own error text). Memory is read
from ``/proc/<pid>/status``. Plain module, no pytest: a failed check raises
:class:`BrowserCheckFailed`, an ``AssertionError``, so pytest reports it as a test failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.synthetic import save, scene, stripes
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HEALTH_TIMEOUT_S = 60.0
LOG_TAIL_CHARS = 4000
HEARTBEAT_TIMEOUT_S = 3.0
LOAD_TIMEOUT_MS = 60_000  # a fresh server's first page imports torch and the app: 30-75 s on a loaded 2-core machine


class BrowserCheckFailed(AssertionError):
    """A check on the server or the page failed (the app showed an error, something never appeared)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"<could not read {path}: {exc}>"


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run app.py``: its URL and process (``proc.pid`` for memory readings)."""

    url: str
    proc: subprocess.Popen


@contextmanager
def launch_server(log_path: Path, env: Mapping[str, str] | None = None,
                  address: str | None = "127.0.0.1") -> Iterator[Server]:
    """Run ``streamlit run app.py`` on a free loopback port until the block ends; ``env`` adds to
    (or overrides) this process's environment, e.g. ``NST_RAY_ADDRESS`` for a cluster's web node.
    ``address=None`` gives no ``--server.address``: the project's config decides, as README's start
    command does."""
    app = REPO_ROOT / "app.py"
    assert app.is_file(), f"{app} does not exist; nothing to test"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        *(("--server.address", address) if address is not None else ()),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    # One intra-op thread: the test checks the UI flow, not speed, and on a small shared CI box
    # torch's default (one thread per core) collapses under contention (measured on 2 busy
    # cores: 40 steps at 64 px took 4 s with 1 thread, 42-74 s with 2). Override via the env.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", env["OMP_NUM_THREADS"])
    # A closed tab's run ends this long after its last heartbeat (live sessions renew it).
    env.setdefault("NST_HEARTBEAT_TIMEOUT", str(HEARTBEAT_TIMEOUT_S))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_healthy(proc, url, log_path)
            yield Server(url, proc)
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last_error = "no response yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrowserCheckFailed(
                f"streamlit exited with code {proc.returncode} before becoming healthy.\n"
                f"--- {log_path} (tail) ---\n{_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                body = resp.read().decode(errors="replace").strip()
            if body == "ok":
                return
            last_error = f"health said {body!r}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.25)
    raise BrowserCheckFailed(
        f"streamlit at {url} not healthy after {HEALTH_TIMEOUT_S:.0f} s ({last_error}).\n"
        f"--- {log_path} (tail) ---\n{_tail(log_path)}"
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def new_page(browser, width: int = 1280, height: int = 2000):
    """A page in a fresh browser context (its own cookies, so its own Streamlit session)."""
    context = browser.new_context(accept_downloads=True, viewport={"width": width, "height": height})
    context.set_default_timeout(30_000)
    return context.new_page()


def make_content(path: Path) -> Path:
    """A 96x64 scene (tests.support.synthetic): enough structure for a content loss."""
    return save(scene(96, 64), path)


def make_style(path: Path) -> Path:
    """64x64 colour stripes (tests.support.synthetic)."""
    return save(stripes(64), path)


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
        raise BrowserCheckFailed("the app shows an error:\n" + "\n---\n".join(errors)[:4000])


def wait_visible(page: Page, locator: Locator, what: str, timeout_ms: int) -> None:
    """Poll for ``locator`` (re-queried each time: reruns replace elements) or an app error."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        check_no_app_error(page)
        if locator.filter(visible=True).count():
            return
        if time.monotonic() > deadline:
            raise BrowserCheckFailed(f"no {what} after {timeout_ms / 1000:.0f} s")
        page.wait_for_timeout(200)


def press(page: Page, name: str) -> None:
    """Click the button called ``name`` and wait for the rerun it triggers."""
    rerun_and_wait(page, lambda: page.get_by_role("button", name=name, exact=True).click())


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


def download_button(page: Page, label: str) -> Locator:
    """The visible download button ``label`` (one with ``help`` has a hidden copy for sizing)."""
    return (page.locator('[data-testid="stDownloadButton"]').get_by_role("button", name=label, exact=True)
            .filter(visible=True))


def download(page: Page, label: str, save_to: Path) -> Path:
    """Click the download button ``label``, save the file to ``save_to`` and return that path."""
    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as info:
        download_button(page, label).click()
    if info.value.failure() is not None:
        raise BrowserCheckFailed(f"download {label!r} failed: {info.value.failure()}")
    info.value.save_as(str(save_to))
    return save_to


def slider(page: Page, label: str) -> Locator:
    """The st.slider or st.select_slider labelled ``label``: its thumb is ``get_by_role("slider")``,
    the value it shows ``get_by_test_id("stSliderThumbValue")``."""
    box = page.locator('[data-testid="stSlider"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))
    expect(box).to_have_count(1)
    return box


def move_slider(page: Page, label: str, key: str, times: int) -> None:
    """Press ``key`` (ArrowLeft, ArrowRight, Home, End) ``times`` on a slider's thumb, as a person
    would, and wait for the rerun the new value triggers."""
    thumb = slider(page, label).get_by_role("slider")
    thumb.focus()
    rerun_and_wait(page, lambda: [thumb.press(key) for _ in range(times)])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` in MB (``field="VmHWM"``: its peak so far)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


class PeakRss:
    """Samples a process's RSS on a background thread while in a ``with`` block; ``peak`` in MB
    (``read``: how a sample is read, e.g. a process tree's in bench/server_rss.py)."""

    def __init__(self, pid: int, interval: float = 0.1, read: Callable[[int], float] = rss_mb) -> None:
        self.pid, self.interval, self.read = pid, interval, read
        self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.read(self.pid))
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
        self.peak = max(self.peak, self.read(self.pid))


# Journal of one run as this page shows it, from the moment it is installed (just before "Start"):
# every queue place shown ("you are number N in the queue"), when the progress bar first appeared,
# when its first live image ("Step N of M") appeared, and when the run's "Result" image replaced its
# panel (ms after install). Survives reruns; read with ``run_journal``.
RUN_JOURNAL_JS = """
() => {
  const log = { t0: performance.now(), places: [], queued: null, running: null, preview: null, result: null };
  window.__nstRun = log;
  const live = (el) => !el.closest('[data-stale="true"]');
  const seen = (sel, test) => [...document.querySelectorAll(sel)].some((el) => live(el) && test(el));
  const snap = () => {
    const t = Math.round(performance.now() - log.t0);
    document.querySelectorAll('[data-testid="stAlert"]').forEach((el) => {
      const m = live(el) && el.innerText.match(/you are number (\\d+) in the queue/);
      if (!m) return;
      const place = Number(m[1]);
      if (!log.places.includes(place)) log.places.push(place);
      if (log.queued === null) log.queued = t;
    });
    const progress = document.querySelector('[data-testid="stProgress"]');  // stale ones too: mid-redraw
    const queue = [...document.querySelectorAll('[data-testid="stAlert"]')].some((el) => /in the queue|Starting/.test(el.innerText));
    if (log.running === null && progress && live(progress)) log.running = t;
    if (log.preview === null && seen('[data-testid="stImageCaption"]', (el) => /^Step \\d+ of \\d+$/.test(el.innerText.trim()))) {
      log.preview = t;
    }
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
    """Open the app, set Steps and Output size, then upload both images (in that order: with both
    images and the default settings, a server with a run limit may already refuse the run)."""
    page.goto(url, wait_until="domcontentloaded")
    wait_for_app_idle(page)
    wait_visible(page, page.get_by_role("button", name="Start", exact=True), '"Start" button', LOAD_TIMEOUT_MS)
    set_number(page, "Steps", steps)
    set_number(page, "Output size (px)", size)
    upload(page, "Content image", content)
    upload(page, "Style images", style)


def start_run(page: Page) -> None:
    """Install the run journal and press Start."""
    page.evaluate(RUN_JOURNAL_JS)
    page.get_by_role("button", name="Start", exact=True).click()


def run_journal(page: Page) -> dict:
    """The journal of the run started by :func:`start_run` (times in ms after Start, or None)."""
    return page.evaluate("window.__nstRun")


def wait_preview(page: Page, timeout_s: float) -> dict:
    """Poll until the run started by :func:`start_run` shows its first live image; its journal.
    Fails on an app error or at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (journal := run_journal(page))["preview"] is None:
        check_no_app_error(page)
        if time.monotonic() > deadline:
            raise BrowserCheckFailed(f"the run showed no live image within {timeout_s:.0f} s: {journal}")
        time.sleep(0.05)
    return journal


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
            raise BrowserCheckFailed(f"{len(waiting)} of {len(pages)} pages showed no result"
                                     f" after {timeout_s:.0f} s")
        time.sleep(0.2)
