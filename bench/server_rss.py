"""The studio server's resident memory over budgeted runs, as a user meets it; prints a Markdown table.

    python -m bench.server_rss [--runs 2048@1.5G,4096@3G,4096@2G,2048@auto] [--steps 8]
                               [--images /work/shared/images] [--threads 2] [--run-timeout 1200]

Each run gets a fresh ``streamlit run app.py`` on a free 127.0.0.1 port (``tests/support/browser.py``, the
e2e tests' launcher) and a headless Chromium page: upload the content and style, set Steps and
Output size, pick the Memory budget under Advanced (``auto``: leave it on Auto), read the plan's
figure under the size ("Memory ≈ … of the … budget", or the refusal), then press Start. The server's
process tree's RSS (VmRSS summed over it and its children, from /proc) is sampled every 50 ms from
before Start until SETTLE_S after the "Result" image shows (the result is saved to the store then).

A run is written ``[fast:]SIZE@BUDGET``: ``fast:`` picks the Fast method instead of the studio's
default (Optimise from the fast start); the studio shows the Memory budget only under Optimise, so
a fast run takes ``auto``. On the CPU the studio's budget bounds the whole server
process, so "within" is the peak against the budget; "rise" is the peak less the RSS before Start,
the issue's wording (the rise within the budget). On Auto the budget is what the plan shows.

Images: ``tubingen.jpg`` and ``starry_night.jpg`` from ``--images`` (else the small generated ones
from ``tests/support/browser.py``). Every wait is bounded; each server is terminated after its run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import (CHROMIUM, CHROMIUM_ARGS, BrowserCheckFailed, PeakRss, check_no_app_error, launch_server,
                           new_page, prepare, rerun_and_wait, run_journal, start_run, wait_for_app_idle)
from bench.load import FAST_JOURNAL_JS, _images
from nst.core.settings import format_bytes, parse_bytes
from studio.views.inputs import METHOD_LABELS

SETTLE_S = 3.0  # sampling goes on this long after the result shows: the job saves it to the store then
SAMPLE_S = 0.05
FIRST_LOAD_MS = 300_000
OPEN_TRIES = 5
PLAN = re.compile(r"Memory ≈ ([\d.]+[KMG]?)B of the ([\d.]+[KMG]?)B budget(?:.*?up to ([\d.]+[KMG]?)B)?")
REFUSED = re.compile(r"needs at least ([\d.]+[KMG]?) of memory")


@dataclass(frozen=True)
class Spec:
    """One run: method ("gatys" or "fast"), output size, budget in bytes (None: Auto)."""

    method: str
    size: int
    budget: int | None

    @classmethod
    def parse(cls, text: str) -> "Spec":
        method, _, rest = text.rpartition(":")
        size, _, budget = rest.partition("@")
        return cls(method or "gatys", int(size), None if budget in ("", "auto") else parse_bytes(budget))

    @property
    def label(self) -> str:
        return f"{'fast ' if self.method == 'fast' else ''}{self.size} px"


def tree_rss(pid: int) -> int:
    """VmRSS in bytes of ``pid`` and every process descended from it (0 for those gone meanwhile)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def tree_rss_mb(pid: int) -> float:
    """:func:`tree_rss` in MB, as :class:`tests.support.browser.PeakRss` reads it."""
    return tree_rss(pid) / 2**20


def choose_budget(page: Page, budget: int | None) -> str:
    """Open Advanced and pick ``budget`` in the Memory budget box (None: Auto, the default); the
    refusal the page then shows under the size ("" where it shows none)."""
    if budget is None:
        return ""
    page.get_by_text("Advanced", exact=True).click()
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Memory budget", exact=True))
    expect(box).to_have_count(1)
    label = f"{format_bytes(budget)}B"
    field = box.get_by_role("combobox")
    option = page.get_by_role("option").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    for _ in range(OPEN_TRIES):  # a rerun of the page (a background timing ending) can close the list
        wait_for_app_idle(page)
        field.click()
        try:
            expect(option).to_have_count(1, timeout=3_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    else:
        shown = page.get_by_role("option").all_inner_texts()
        raise BrowserCheckFailed(f"no Memory budget option {label} among {shown}")

    def pick() -> None:  # the list may show only some options: typing the label brings it into view
        try:
            option.click(timeout=5_000)
        except PlaywrightTimeoutError:
            field.fill(label)
            option.click()

    try:
        rerun_and_wait(page, pick)
    except BrowserCheckFailed as exc:  # the plan's refusal is an error box: the outcome, not a failure
        if not REFUSED.search(str(exc)):
            raise
        return str(exc).split("\n", 1)[1]
    return ""


def plan_note(page: Page) -> tuple[str, str, str]:
    """(estimate, budget, refusal) as the page shows them under the size: the plan's caption, or the
    error naming the least memory the run needs ("" where absent)."""
    body = page.locator("body").inner_text()
    if found := PLAN.search(body):
        estimate = found.group(1) + "B" + (f" (up to {found.group(3)}B)" if found.group(3) else "")
        return estimate, found.group(2), ""
    refused = REFUSED.search(body)
    return "", "", refused.group(0) if refused else ""


def wait_result(page: Page, timeout_s: float) -> str:
    """Poll until the run shows its "Result" ("" then) or an error box (its text); fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while run_journal(page)["result"] is None and page.evaluate("window.__nstFast.result") is None:
        errors = page.locator('[data-testid="stAlert"]').filter(has_text=re.compile("memory|failed|Stopped"))
        if errors.count():
            return errors.first.inner_text()
        check_no_app_error(page)
        if time.monotonic() > deadline:
            raise BrowserCheckFailed(f"no result within {timeout_s:.0f} s: {run_journal(page)}")
        time.sleep(0.2)
    return ""


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def measure(browser, spec: Spec, content: Path, style: Path, args, tmp: Path) -> list[str]:
    """One row of the table: a fresh server, one run of ``spec`` through a page."""
    env = {"OMP_NUM_THREADS": str(args.threads), "NST_DATA_DIR": str(tmp / f"data-{spec.size}")}
    with launch_server(tmp / "streamlit.log", env=env) as server:
        pid = server.proc.pid
        page = new_page(browser)
        try:
            page.goto(server.url, wait_until="domcontentloaded")  # the first script run imports torch:
            wait_for_app_idle(page, timeout=FIRST_LOAD_MS)  # slow on a busy machine
            prepare(page, server.url, content, style, args.steps, spec.size)
            _say("inputs set")
            if spec.method == "fast":
                rerun_and_wait(page, lambda: page.get_by_text(METHOD_LABELS["fast"]).click())
            refusal = choose_budget(page, spec.budget)
            estimate, shown_budget, _ = plan_note(page)
            if spec.budget is not None and not refusal and parse_bytes(shown_budget or "0") != spec.budget:
                raise BrowserCheckFailed(f"the page plans for {shown_budget or 'no'} budget, not {spec.budget}")
            _say(f"plan: {estimate or '—'} of {shown_budget or '—'} {refusal}")
            time.sleep(1.0)
            before = tree_rss(pid)
            began, outcome = time.monotonic(), ""
            with PeakRss(pid, SAMPLE_S, tree_rss_mb) as sampler:
                if not refusal:  # refused before Start: nothing to press
                    page.evaluate(FAST_JOURNAL_JS, 1)  # a fast run shows no progress: its result #1 instead
                    start_run(page)
                    outcome = wait_result(page, args.run_timeout)
                    _say(f"ended after {time.monotonic() - began:.0f} s {outcome[:80]}")
                    time.sleep(SETTLE_S)
                seconds = time.monotonic() - began
        finally:
            page.context.close()
    budget = spec.budget if spec.budget is not None else (parse_bytes(shown_budget) if shown_budget else None)
    peak = int(sampler.peak * 2**20)
    rise = peak - before
    within = "—" if budget is None else ("yes" if peak <= budget else "**no**")
    rise_ok = "—" if budget is None else ("yes" if rise <= budget else "**no**")
    what = f"refused before Start: {refusal}" if refusal else "done" if not outcome else outcome.splitlines()[0][:80]
    return [f"| {spec.label} | {'Auto' if spec.budget is None else format_bytes(spec.budget) + 'B'}"
            f" ({format_bytes(budget) + 'B' if budget else '?'}) | {before / 2**30:.2f} | {peak / 2**30:.2f}"
            f" | {rise / 2**30:.2f} | {estimate or '—'} | {within} | {rise_ok}"
            f" | {seconds:.0f} | {what} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_rss", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[4:]))
    parser.add_argument("--runs", type=lambda t: [Spec.parse(x) for x in t.split(",")],
                        default="2048@1.5G,4096@3G,4096@2G,2048@auto",
                        help="comma-separated [fast:]SIZE@BUDGET (BUDGET one of the studio's choices, or auto)")
    parser.add_argument("--steps", type=int, default=8, help="Steps of each run (its peak comes at the top scale)")
    parser.add_argument("--images", type=Path, default=None, help="folder with tubingen.jpg and starry_night.jpg")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="the server's OMP_NUM_THREADS")
    parser.add_argument("--run-timeout", type=float, default=1200.0, help="seconds one run may take")
    args = parser.parse_args(argv)
    lines = ["| run | budget (whole process) | RSS before GB | peak RSS GB | rise GB | plan's estimate"
             " | peak ≤ budget | rise ≤ budget | s | outcome |", "|---|---|---:|---:|---:|---:|---|---|---:|---|"]
    with tempfile.TemporaryDirectory(prefix="nst-rss-") as tmp_dir, sync_playwright() as pw:
        tmp = Path(tmp_dir)
        content, style, described = _images(args.images, tmp)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for spec in args.runs:
                _say(f"run: {spec}")
                try:
                    lines += measure(browser, spec, content, style, args, tmp)
                except Exception as exc:  # includes BrowserCheckFailed: the row says so, the rest still run
                    lines.append(f"| {spec.label} | {spec.budget} | | | | | | | | failed: {str(exc)[:200]!r} |")
                    print((tmp / "streamlit.log").read_text(errors="replace")[-2000:], file=sys.stderr)
        finally:
            browser.close()
    print(f"- images: {described}; {args.steps} steps; server OMP_NUM_THREADS={args.threads}\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
