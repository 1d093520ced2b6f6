"""Time the Gallery page's render (AppTest) with each result's thumbnail stored, against the same
results stored without one (a store made before thumbnails were: every full-size image is decoded
to make them, as every render did before).

    .venv/bin/python bench/gallery_render.py --results 12 --side 1024 --repeats 3

Prints one row per case: the median and fastest render in seconds, and how many full-size result
files the render opened (counted by a Python audit hook on ``open``). Results go to a fresh
temporary NST_DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["NST_DATA_DIR"] = tempfile.mkdtemp(prefix="nst-bench-gallery-")

from studio.services.store import shared_store  # noqa: E402  (after NST_DATA_DIR is set)
from tests.support.apptest import new_owner, start_app, store_results  # noqa: E402
from tests.support.synthetic import scene  # noqa: E402

_opened: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, Path)):
        _opened.append(str(args[0]))


def _render(owner: str, full_size: set[str]) -> tuple[float, int]:
    """Seconds of one gallery render of a fresh session, and the full-size files it opened."""
    at = start_app(_browser_token=owner).switch_page("pages/gallery.py")
    _opened.clear()
    start = time.perf_counter()
    at.run(timeout=600)
    seconds = time.perf_counter() - start
    assert not at.exception, at.exception
    return seconds, sum(path in full_size for path in _opened)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gallery_render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=12)
    parser.add_argument("--side", type=int, default=1024, help="the results' long side in px")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.addaudithook(_audit)
    photo = scene(args.side, args.side * 3 // 4)
    rows = []
    for case in ("thumbnails stored", "stored without thumbnails"):
        times, opens = [], []
        for _ in range(args.repeats):
            owner = new_owner()
            saved = store_results(owner, photo, count=args.results)
            if case != "thumbnails stored":
                with sqlite3.connect(shared_store().folder / "results.sqlite") as db:
                    db.execute("UPDATE results SET thumb = NULL, width = NULL, height = NULL WHERE owner = ?",
                               (owner,))
            seconds, opened = _render(owner, {str(r.stored.image_path) for r in saved})
            times.append(seconds)
            opens.append(opened)
        rows.append((case, statistics.median(times), min(times), max(opens)))
    print(f"Gallery render, {args.results} results of {args.side} px, {args.repeats} fresh sessions each")
    print("| case | median s | fastest s | full-size files opened |\n|---|---|---|---|")
    for case, median, fastest, opened in rows:
        print(f"| {case} | {median:.2f} | {fastest:.2f} | {opened} |")


if __name__ == "__main__":
    main()
