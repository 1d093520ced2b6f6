"""A fresh server's first run starts at once: it never waits behind the server's own warm-up (the
step-cost measurement), and its page never shows a queue place, since no other run is ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import (launch_server, make_content, make_style, new_page, rerun_and_wait, set_number, start_run,
                           upload, wait_for_app_idle, wait_preview)

pytestmark = pytest.mark.slow  # its own server and a real browser

RUN_TIMEOUT_S = 120.0


def test_the_first_run_on_a_fresh_server_is_not_queued(browser, tmp_path: Path, artifacts_dir: Path) -> None:
    # Its own server: the session's shared one has measured its step cost long ago.
    with launch_server(artifacts_dir / "streamlit-first-run.log") as server:
        page = new_page(browser)
        try:
            page.goto(server.url, wait_until="domcontentloaded")
            wait_for_app_idle(page)  # the first page view starts the server's warm-up
            upload(page, "Content image", make_content(tmp_path / "content.png"))
            upload(page, "Style images", make_style(tmp_path / "style.png"))
            set_number(page, "Output size (px)", 128)
            start_run(page)  # the studio's defaults otherwise
            journal = wait_preview(page, RUN_TIMEOUT_S)
            rerun_and_wait(page, lambda: page.get_by_role("button", name="Stop", exact=True).click())
        finally:
            page.context.close()
    print(f"\nfirst run: progress at {journal['running']} ms, first live image at {journal['preview']} ms")
    assert journal["places"] == [], f"the only run was shown a queue place: {journal}"
