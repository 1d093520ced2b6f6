"""The gallery reads each result's thumbnail and size from the store, not from its full-size image
(AppTest, a real store under NST_DATA_DIR).

Every file the process opens is seen through a Python audit hook (the ``open`` event, raised by
``open``, ``Path.read_bytes`` and PIL's ``Image.open`` alike), so what is counted is what the page
really reads from disk. A result saved before thumbnails were stored gets its thumbnail on its first
view, and keeps it.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.services.store import shared_store
from tests.support.apptest import captions, new_owner, start_app, store_results

pytestmark = pytest.mark.app

N = 5  # results in the gallery; the Compare section shows the newest two at full size
_opened: list[list[str]] = []  # while a test watches: the paths opened since


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened and isinstance(args[0], (str, Path)):
        _opened[-1].append(str(args[0]))


sys.addaudithook(_audit)  # a hook cannot be removed: it records only while a test watches


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """The paths this process opens during the test."""
    _opened.append([])
    yield _opened[-1]
    _opened.clear()


def _full_size_opened(paths: list[str], results: list) -> list[int]:
    """The numbers of the results whose full-size image was opened, in order, repeats kept."""
    by_path = {str(result.stored.image_path): result.number for result in results}
    return [by_path[path] for path in paths if path in by_path]


def _gallery(owner: str) -> AppTest:
    """The gallery page of ``owner``, not run yet."""
    return start_app(_browser_token=owner).switch_page("pages/gallery.py")


def test_the_gallery_opens_no_full_size_image_for_thumbnails_or_titles(content_image, opened):
    owner = new_owner()
    results = store_results(owner, content_image.resize((256, 192)), count=N)
    at = _gallery(owner)
    opened.clear()
    at.run()
    assert not at.exception, at.exception
    # Every thumbnail shows, newest first.
    assert [c for c in captions(at) if re.fullmatch(r"#\d+", c)] == [f"#{n}" for n in range(N, 0, -1)]
    # Only the two results the Compare section shows are read at full size: #4 and #5.
    assert set(_full_size_opened(opened, results)) == {N - 1, N}, _full_size_opened(opened, results)


def test_a_result_stored_without_a_thumbnail_gets_one_on_its_first_view_and_keeps_it(content_image, opened):
    owner = new_owner()
    results = store_results(owner, content_image.resize((256, 192)), count=N)
    with sqlite3.connect(shared_store().folder / "results.sqlite") as db:  # as a store made before thumbnails
        db.execute("UPDATE results SET thumb = NULL, width = NULL, height = NULL WHERE owner = ?", (owner,))
    at = _gallery(owner)
    opened.clear()
    at.run()
    assert not at.exception, at.exception
    assert [c for c in captions(at) if re.fullmatch(r"#\d+", c)] == [f"#{n}" for n in range(N, 0, -1)]
    assert set(_full_size_opened(opened, results)) == set(range(1, N + 1))  # made once, from the full image
    assert all(shared_store().thumbnail(owner, n) is not None for n in range(1, N + 1))
    assert [s.size for s in shared_store().list(owner)] == [(256, 192)] * N
    opened.clear()
    at.run()
    # Kept: the next view reads the thumbnails, and the two compared are still decoded in this session.
    assert _full_size_opened(opened, results) == []
