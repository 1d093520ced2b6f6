"""Shared fixtures (tiny generated images, never files from ../shared; a fresh studio app; one
Chromium), and the check that every collected test has exactly one tier (tests/support/tiers.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.synthetic import encode, gradient
from tests.support.apptest import start_app, stop_app
from tests.support.tiers import pytest_collection_modifyitems  # noqa: F401  (a hook: fails a run with an untiered test)


# Every Ray process the tests start (and every address Ray resolves) stays on 127.0.0.1: Ray reads
# this when it is imported, and the test's subprocesses and servers inherit it (tests/support/raycluster.py).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


def pytest_configure(config: pytest.Config) -> None:
    """Results the studio stores during the tests go to a fresh folder, not the user's cache (the
    browser tests' servers inherit it)."""
    os.environ.setdefault("NST_DATA_DIR", tempfile.mkdtemp(prefix="nst-test-data-"))


@pytest.fixture
def content_image() -> Image.Image:
    return gradient(64, 48, seed=1)


@pytest.fixture
def style_image() -> Image.Image:
    return gradient(48, 48, seed=2)


@pytest.fixture(autouse=True)
def main_module_kept():
    """Put ``__main__`` back after each test: Streamlit's script runner (AppTest) installs the page
    it ran as ``__main__``, and a process spawned later (bench.harness.in_child) would run that page
    again as its own main module before its task."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def png_of():
    """Encode a generated picture: ``png_of(width, height, seed, fmt="PNG") -> bytes``."""
    return lambda width=64, height=48, seed=0, fmt="PNG": encode(gradient(width, height, seed), fmt)


@pytest.fixture
def studio_app():
    """The Stylize page, run once; its job (if any) is stopped afterwards."""
    app = start_app()
    yield app
    stop_app(app)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium; the only reason the browser tests skip is its absence."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One headless Chromium for the session (Playwright's sync API allows one per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def downloads(monkeypatch):
    """The data callables of the app's deferred download buttons by file name, newest kept: AppTest
    drops its media files after each run, so a test calls them as a click would."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    found: dict = {}
    register = MediaFileManager.add_deferred

    def keep(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data_callable
        return register(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)
    return found
