"""The store keeps each result's size and thumbnail with it, and a store made before it did is
brought up to date in place: its results list with no size and no thumbnail until one is kept."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PIL import Image

from nst.core.settings import Settings
from studio.services.store import Store

pytestmark = pytest.mark.unit


def _add(store: Store, owner: str, thumb: Image.Image | None) -> int:
    pixels = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    return store.add(owner, Settings(), pixels, Image.new("RGB", (80, 48)), {}, {"format": "nst-recipe/1"},
                     thumb=thumb).number


def test_a_result_is_stored_with_its_size_and_thumbnail_and_counted(tmp_path):
    store = Store(tmp_path, limit_bytes=10**9)
    number = _add(store, "alice", Image.new("RGB", (40, 24), "red"))
    [stored] = store.list("alice")
    assert stored.size == (80, 48)
    thumb = store.thumbnail("alice", number)
    assert thumb.size == (40, 24) and thumb.getpixel((20, 12))[0] > 240  # a JPEG: red within rounding
    assert store.thumbnail("bob", number) is None  # another browser's is not reachable
    files = sum(p.stat().st_size for p in store.images.iterdir())
    assert store.total_bytes() > files  # the thumbnail counts towards the store's bound


def test_a_store_made_before_sizes_and_thumbnails_gets_them_kept_on_first_view(tmp_path):
    old = Store(tmp_path, limit_bytes=10**9)
    number = _add(old, "alice", thumb=None)
    with sqlite3.connect(tmp_path / "results.sqlite") as db:  # the store as an earlier version made it
        for column in ("width", "height", "thumb"):
            db.execute(f"ALTER TABLE results DROP COLUMN {column}")
    store = Store(tmp_path, limit_bytes=10**9)  # the server restarted on the new version
    [stored] = store.list("alice")
    assert stored.size is None and store.thumbnail("alice", number) is None
    before = store.total_bytes()
    store.keep_thumbnail("alice", number, Image.new("RGB", (40, 24)), (80, 48))
    assert store.list("alice")[0].size == (80, 48) and store.thumbnail("alice", number).size == (40, 24)
    assert store.total_bytes() > before
