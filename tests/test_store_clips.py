"""Clip results in the studio's store: a store made before clips were gets the column, a clip moves
in with its sidecar recipe, listings tell pictures from clips, and deleting or bounding removes the
clip's files too."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from PIL import Image

from nst.core.settings import Settings
from nst.io.video_files import sidecar_path
from studio.services.store import Store

pytestmark = pytest.mark.unit

OLD_SCHEMA = """
CREATE TABLE results (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, number INTEGER NOT NULL,
    created REAL NOT NULL, settings TEXT NOT NULL, meta TEXT NOT NULL, bytes INTEGER NOT NULL,
    starred INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, width INTEGER, height INTEGER,
    thumb BLOB);
"""


def picture(store: Store, owner: str) -> int:
    pixels = np.zeros((16, 16, 3), np.uint8)
    return store.add(owner, Settings(), pixels, Image.new("RGB", (16, 16)), {}, {"format": "nst-recipe/1"}).number


def clip_result(store: Store, owner: str, folder) -> int:
    clip = folder / "made.mp4"
    clip.write_bytes(b"\x00" * 1000)  # the store keeps the file as it is: it never decodes it
    sidecar_path(clip).write_text(json.dumps({"format": "nst-recipe/1"}))
    stored = store.add(owner, Settings(method="fast"), np.zeros((16, 16, 3), np.uint8), Image.new("RGB", (16, 16)),
                       {"status": "done"}, {"format": "nst-recipe/1"}, clip=clip)
    assert not clip.exists() and not sidecar_path(clip).exists()  # moved in, not copied
    return stored.number


def test_a_store_made_before_clips_gets_the_column_and_keeps_its_pictures(tmp_path):
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO results (owner, number, created, settings, meta, bytes) VALUES"
                   " ('alice', 1, 0, ?, '{}', 0)", (json.dumps(Settings().to_dict()),))
    store = Store(tmp_path, limit_bytes=10**9)
    [old] = store.list("alice")
    assert old.clip is None and old.clip_path is None
    assert [r.number for r in store.list("alice", "image")] == [1] and store.list("alice", "clip") == []


def test_a_clip_moves_in_with_its_recipe_and_is_listed_as_a_clip(tmp_path):
    store = Store(tmp_path / "store", limit_bytes=10**9)
    first = picture(store, "alice")
    number = clip_result(store, "alice", tmp_path)
    [clip] = store.list("alice", "clip")
    assert clip.number == number and clip.clip_path.exists() and sidecar_path(clip.clip_path).exists()
    assert clip.clip_path.suffix == ".mp4" and clip.image().shape == (16, 16, 3)  # its poster frame
    assert [r.number for r in store.list("alice", "image")] == [first]
    assert [r.number for r in store.list("alice")] == [first, number]
    assert store.total_bytes() >= 1000  # the clip counts against the store's bound


def test_deleting_a_clip_removes_its_files(tmp_path):
    store = Store(tmp_path / "store", limit_bytes=10**9)
    number = clip_result(store, "alice", tmp_path)
    path = store.get("alice", number).clip_path
    store.delete("alice", number)  # undoable until the next delete
    assert path.exists()
    picture(store, "alice")
    store.delete("alice", 2)
    assert not path.exists() and not sidecar_path(path).exists()
