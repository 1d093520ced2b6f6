"""Memory of the studio's runs, in this process: many runs stay flat, Stop and abandonment free a job.

Runs go through :mod:`nst.jobs` exactly as the app starts them (``studio.runs.start``: a
:class:`~nst.jobs.Job` on the process-wide ``LIMITER`` with the shared model and a keepalive).
"""

from __future__ import annotations

import ctypes
import gc
import time
import weakref
from collections.abc import Callable

import pytest
import torch

from nst import Settings, load_model
from nst.jobs import CANCELLED, DONE, RUNNING, STOPPED, Job, Limiter, heartbeat_timeout_from_env
from tests.synthetic import content_image, style_image

TINY = Settings(size=64, steps=5, multiscale="off", device="cpu", preview_every=2)
LONG = TINY.replace(steps=5000)
RUNS = 20
MAX_GROWTH_MB = 100.0
END_S = 5.0  # a stopped or abandoned worker must be gone within this


@pytest.fixture(scope="module")
def model():
    return load_model("bundled")


def rss_mb() -> float:
    """This process's resident memory (VmRSS) after returning freed heap to the OS."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def live_tensors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if issubclass(type(obj), torch.Tensor))  # type(): no lazy __class__


def test_twenty_consecutive_runs_do_not_grow_memory(model) -> None:
    """RSS after run 20 is within MAX_GROWTH_MB of RSS after run 2 (run 1 warms caches)."""
    rss: dict[int, float] = {}
    for number in range(1, RUNS + 1):
        job = Job(content_image(), [style_image(48)], TINY, model=model,
                  keepalive=lambda: True).start()
        assert job.join(60), f"run {number} did not end"
        assert job.snapshot().status == DONE, job.snapshot().message
        del job
        rss[number] = rss_mb()
    growth = rss[RUNS] - rss[2]
    print(f"RSS after run 2: {rss[2]:.1f} MB, after run {RUNS}: {rss[RUNS]:.1f} MB, growth {growth:+.1f} MB")
    assert growth < MAX_GROWTH_MB, rss


def test_stop_ends_the_worker_and_drops_its_inputs(model) -> None:
    """Stop mid-run: the thread ends, the images are freed and no tensor outlives the run but the result."""
    Job(content_image(), [style_image(48)], TINY, model=model).start().join(60)  # warm caches
    tensors_before, rss_before = live_tensors(), rss_mb()
    content, style = content_image(), style_image(48)
    refs = [weakref.ref(content), weakref.ref(style)]
    job = Job(content, [style], LONG, model=model).start()
    del content, style
    wait_for(lambda: job.snapshot().step >= 3)
    rss_running = rss_mb()
    job.stop()
    assert job.join(END_S), "the worker thread is still alive after Stop"
    snap = job.snapshot()
    assert snap.status == STOPPED and snap.result is not None
    assert job._inputs is None
    assert all(ref() is None for ref in refs), "the job still holds its content or style image"
    assert live_tensors() <= tensors_before, "tensors outlived the stopped run"
    print(f"RSS before {rss_before:.1f} MB, running {rss_running:.1f} MB, after Stop {rss_mb():.1f} MB")


def test_abandoned_job_stops_itself(model) -> None:
    """No heartbeat and no live session: a running job stops, a queued one is cancelled."""
    limiter = Limiter(1)
    running = Job(content_image(), [style_image(48)], LONG, model=model, limiter=limiter,
                  heartbeat_timeout=0.3, keepalive=lambda: False).start()
    wait_for(lambda: running.snapshot().status == RUNNING)
    assert running.join(END_S), "an abandoned running job kept going"
    assert running.snapshot().status == STOPPED and "went away" in running.snapshot().message

    holder = Job(content_image(), [style_image(48)], LONG, model=model, limiter=limiter,
                 heartbeat_timeout=0.3, keepalive=lambda: True).start()  # a live session keeps its job
    wait_for(lambda: holder.snapshot().status == RUNNING)
    queued = Job(content_image(), [style_image(48)], TINY, model=model, limiter=limiter,
                 heartbeat_timeout=0.3).start()
    assert queued.join(END_S), "an abandoned queued job kept waiting"
    assert queued.snapshot().status == CANCELLED and "went away" in queued.snapshot().message
    assert holder.snapshot().status == RUNNING, "a job whose session is alive was stopped"
    holder.stop()
    assert holder.join(END_S)


@pytest.mark.parametrize(("raw", "seconds"), [(None, 20.0), ("2.5", 2.5), ("0", 20.0), ("soon", 20.0), ("inf", 20.0)])
def test_heartbeat_timeout_from_env(monkeypatch: pytest.MonkeyPatch, raw: str | None, seconds: float) -> None:
    if raw is None:
        monkeypatch.delenv("NST_HEARTBEAT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("NST_HEARTBEAT_TIMEOUT", raw)
    assert heartbeat_timeout_from_env() == seconds
