"""The store keeps a browser's uploads for a reload (bounded per browser and with the results), and
a deleted result can be brought back until the browser's next delete."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
import pytest

from studio.services.store import Store
from tests.support.apptest import new_owner, store_results

pytestmark = pytest.mark.unit


def test_uploads_are_kept_per_browser_and_slot_replaced_and_cleared(tmp_path: Path) -> None:
    store = Store(tmp_path, limit_bytes=10**9)
    me, other = new_owner(), new_owner()
    assert store.keep_uploads(me, "style_files", [("a.png", b"A" * 10), ("b.png", b"B" * 20)])
    assert store.keep_uploads(me, "content_file", [("photo.jpg", b"P" * 5)])
    again = Store(tmp_path, limit_bytes=10**9)  # a server restart, or a reload's new session
    assert again.kept_uploads(me, "style_files") == [("a.png", b"A" * 10), ("b.png", b"B" * 20)]
    assert again.kept_uploads(other, "style_files") == []  # another browser sees none of them
    assert store.keep_uploads(me, "style_files", [("c.png", b"C")])  # a new choice replaces the old
    assert store.kept_uploads(me, "style_files") == [("c.png", b"C")]
    assert store.keep_uploads(me, "content_file", [])  # Clear
    assert store.kept_uploads(me, "content_file") == []
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["4"]  # only c.png's file is left


def test_a_browser_keeps_at_most_its_upload_limit(tmp_path: Path) -> None:
    store = Store(tmp_path, limit_bytes=10**9, upload_limit_bytes=100)
    me = new_owner()
    assert store.keep_uploads(me, "content_file", [("photo.png", b"P" * 60)])
    assert not store.keep_uploads(me, "style_files", [("big.png", b"B" * 41)])  # 101 bytes in all
    assert store.kept_uploads(me, "style_files") == []
    assert store.keep_uploads(new_owner(), "style_files", [("big.png", b"B" * 41)])  # per browser


def test_kept_uploads_count_towards_the_store_s_limit_oldest_first(tmp_path: Path) -> None:
    store = Store(tmp_path, limit_bytes=100)
    first, second = new_owner(), new_owner()
    store.keep_uploads(first, "content_file", [("old.png", b"O" * 60)])
    store.keep_uploads(second, "content_file", [("new.png", b"N" * 60)])
    assert store.kept_uploads(first, "content_file") == []  # the oldest went
    assert store.kept_uploads(second, "content_file") == [("new.png", b"N" * 60)]
    assert store.total_bytes() == 60


def test_a_delete_can_be_undone_until_the_next_one(tmp_path: Path, monkeypatch,
                                                   content_image: Image.Image) -> None:
    store = Store(tmp_path, limit_bytes=10**9)
    monkeypatch.setattr("studio.session.results.shared_store", lambda: store)  # where store_results saves
    owner = new_owner()
    store_results(owner, content_image, count=2)
    store.delete(owner, 1)
    assert store.get(owner, 1) is None and [s.number for s in store.list(owner)] == [2]
    assert store.undelete(owner, 1)
    assert [s.number for s in store.list(owner)] == [1, 2]
    assert store.get(owner, 1).image_path.is_file()
    store.delete(owner, 1)
    store.delete(owner, 2)  # the next delete removes the first for good
    assert not store.undelete(owner, 1)
    assert not (tmp_path / "images" / "1.png").exists()
    assert store.undelete(owner, 2) and [s.number for s in store.list(owner)] == [2]
