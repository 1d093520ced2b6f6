"""Fixtures for the browser end-to-end test: a live Streamlit server and a headless Chromium.

Modelled on Streamlit's own ``e2e_playwright`` harness: the app runs as a real
``streamlit run`` subprocess on a free loopback port, readiness is detected by polling
``/_stcore/health``, and every test gets a fresh browser context. Artifacts (server log,
screenshots, downloads) go to ``tests/e2e/artifacts/`` or ``$NST_E2E_ARTIFACTS``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"<could not read {path}: {exc}>"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("NST_E2E_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium; the only reason this suite skips is its absence."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"browser e2e test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run app.py``: its URL and process (``proc.pid`` for memory readings)."""

    url: str
    proc: subprocess.Popen


@contextmanager
def launch_server(log_path: Path) -> Iterator[Server]:
    """Run ``streamlit run app.py`` on a free loopback port until the block ends (also used by bench/)."""
    app = REPO_ROOT / "app.py"
    assert app.is_file(), f"{app} does not exist; nothing to test"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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


@pytest.fixture(scope="session")
def app_server(chromium_path: str, artifacts_dir: Path) -> Iterator[Server]:
    """The app served for the whole session."""
    with launch_server(artifacts_dir / "streamlit.log") as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server: Server) -> str:
    return app_server.url


def _wait_healthy(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last_error = "no response yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
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
    pytest.fail(
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


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser):
    """A page in a fresh browser context (its own cookies, so its own Streamlit session)."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 2000})
    context.set_default_timeout(30_000)
    return context.new_page()


def _close(pages: list, artifacts_dir: Path, request: pytest.FixtureRequest) -> None:
    """Close the pages' contexts; on failure, keep a screenshot and the HTML of each open page first."""
    report = getattr(request.node, "rep_call", None)
    for index, page in enumerate(pages):
        if report is not None and report.failed and not page.is_closed():
            name = request.node.name + (f"-{index}" if len(pages) > 1 else "")
            try:
                page.screenshot(path=str(artifacts_dir / f"{name}-failure.png"), full_page=True)
                (artifacts_dir / f"{name}-failure.html").write_text(page.content())
            except Exception:  # the page may be gone; the failure itself matters more
                pass
        page.context.close()


@pytest.fixture
def page(browser, app_url: str, artifacts_dir: Path, request: pytest.FixtureRequest):
    """A fresh context and page per test; on failure, keep a screenshot and the page HTML."""
    page = new_page(browser)
    try:
        yield page
    finally:
        _close([page], artifacts_dir, request)


@pytest.fixture
def open_page(browser, app_url: str, artifacts_dir: Path, request: pytest.FixtureRequest):
    """``open_page()`` -> another page in its own context (a separate session); all closed after the test."""
    pages: list = []

    def make():
        pages.append(new_page(browser))
        return pages[-1]

    try:
        yield make
    finally:
        _close(pages, artifacts_dir, request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
