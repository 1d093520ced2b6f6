"""Longer load run of the studio in a headless browser; prints Markdown tables.

    python -m bench.load [--runs 20] [--sessions 4] [--size 128] [--steps 30] [--images DIR]
                         [--fast-runs 6] [--fast-size 512] [--phases first,consecutive,concurrent,stop,fast]
    python -m bench.load --ray [--runs 20] [--size 128] [--steps 30] [--tries 5]   (see bench/rayload.py)

Starts ``streamlit run app.py`` on a free 127.0.0.1 port (``tests/support/browser.py``, the e2e tests'
launcher), then:

0. the fresh server's first run with the studio's defaults at the fast size: Start to the first
   live image, and any queue place shown (it always runs first);
1. N consecutive runs through one browser session: wall seconds and server RSS after each run;
2. K sessions pressing Start at once: queue places seen, wait (Start -> running) and run
   (running -> result) seconds per session, and the server's peak RSS during the phase;
3. server RSS before/after pressing Stop mid-run, and before/after closing a tab mid-run;
4. the fast method: seconds from pressing Start to its result on screen, at the fast size (512 px
   by default; the first run also loads the networks, so it is reported apart).

Images: ``DIR/tubingen.jpg`` and ``DIR/starry_night.jpg`` when ``--images DIR`` holds them,
else the small generated ones from ``tests/support/browser.py``. All traffic goes to 127.0.0.1;
every wait is bounded; the server is terminated at the end whatever happens.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.support.browser import (CHROMIUM, CHROMIUM_ARGS, HEARTBEAT_TIMEOUT_S, PeakRss, check_no_app_error, launch_server,
                           make_content, make_style, new_page, prepare, rerun_and_wait, rss_mb, run_journal,
                           start_run, wait_preview, wait_results)
from studio.session.state import KEY, default_values
from studio.views.inputs import METHOD_LABELS

CONTENT_NAME, STYLE_NAME = "tubingen.jpg", "starry_night.jpg"
LONG_STEPS = 5000  # minutes of work: only Stop or a closed tab ends it in time
MID_RUN_S = 2.0  # how long a long run goes before it is stopped or its tab closed
SETTLE_S = 2.0  # pause before reading RSS after a run has ended


def _images(images: Path | None, tmp: Path) -> tuple[Path, Path, str]:
    if images is not None:
        content, style = images / CONTENT_NAME, images / STYLE_NAME
        if content.is_file() and style.is_file():
            return content, style, f"{content} + {style}"
        print(f"note: {CONTENT_NAME}/{STYLE_NAME} not both in {images}; using generated images", file=sys.stderr)
    return make_content(tmp / "content.png"), make_style(tmp / "style.png"), "generated (helpers)"


def _wait_running(page: Page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while run_journal(page)["running"] is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the run did not start within {timeout_s:.0f} s")
        time.sleep(0.2)


def _secs(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}"


def consecutive(browser, url: str, pid: int, content: Path, style: Path, args) -> list[str]:
    page = new_page(browser)
    try:
        prepare(page, url, content, style, args.steps, args.size)
        idle = rss_mb(pid)
        rows: list[tuple[int, float, float]] = []
        with PeakRss(pid) as peak:
            for number in range(1, args.runs + 1):
                began = time.monotonic()
                start_run(page)
                wait_results([page], args.run_timeout)
                rows.append((number, time.monotonic() - began, rss_mb(pid)))
                print(f"  run {number}/{args.runs}: {rows[-1][1]:.1f} s, {rows[-1][2]:.0f} MB", file=sys.stderr)
    finally:
        page.context.close()
    out = [f"## 1. {args.runs} consecutive runs, one session ({args.steps} steps, {args.size} px)", "",
           "| # | wall s | RSS MB |", "|---:|---:|---:|"]
    out += [f"| {n} | {wall:.1f} | {rss:.0f} |" for n, wall, rss in rows]
    walls = [wall for _, wall, _ in rows]
    out += ["", f"- RSS idle before run 1: {idle:.0f} MB; after run 1: {rows[0][2]:.0f} MB"]
    if len(rows) >= 2:
        growth = rows[-1][2] - rows[1][2]
        out.append(f"- RSS growth from run 2 to run {len(rows)}: {growth:+.0f} MB "
                   f"({rows[1][2]:.0f} -> {rows[-1][2]:.0f} MB, {growth / max(1, len(rows) - 2):+.1f} MB/run)")
    out += [f"- peak RSS during the runs: {peak.peak:.0f} MB",
            f"- wall s: min {min(walls):.1f}, median {sorted(walls)[len(walls) // 2]:.1f}, max {max(walls):.1f}", ""]
    return out


def concurrent(browser, url: str, pid: int, content: Path, style: Path, args) -> list[str]:
    pages = [new_page(browser) for _ in range(args.sessions)]
    try:
        for page in pages:
            prepare(page, url, content, style, args.steps, args.size)
        before = rss_mb(pid)
        began = time.monotonic()
        with PeakRss(pid) as peak:
            for page in pages:
                start_run(page)
            wait_results(pages, args.run_timeout * args.sessions)
        total = time.monotonic() - began
        journals = [run_journal(page) for page in pages]
    finally:
        for page in pages:
            page.context.close()
    out = [f"## 2. {args.sessions} sessions press Start at once", "",
           "| session | queue places seen | wait s (Start->running) | run s (running->result) |",
           "|---:|---|---:|---:|"]
    for number, log in enumerate(journals, 1):
        places = ", ".join("next" if p == 0 else str(p) for p in log["places"]) or "none"
        run_ms = None if log["running"] is None or log["result"] is None else log["result"] - log["running"]
        out.append(f"| {number} | {places} | {_secs(log['running'])} | {_secs(run_ms)} |")
    out += ["", f"- all {args.sessions} results after {total:.1f} s",
            f"- server RSS before {before:.0f} MB, peak {peak.peak:.0f} MB, after {rss_mb(pid):.0f} MB", ""]
    return out


def stop_and_close(browser, url: str, pid: int, content: Path, style: Path, args) -> list[str]:
    out = [f"## 3. Stop and close mid-run ({LONG_STEPS} steps, {args.size} px)", ""]
    page = new_page(browser)
    try:
        prepare(page, url, content, style, LONG_STEPS, args.size)
        idle = rss_mb(pid)
        start_run(page)
        _wait_running(page, args.run_timeout)
        page.wait_for_timeout(MID_RUN_S * 1000)
        running = rss_mb(pid)
        pressed = time.monotonic()
        page.get_by_role("button", name="Stop", exact=True).click()
        wait_results([page], args.run_timeout)
        stopped_after = time.monotonic() - pressed
        time.sleep(SETTLE_S)
        out.append(f"- Stop: RSS idle {idle:.0f} MB, mid-run {running:.0f} MB, "
                   f"{SETTLE_S:.0f} s after the stopped result {rss_mb(pid):.0f} MB "
                   f"(result shown {stopped_after:.1f} s after Stop)")
    finally:
        page.context.close()

    closing, probe = new_page(browser), new_page(browser)
    try:
        prepare(closing, url, content, style, LONG_STEPS, args.size)
        prepare(probe, url, content, style, args.steps, args.size)
        idle = rss_mb(pid)
        start_run(closing)
        _wait_running(closing, args.run_timeout)
        closing.wait_for_timeout(MID_RUN_S * 1000)
        running = rss_mb(pid)
        closing.context.close()
        closed_at = time.monotonic()
        start_run(probe)  # finishes only once the closed tab's run has let the device go
        wait_results([probe], args.run_timeout + HEARTBEAT_TIMEOUT_S + 30)
        freed_after = time.monotonic() - closed_at
        time.sleep(SETTLE_S)
        out.append(f"- Close tab: RSS idle {idle:.0f} MB, mid-run {running:.0f} MB, "
                   f"after the close and a short run in another session {rss_mb(pid):.0f} MB "
                   f"(that run's result {freed_after:.1f} s after the close; heartbeat timeout "
                   f"{HEARTBEAT_TIMEOUT_S:.0f} s)")
    finally:
        if not closing.is_closed():
            closing.context.close()
        probe.context.close()
    out.append("")
    return out


# A fast run shows no progress panel (its result comes in the redraw that Start triggers), so the
# run journal's "running" never happens: this one waits for the caption of the next result number
# and its image, timed in the page (performance.now()) from just before the click.
FAST_JOURNAL_JS = """
(number) => {
  const log = { t0: performance.now(), result: null };
  window.__nstFast = log;
  const live = (el) => !el.closest('[data-stale="true"]');
  const seen = (sel, test) => [...document.querySelectorAll(sel)].some((el) => live(el) && test(el));
  const snap = () => {
    const titled = (el) => el.innerText.startsWith(`Result #${number}`);
    if (log.result === null && seen('[data-testid="stMarkdownContainer"]', titled)
        && seen('[data-testid="stImageCaption"]', (el) => el.innerText.trim() === "Result")) {
      log.result = Math.round(performance.now() - log.t0);
    }
  };
  new MutationObserver(snap).observe(document.body, { subtree: true, childList: true, characterData: true });
}
"""


def fast_latency(browser, url: str, pid: int, content: Path, style: Path, args) -> list[str]:
    """Start to the fast result on screen, ``args.fast_runs`` times in one session."""
    page = new_page(browser)
    times: list[float] = []
    try:
        prepare(page, url, content, style, args.steps, args.fast_size)
        rerun_and_wait(page, lambda: page.get_by_text(METHOD_LABELS["fast"]).click())
        for number in range(1, args.fast_runs + 1):
            page.evaluate(FAST_JOURNAL_JS, number)
            page.get_by_role("button", name="Start", exact=True).click()
            deadline = time.monotonic() + args.run_timeout
            while (ms := page.evaluate("window.__nstFast.result")) is None:
                check_no_app_error(page)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fast run {number} showed no result within {args.run_timeout:.0f} s")
                time.sleep(0.05)
            times.append(ms / 1000)
            print(f"  fast run {number}/{args.fast_runs}: {times[-1]:.2f} s", file=sys.stderr)
    finally:
        page.context.close()
    out = [f"## 4. Fast method, Start to result on screen ({args.fast_size} px, one session)", "",
           "| # | s |", "|---:|---:|", *(f"| {n} | {t:.2f} |" for n, t in enumerate(times, 1)), ""]
    warm = sorted(times[1:])
    out.append(f"- run 1 (loads the networks): {times[0]:.2f} s" + (
        f"; runs 2–{len(times)}: median {warm[len(warm) // 2]:.2f} s, max {warm[-1]:.2f} s"
        " (target ≤ 1 s at 512 px on the CPU, model loaded)" if warm else ""))
    return out + [""]


def first_run(browser, url: str, pid: int, content: Path, style: Path, args) -> list[str]:
    """A fresh server's first run with the studio's defaults at ``args.fast_size``: seconds from
    Start to the first live image, and any queue place shown (there is no other run). Stopped once
    the image is seen. Runs first, whatever the order of ``--phases``: only then is the server fresh."""
    page = new_page(browser)
    try:
        # Steps as a new form starts it: prepare() then leaves the field as it is.
        prepare(page, url, content, style, default_values()[KEY["steps"]], args.fast_size)
        start_run(page)
        journal = wait_preview(page, args.run_timeout)
        rerun_and_wait(page, lambda: page.get_by_role("button", name="Stop", exact=True).click())
    finally:
        page.context.close()
    print(f"  first live image after {journal['preview'] / 1000:.2f} s", file=sys.stderr)
    places = ", ".join(map(str, journal["places"])) or "none"
    return [f"## 0. A fresh server's first run ({args.fast_size} px, the studio's defaults)", "",
            "| Start to the progress bar s | Start to the first live image s | queue places shown |",
            "|---:|---:|---|",
            f"| {_secs(journal['running'])} | {_secs(journal['preview'])} | {places} |", "",
            "- goal: the first live image ≤ 3 s after Start, and no queue place (no other run is ahead)", ""]


PHASES = {"first": first_run, "consecutive": consecutive, "concurrent": concurrent, "stop": stop_and_close, "fast": fast_latency}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="consecutive runs in one session")
    parser.add_argument("--sessions", type=int, default=4, help="sessions pressing Start at once")
    parser.add_argument("--size", type=int, default=128, help="output size in px")
    parser.add_argument("--steps", type=int, default=30, help="steps per run")
    parser.add_argument("--images", type=Path, default=None, help=f"folder with {CONTENT_NAME} and {STYLE_NAME}")
    parser.add_argument("--fast-runs", type=int, default=6,
                        help="fast-method runs timed (the first loads the networks)")
    parser.add_argument("--fast-size", type=int, default=512, help="output size of the fast-method runs in px")
    parser.add_argument("--phases", type=lambda t: tuple(t.split(",")), default=tuple(PHASES),
                        help="which phases, comma-separated (default all: " + ",".join(PHASES) + ")")
    parser.add_argument("--run-timeout", type=float, default=180.0, help="seconds one run may take")
    parser.add_argument("--ray", action="store_true",
                        help="instead: runs per minute on a local Ray cluster of one and two worker nodes, and the"
                             " first preview through Ray against local (bench/rayload.py)")
    parser.add_argument("--tries", type=int, default=5, help="--ray: first-preview measurements per executor")
    args = parser.parse_args(argv)
    if min(args.runs, args.sessions, args.tries, args.fast_runs) < 1:
        parser.error("--runs, --sessions, --tries and --fast-runs must be at least 1")
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    if args.ray:
        from bench.rayload import main as ray_main  # late: it imports Ray (on loopback)

        return ray_main(args)

    with tempfile.TemporaryDirectory(prefix="nst-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        content, style, described = _images(args.images, tmp)
        log_path = tmp / "streamlit.log"
        lines = ["# NST studio load run", ""]
        try:
            with launch_server(log_path) as server, sync_playwright() as pw:
                pid = server.proc.pid
                lines += [f"- server {server.url} (pid {pid}), images: {described}",
                          f"- server RSS after start: {rss_mb(pid):.0f} MB", ""]
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for name in sorted(args.phases, key=lambda name: name != "first"):
                        phase = PHASES[name]
                        print(f"phase: {phase.__name__}", file=sys.stderr)
                        lines += phase(browser, server.url, pid, content, style, args)
                finally:
                    browser.close()
        except Exception as exc:  # includes tests.support.browser.BrowserCheckFailed
            print("\n".join(lines))
            print(f"\n**load run failed:** {exc}")
            try:
                print("\n--- server log (tail) ---\n" + log_path.read_text(errors="replace")[-3000:])
            except OSError:
                pass
            return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
