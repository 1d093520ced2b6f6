"""Hostile text in a real browser (issue 21, "Text is text"): a recipe whose unknown keys are Markdown
images, links, HTML, LaTeX, emoji and colour directives, and uploads with such file names. Chromium
must fetch nothing the text names, draw no link, picture or formatting from it, and show it as
written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import make_content, make_style, rerun_and_wait, uploader, wait_for_app_idle
from nst import Settings
from nst.io.recipe import make_recipe
from studio.services.literal import JOINER
from tests.hostile import HOSTILE_FILE_NAMES, HOSTILE_TEXT, LEAK

pytestmark = pytest.mark.slow  # real server and browser
FIRST_LOAD_MS = 120_000  # the server's first script run imports torch: slow on a busy 2-core machine
# What Markdown would have made of the text: none may appear inside the text's boxes.
FORMATTING = "a, img, strong, em, code, del, h1, h2, li, blockquote, table, .katex, [data-testid=stIconMaterial]"


def read(text: str) -> str:
    """Text as a person reads it: joiners are invisible, and HTML collapses runs of white space."""
    return " ".join(text.replace(JOINER, "").split())


def test_hostile_names_and_keys_are_shown_as_text(page: Page, app_url: str, tmp_path: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app_url, wait_until="domcontentloaded")
    wait_for_app_idle(page, FIRST_LOAD_MS)
    content = make_content(tmp_path / HOSTILE_FILE_NAMES[0])
    style = make_style(tmp_path / HOSTILE_FILE_NAMES[1])
    for label, path in (("Content image", content), ("Style images", style)):  # the uploader cuts long names
        rerun_and_wait(page, lambda: uploader(page, label).locator('input[type="file"]').set_input_files(str(path)))

    recipe = make_recipe(Settings())
    recipe["settings"].update({text: 1 for text in HOSTILE_TEXT.values()})
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    uploader(page, "Load recipe").locator('input[type="file"]').set_input_files(str(path))
    alert = page.get_by_test_id("stAlertContentError").filter(has_text="unknown setting")
    expect(alert).to_be_visible()
    wait_for_app_idle(page)
    page.wait_for_timeout(1000)  # time for any picture the page asked for to be requested

    assert not [url for url in requests if LEAK in url or "evil" in url], requests
    assert page.locator(f'a[href*="{LEAK}"], img[src*="{LEAK}"], a[href*="evil"]').count() == 0
    shown = read(alert.inner_text())
    for key in HOSTILE_TEXT.values():
        assert read(repr(key)) in shown, key
    captions = page.get_by_test_id("stImageCaption").filter(has_text="BOLD")
    expect(captions).to_have_count(1)
    assert read(captions.inner_text()) == read(f"{content.name} · 96×64")
    style_caption = page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(rf"www{JOINER}?\.{LEAK}"))
    assert read(style_caption.first.inner_text()) == read(style.name)

    for box in (alert, captions, style_caption):
        assert box.locator(FORMATTING).count() == 0, box.first.inner_html()[:2000]
