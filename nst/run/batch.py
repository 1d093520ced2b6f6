"""Batch runs for the CLI: every image of a folder through one executor, with one progress line.

Runs go through the executor seam, so the same loop runs them one after another in this process
or fans them out over a Ray cluster (``jobs`` runs in flight at once). Each result is written as
soon as its run ends; a run that fails is reported and the others go on.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

from PIL import Image

from nst.core.errors import ImageError, NSTError
from nst.run.executor import Executor
from nst.io.images import load_image
from nst.plan.preflight import preflight
from nst.records import StepRecord
from nst.core.settings import Settings
from nst.run.terminal import StatusLine

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")

# (final record, the content image, its file, where the result goes) -> writes the result there
Save = Callable[[StepRecord, Image.Image, Path, Path], None]


def content_files(folder: Path) -> list[Path]:
    """The images of ``folder`` (by suffix, not its subfolders), sorted by name; ImageError if none."""
    if not folder.is_dir():
        raise ImageError(f"{folder} is not a folder (--batch takes a folder of content images).")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    return files


def output_names(files: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """``OUT_DIR/<stem>.png`` per content file; ``<stem>_<suffix>.png`` where two files share a stem."""
    stems = Counter(p.stem for p in files)
    return {p: out_dir / (f"{p.stem}_{p.suffix[1:].lower()}.png" if stems[p.stem] > 1 else f"{p.stem}.png")
            for p in files}


@dataclass(frozen=True)
class Outcome:
    """How one content image went: its output, or the error that stopped it."""

    content: Path
    output: Path | None
    error: str | None
    seconds: float


class BatchProgress(StatusLine):
    """One line for the whole batch (a bar on a terminal), plus a line per image as it ends."""

    def __init__(self, stream: TextIO, total: int, steps: int, quiet: bool) -> None:
        super().__init__(stream, quiet)
        self.total, self.steps = total, steps
        self._lock = threading.Lock()
        self._step: dict[Path, int] = {}
        self.done = self.failed = 0
        self._began = time.monotonic()

    def step(self, content: Path, record: StepRecord) -> None:
        with self._lock:
            self._step[content] = record.step
            self._draw()

    def ended(self, outcome: Outcome) -> None:
        with self._lock:
            self._step[outcome.content] = self.steps
            if outcome.error is None:
                self.done += 1
                what = f"-> {outcome.output} ({outcome.seconds:.1f} s)"
            else:
                self.failed += 1
                what = f"failed: {outcome.error}"
            self.say(f"[{self.done + self.failed}/{self.total}] {outcome.content.name} {what}")
            self._draw()

    def status(self) -> str:
        """'3/10 images (1 failed), 2 running, 1234/3000 steps, 45 s, ETA 60 s'."""
        done_steps = sum(self._step.values())
        all_steps = self.total * self.steps
        elapsed = time.monotonic() - self._began
        eta = elapsed * (all_steps - done_steps) / done_steps if done_steps else math.nan
        running = len(self._step) - self.done - self.failed
        failed = f" ({self.failed} failed)" if self.failed else ""
        return (f"{self.done + self.failed}/{self.total} images{failed}, {running} running, {done_steps}/{all_steps}"
                f" steps, {elapsed:.0f} s, ETA {'?' if math.isnan(eta) else f'{eta:.0f} s'}")

    def _draw(self) -> None:
        self.bar(sum(self._step.values()) / max(1, self.total * self.steps), self.status())


def run_batch(files: Sequence[Path], outputs: dict[Path, Path], styles: Sequence[Image.Image],
              style_names: Sequence[str], settings: Settings, executor: Executor, save: Save,
              progress: BatchProgress, jobs: int = 1) -> list[Outcome]:
    """Stylise every file with ``jobs`` runs in flight, each saved by ``save`` as it ends."""
    interrupted = threading.Event()

    def one(path: Path) -> Outcome:
        began = time.monotonic()
        try:
            content = load_image(path)
            # The engine asks too (planning the memory where it runs); here the messages name the files.
            preflight(settings, content.size, [s.size for s in styles], labels=[path.name, *style_names],
                      plan=False).raise_problems()
            record = None
            for record in executor.submit(content, styles, settings, cancelled=interrupted.is_set).records():
                progress.step(path, record)
            if interrupted.is_set() or record is None or record.image is None:
                return Outcome(path, None, "interrupted", time.monotonic() - began)
            save(record, content, path, outputs[path])
            outcome = Outcome(path, outputs[path], None, time.monotonic() - began)
        except Exception as exc:  # this image failed; the others go on
            message = str(exc) if isinstance(exc, (NSTError, OSError)) else f"{exc.__class__.__name__}: {exc}"
            outcome = Outcome(path, None, message, time.monotonic() - began)
        progress.ended(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="nst-batch")
    futures = [pool.submit(one, path) for path in files]
    try:
        return [future.result() for future in as_completed(futures)]
    except KeyboardInterrupt:
        interrupted.set()  # running runs stop within a step, queued ones leave the queue
        for future in futures:
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
        progress.close()


__all__ = ["BatchProgress", "IMAGE_SUFFIXES", "Outcome", "content_files", "output_names", "run_batch"]
