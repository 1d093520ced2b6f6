"""Fixtures for the browser end-to-end tests: a live Streamlit server and a headless Chromium.

The server launcher and page helpers live in :mod:`tests.support.browser` (``bench/load.py`` uses them
too); this file only turns them into fixtures (``chromium_path`` and ``browser`` are in
``tests/conftest.py``, shared with the cluster tests). Every test gets a fresh browser context.
Artifacts (server log, screenshots, downloads) go to ``tests/e2e/artifacts/`` or
``$NST_E2E_ARTIFACTS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Server, launch_server, new_page


def pytest_itemcollected(item: pytest.Item) -> None:
    """Every test under tests/e2e/ is of the `e2e` tier (tests/conftest.py checks each test has one):
    a new file here cannot forget it. Pytest asks this conftest only about the items under it."""
    item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("NST_E2E_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def app_server(chromium_path: str, artifacts_dir: Path) -> Iterator[Server]:
    """The app served for the whole session, with no run-length limit: tests keep long runs going to
    stop, reload or queue them, and the limit (``NST_MAX_RUN_MINUTES``) is priced from the step cost
    this machine measures, which a loaded CI machine inflates. The limit's own tests start their own
    servers (``tests/e2e/test_stop_progress.py``)."""
    with launch_server(artifacts_dir / "streamlit.log", env={"NST_MAX_RUN_MINUTES": "0"}) as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server: Server) -> str:
    return app_server.url


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
