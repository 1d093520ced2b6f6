"""Stop at 4096 px in the studio, in Chromium: how long from pressing Stop to "Stopping…" and to
"Stopped", and whether the page looked alive before (elapsed moving, the pass in progress, an ETA).

    .venv/bin/python -m bench.stop_time [--content tubingen.jpg] [--style starry_night.jpg]
        [--size 4096] [--steps 60] [--stop-at "scale 4 of"] [--wait-s 900]

A real studio server (``NST_MAX_RUN_MINUTES=0``: the run is longer than the default limit; both
cores for torch) runs the studio's defaults at ``--size``; Stop is pressed once the page's "Now:"
line names ``--stop-at`` (the largest scale by default), or after ``--wait-s`` seconds. Prints a
table of what the page showed, then the times. CPU timings are disturbed by anything else running.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.pair import DEFAULT_CONTENT, DEFAULT_STYLE
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, launch_server, new_page, prepare, wait_for_app_idle

PROGRESS_JS = """() => {
  const bar = document.querySelector('[data-testid="stProgress"]');
  const now = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map((el) => el.innerText).find((t) => t.startsWith("Now: "));
  return [bar ? bar.innerText : "", now || ""];
}"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stop_time", description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=str(DEFAULT_CONTENT))
    parser.add_argument("--style", default=str(DEFAULT_STYLE))
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--stop-at", default="scale 4 of", help='a piece of the "Now:" line to stop at')
    parser.add_argument("--wait-s", type=float, default=900.0, help="stop after this long whatever the line says")
    parser.add_argument("--log", default="/tmp/stop_time_streamlit.log")
    args = parser.parse_args()
    env = {"NST_MAX_RUN_MINUTES": "0", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    with launch_server(Path(args.log), env=env) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = new_page(browser)
        page.goto(server.url, wait_until="domcontentloaded")  # the first view loads the networks: minutes
        wait_for_app_idle(page, 300_000)  # when the machine is busy
        prepare(page, server.url, Path(args.content), Path(args.style), args.steps, args.size)
        page.get_by_role("button", name="Start", exact=True).click()
        began = time.monotonic()
        seen: list[tuple[float, str, str]] = []
        while True:
            bar, now = page.evaluate(PROGRESS_JS)
            if bar and (not seen or (bar, now) != seen[-1][1:]):
                seen.append((time.monotonic() - began, bar, now))
            if (args.stop_at in now) or time.monotonic() - began > args.wait_s:
                break
            page.wait_for_timeout(500)
        page.wait_for_timeout(3000)  # into the pass, not at its first layer
        bar, now = page.evaluate(PROGRESS_JS)
        pressed = time.monotonic()
        page.get_by_role("button", name="Stop", exact=True).click()
        page.get_by_role("button", name="Stopping…", exact=True).wait_for(timeout=60_000)
        stopping = time.monotonic() - pressed
        note = page.get_by_text(re.compile(r"Stopped at step \d+ of \d+"))
        note.first.wait_for(timeout=600_000)
        stopped = time.monotonic() - pressed
        text = note.first.inner_text()
        # Then the result saved (a 16-bit PNG with its recipe at the output size) and drawn.
        page.get_by_text("the image so far is kept").first.wait_for(timeout=600_000)
        kept = time.monotonic() - pressed
        wait_for_app_idle(page)
        browser.close()
    print("\n| s after Start | progress line | Now: |\n|---:|---|---|")
    for at, line, phase in seen[:: max(1, len(seen) // 40)]:
        print(f"| {at:.1f} | {line} | {phase} |")
    print(f"\nStop pressed at {pressed - began:.1f} s, during: {now!r} ({bar!r})")
    print("\n| size | Stop → 'Stopping…' | Stop → 'Stopped' | Stop → result saved and shown | first 'Stopped' line |")
    print("|---|---:|---:|---:|---|")
    print(f"| {args.size} px | {stopping:.2f} s | {stopped:.2f} s | {kept:.2f} s | {text} |")


if __name__ == "__main__":
    main()
