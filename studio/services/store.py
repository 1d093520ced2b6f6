"""Where the studio keeps finished results: SQLite plus image (and clip) files under ``NST_DATA_DIR``.

Results survive a reload and a server restart. Each belongs to one browser (its ``owner``
token, see :mod:`studio.session.identity`) and is listed only to it. A result's size and thumbnail
are stored with it, so a listing never reads the full-size images. The uploads a browser's pages hold
are kept the same way (their original bytes, per uploader), so a reload finds them too; at most
``NST_KEPT_UPLOADS_MB`` (default 64) a browser. Disk use is bounded: past ``NST_DATA_LIMIT_MB``
(default 2048) the oldest results and kept uploads are deleted first, starred results last.
Nothing here imports Streamlit; every method is thread-safe (jobs save from their threads).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nst.io.images import load_image, png_bytes, to_array
from nst.io.video_files import sidecar_path
from nst.core.settings import Settings

ENV_DATA_DIR = "NST_DATA_DIR"
ENV_DATA_LIMIT = "NST_DATA_LIMIT_MB"
DEFAULT_LIMIT_MB = 2048
ENV_UPLOAD_LIMIT = "NST_KEPT_UPLOADS_MB"
DEFAULT_UPLOAD_LIMIT_MB = 64  # a photo and a few paintings at the uploader's 25 MB a file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    number INTEGER NOT NULL,
    created REAL NOT NULL,
    settings TEXT NOT NULL,
    meta TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    starred INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS results_owner ON results (owner, number);
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    slot TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads (owner, slot, position);
"""


_COLUMNS = "id, owner, number, created, settings, meta, bytes, starred, width, height, clip"  # what _stored unpacks
# Added since the first stores: a store made before a column came gets it, empty (NULL) in its rows.
_ADDED_COLUMNS = {"deleted": "INTEGER NOT NULL DEFAULT 0",  # Delete can be undone
                  "width": "INTEGER", "height": "INTEGER", "thumb": "BLOB",  # a listing reads no full image
                  "clip": "TEXT"}  # a clip's file name in the images folder; NULL: a picture
KINDS = {"image": " AND clip IS NULL", "clip": " AND clip IS NOT NULL", "all": ""}  # what list(kind=) keeps


@dataclass(frozen=True)
class Stored:
    """One stored result: its row, with the images read from disk on demand."""

    id: int
    owner: str
    number: int
    created: float
    settings: Settings
    meta: dict[str, Any]  # losses, rows, step, elapsed, stopped, names, scale…
    starred: bool
    folder: Path
    size: tuple[int, int] | None = None  # (width, height) of the image; None in a result stored before sizes were
    clip: str | None = None  # a clip result's file (its image is the poster frame); None: a picture

    @property
    def clip_path(self) -> Path | None:
        return None if self.clip is None else self.folder / self.clip

    @property
    def image_path(self) -> Path:
        return self.folder / f"{self.id}.png"

    @property
    def content_path(self) -> Path:
        return self.folder / f"{self.id}-content.jpg"

    def image(self) -> np.ndarray:
        return to_array(load_image(self.image_path))

    def content(self) -> Image.Image:
        return load_image(self.content_path)


class Store:
    """Results of every browser, in ``folder`` (created if missing)."""

    def __init__(self, folder: Path, limit_bytes: int,
                 upload_limit_bytes: int = DEFAULT_UPLOAD_LIMIT_MB * 2**20) -> None:
        self.folder, self.limit_bytes, self.upload_limit_bytes = Path(folder), limit_bytes, upload_limit_bytes
        self.images = self.folder / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self.uploads = self.folder / "uploads"
        self.uploads.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "results.sqlite", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        present = {column[1] for column in self._db.execute("PRAGMA table_info(results)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")
        self._db.commit()

    def add(self, owner: str, settings: Settings, image: np.ndarray, content: Image.Image,
            meta: dict[str, Any], recipe: dict[str, Any], thumb: Image.Image | None = None,
            clip: Path | None = None) -> Stored:
        """Save a result (the PNG with its ``recipe``, the content at the result's size, the image's
        size and its ``thumb``). A clip result: ``clip`` (moved here with its sidecar recipe, see
        nst.io.video_files.sidecar_path), ``image`` its poster frame and ``content`` the input's."""
        with self._lock:
            number = 1 + (self._db.execute("SELECT MAX(number) FROM results WHERE owner = ?",
                                           (owner,)).fetchone()[0] or 0)
            height, width = image.shape[:2]
            small = None if thumb is None else _jpeg(thumb)
            cursor = self._db.execute(
                "INSERT INTO results (owner, number, created, settings, meta, bytes, width, height, thumb)"
                " VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (owner, number, time.time(), json.dumps(settings.to_dict()), json.dumps(meta), width, height, small))
            row_id = int(cursor.lastrowid)
            png = png_bytes(image, {**recipe, "result": number})
            (self.images / f"{row_id}.png").write_bytes(png)
            content.convert("RGB").save(self.images / f"{row_id}-content.jpg", quality=90)
            size = len(png) + (self.images / f"{row_id}-content.jpg").stat().st_size + len(small or b"")
            if clip is not None:
                name = f"{row_id}{clip.suffix.lower()}"
                for source, kept in _with_sidecar(clip, self.images / name):
                    os.replace(source, kept)
                    size += kept.stat().st_size
                self._db.execute("UPDATE results SET clip = ? WHERE id = ?", (name, row_id))
            self._db.execute("UPDATE results SET bytes = ? WHERE id = ?", (size, row_id))
            self._db.commit()
            self._bound()
        return self.get(owner, number)  # type: ignore[return-value]

    def list(self, owner: str, kind: str = "all") -> list[Stored]:
        """This owner's results, oldest first: pictures (``kind="image"``), clips (``"clip"``) or both."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM results WHERE owner = ? AND NOT deleted{KINDS[kind]}"
                                    " ORDER BY number", (owner,)).fetchall()
        return [self._stored(row) for row in rows]

    def get(self, owner: str, number: int) -> Stored | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM results WHERE owner = ? AND number = ? AND NOT deleted",
                                   (owner, number)).fetchone()
        return None if row is None else self._stored(row)

    def thumbnail(self, owner: str, number: int) -> Image.Image | None:
        """The thumbnail stored with result ``number`` (None: stored before thumbnails were, or gone)."""
        with self._lock:
            row = self._db.execute("SELECT thumb FROM results WHERE owner = ? AND number = ?",
                                   (owner, number)).fetchone()
        return None if row is None or row[0] is None else Image.open(io.BytesIO(row[0])).convert("RGB")

    def keep_thumbnail(self, owner: str, number: int, thumb: Image.Image, size: tuple[int, int]) -> None:
        """Store the thumbnail and (width, height) of a result stored without them."""
        small = _jpeg(thumb)
        with self._lock:
            self._db.execute("UPDATE results SET thumb = ?, width = ?, height = ?, bytes = bytes + ?"
                             " WHERE owner = ? AND number = ? AND thumb IS NULL",
                             (small, size[0], size[1], len(small), owner, number))
            self._db.commit()

    def star(self, owner: str, number: int, starred: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE results SET starred = ? WHERE owner = ? AND number = ?",
                             (int(starred), owner, number))
            self._db.commit()

    def delete(self, owner: str, number: int) -> None:
        """Take a result out of its owner's list; :meth:`undelete` brings it back until the owner's
        next delete, which removes it for good."""
        with self._lock:
            for (row_id,) in self._db.execute("SELECT id FROM results WHERE owner = ? AND deleted",
                                              (owner,)).fetchall():
                self._remove(row_id)
            self._db.execute("UPDATE results SET deleted = 1 WHERE owner = ? AND number = ?", (owner, number))
            self._db.commit()

    def undelete(self, owner: str, number: int) -> bool:
        """Bring back the owner's last deleted result ``number``; False where it is gone for good."""
        with self._lock:
            cursor = self._db.execute("UPDATE results SET deleted = 0 WHERE owner = ? AND number = ? AND deleted",
                                      (owner, number))
            self._db.commit()
            return cursor.rowcount > 0

    def keep_uploads(self, owner: str, slot: str, files: list[tuple[str, bytes]]) -> bool:
        """Make ``files`` ((name, bytes), in order) what uploader ``slot`` keeps for ``owner``, in
        place of what it kept. False, keeping none of them, where the owner's kept uploads would pass
        ``upload_limit_bytes``."""
        with self._lock:
            for (row_id,) in self._db.execute("SELECT id FROM uploads WHERE owner = ? AND slot = ?",
                                              (owner, slot)).fetchall():
                self._remove_upload(row_id)
            others = int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM uploads WHERE owner = ?",
                                          (owner,)).fetchone()[0])
            fits = others + sum(len(data) for _, data in files) <= self.upload_limit_bytes
            for position, (name, data) in enumerate(files if fits else []):
                cursor = self._db.execute(
                    "INSERT INTO uploads (owner, slot, position, name, created, bytes) VALUES (?, ?, ?, ?, ?, ?)",
                    (owner, slot, position, name, time.time(), len(data)))
                (self.uploads / str(cursor.lastrowid)).write_bytes(data)
            self._db.commit()
            self._bound()
        return fits

    def kept_uploads(self, owner: str, slot: str) -> list[tuple[str, bytes]]:
        """What uploader ``slot`` keeps for ``owner``: (name, bytes) in order (a file the bound took, gone)."""
        with self._lock:
            rows = self._db.execute("SELECT id, name FROM uploads WHERE owner = ? AND slot = ? ORDER BY position",
                                    (owner, slot)).fetchall()
        found = []
        for row_id, name in rows:
            try:
                found.append((name, (self.uploads / str(row_id)).read_bytes()))
            except FileNotFoundError:
                continue
        return found

    def total_bytes(self) -> int:
        """Bytes of every result and kept upload, which NST_DATA_LIMIT_MB bounds."""
        with self._lock:
            return self._total()

    def _total(self) -> int:
        return int(self._db.execute("SELECT (SELECT COALESCE(SUM(bytes), 0) FROM results)"
                                    " + (SELECT COALESCE(SUM(bytes), 0) FROM uploads)").fetchone()[0])

    def _bound(self) -> None:
        """Delete the oldest results and kept uploads, unstarred results first, until the store fits
        its limit (lock held)."""
        total = self._total()
        for kind, row_id, size, _, _ in self._db.execute(
                "SELECT 'result', id, bytes, CASE WHEN deleted THEN -1 ELSE starred END, created FROM results"
                " UNION ALL SELECT 'upload', id, bytes, 0, created FROM uploads"
                " ORDER BY 4, 5, 2").fetchall():
            if total <= self.limit_bytes:
                break
            (self._remove if kind == "result" else self._remove_upload)(row_id)
            total -= size
        self._db.commit()

    def _remove_upload(self, row_id: int) -> None:
        self._db.execute("DELETE FROM uploads WHERE id = ?", (row_id,))
        (self.uploads / str(row_id)).unlink(missing_ok=True)

    def _remove(self, row_id: int) -> None:
        clip = self._db.execute("SELECT clip FROM results WHERE id = ?", (row_id,)).fetchone()
        self._db.execute("DELETE FROM results WHERE id = ?", (row_id,))
        for name in (f"{row_id}.png", f"{row_id}-content.jpg"):
            (self.images / name).unlink(missing_ok=True)
        if clip is not None and clip[0] is not None:
            for _, kept in _with_sidecar(self.images / clip[0], self.images / clip[0]):
                kept.unlink(missing_ok=True)

    def _stored(self, row: tuple) -> Stored:
        row_id, owner, number, created, settings, meta, _, starred, width, height, clip = row
        return Stored(row_id, owner, number, created, Settings.from_dict(json.loads(settings)), json.loads(meta),
                      bool(starred), self.images, None if width is None else (width, height), clip)


def _with_sidecar(clip: Path, kept: Path) -> list[tuple[Path, Path]]:
    """(where, where it is kept) for a clip and its sidecar recipe, where it has one."""
    pairs = [(clip, kept)]
    if sidecar_path(clip).exists() or clip == kept:
        pairs.append((sidecar_path(clip), sidecar_path(kept)))
    return pairs


def _jpeg(thumb: Image.Image) -> bytes:
    """A thumbnail's bytes as stored: a JPEG (a few KB at 256 px)."""
    buffer = io.BytesIO()
    thumb.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def data_dir() -> Path:
    """``NST_DATA_DIR``, else the user's cache directory (XDG_CACHE_HOME or ~/.cache)/nst-studio."""
    configured = os.environ.get(ENV_DATA_DIR)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nst-studio"


def _limit_bytes(variable: str = ENV_DATA_LIMIT, default_mb: int = DEFAULT_LIMIT_MB) -> int:
    raw = os.environ.get(variable, str(default_mb))
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = default_mb
    return int(max(megabytes, 1) * 2**20)


@lru_cache(maxsize=1)
def shared_store() -> Store:
    """This process's store (the environment at first use)."""
    return Store(data_dir(), _limit_bytes(), _limit_bytes(ENV_UPLOAD_LIMIT, DEFAULT_UPLOAD_LIMIT_MB))
