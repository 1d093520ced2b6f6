"""Where the studio keeps finished results: SQLite plus image files under ``NST_DATA_DIR``.

Results survive a reload and a server restart. Each belongs to one browser (its ``owner``
token, see :mod:`studio.identity`) and is listed only to it. Disk use is bounded: past
``NST_DATA_LIMIT_MB`` (default 2048) the oldest results are deleted first, starred ones last.
Nothing here imports Streamlit; every method is thread-safe (jobs save from their threads).
"""

from __future__ import annotations

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

from nst.images import load_image, png_bytes, to_array
from nst.settings import Settings

ENV_DATA_DIR = "NST_DATA_DIR"
ENV_DATA_LIMIT = "NST_DATA_LIMIT_MB"
DEFAULT_LIMIT_MB = 2048

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
"""


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

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder, self.limit_bytes = Path(folder), limit_bytes
        self.images = self.folder / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "results.sqlite", check_same_thread=False)
        self._db.executescript(_SCHEMA)

    def add(self, owner: str, settings: Settings, image: np.ndarray, content: Image.Image,
            meta: dict[str, Any], recipe: dict[str, Any]) -> Stored:
        """Save a result (the PNG with its ``recipe`` and the content at the result's size)."""
        with self._lock:
            number = 1 + (self._db.execute("SELECT MAX(number) FROM results WHERE owner = ?",
                                           (owner,)).fetchone()[0] or 0)
            cursor = self._db.execute(
                "INSERT INTO results (owner, number, created, settings, meta, bytes) VALUES (?, ?, ?, ?, ?, 0)",
                (owner, number, time.time(), json.dumps(settings.to_dict()), json.dumps(meta)))
            row_id = int(cursor.lastrowid)
            png = png_bytes(image, {**recipe, "result": number})
            (self.images / f"{row_id}.png").write_bytes(png)
            content.convert("RGB").save(self.images / f"{row_id}-content.jpg", quality=90)
            size = len(png) + (self.images / f"{row_id}-content.jpg").stat().st_size
            self._db.execute("UPDATE results SET bytes = ? WHERE id = ?", (size, row_id))
            self._db.commit()
            self._bound()
        return self.get(owner, number)  # type: ignore[return-value]

    def list(self, owner: str) -> list[Stored]:
        """This owner's results, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM results WHERE owner = ? ORDER BY number", (owner,)).fetchall()
        return [self._stored(row) for row in rows]

    def get(self, owner: str, number: int) -> Stored | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM results WHERE owner = ? AND number = ?", (owner, number)).fetchone()
        return None if row is None else self._stored(row)

    def star(self, owner: str, number: int, starred: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE results SET starred = ? WHERE owner = ? AND number = ?",
                             (int(starred), owner, number))
            self._db.commit()

    def delete(self, owner: str, number: int) -> None:
        with self._lock:
            row = self._db.execute("SELECT id FROM results WHERE owner = ? AND number = ?", (owner, number)).fetchone()
            if row is not None:
                self._remove(row[0])
                self._db.commit()

    def total_bytes(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM results").fetchone()[0])

    def _bound(self) -> None:
        """Delete the oldest results, unstarred first, until the store fits its limit (lock held)."""
        total = int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM results").fetchone()[0])
        for row_id, size in self._db.execute(
                "SELECT id, bytes FROM results ORDER BY starred, created, id").fetchall():
            if total <= self.limit_bytes:
                break
            self._remove(row_id)
            total -= size
        self._db.commit()

    def _remove(self, row_id: int) -> None:
        self._db.execute("DELETE FROM results WHERE id = ?", (row_id,))
        for name in (f"{row_id}.png", f"{row_id}-content.jpg"):
            (self.images / name).unlink(missing_ok=True)

    def _stored(self, row: tuple) -> Stored:
        row_id, owner, number, created, settings, meta, _, starred = row
        return Stored(row_id, owner, number, created, Settings.from_dict(json.loads(settings)), json.loads(meta),
                      bool(starred), self.images)


def data_dir() -> Path:
    """``NST_DATA_DIR``, else the user's cache directory (XDG_CACHE_HOME or ~/.cache)/nst-studio."""
    configured = os.environ.get(ENV_DATA_DIR)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nst-studio"


def _limit_bytes() -> int:
    raw = os.environ.get(ENV_DATA_LIMIT, str(DEFAULT_LIMIT_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = DEFAULT_LIMIT_MB
    return int(max(megabytes, 1) * 2**20)


@lru_cache(maxsize=1)
def shared_store() -> Store:
    """This process's store (the environment at first use)."""
    return Store(data_dir(), _limit_bytes())
