"""The studio's worker jobs and per-device queue, with real tiny runs on the CPU: records, Stop,
queue places, abandonment, errors, and the memory of many runs in this process."""

from __future__ import annotations

import ctypes
import gc
import threading
import time
import weakref

import pytest
import torch

from tests.support.synthetic import scene, stripes
from nst import Settings
from nst.engine import ScalePlan
from nst.run.executor import LocalExecutor
from studio.services.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STOPPED, Job, Snapshot
from studio.services.limiter import Limiter
from studio.services.policy import Policy
from tests.support.apptest import wait_for

TINY = Settings(size=64, steps=5, multiscale="off", device="cpu", preview_every=2)
LONG = TINY.replace(steps=5000)
RUNS = 20
MAX_GROWTH_MB = 100.0
END_S = 5.0  # a stopped or abandoned worker must be gone within this


def job(settings: Settings = TINY, limiter: Limiter | None = None, styles: int = 1, **kwargs) -> Job:
    """A started job on its own queue (or ``limiter``), as the studio starts one."""
    executor = LocalExecutor(gate=limiter if limiter is not None else Limiter(1))
    return Job(scene(64, 48), [stripes(48)] * styles, settings, executor=executor, **kwargs).start()


def test_run_streams_records_and_frees_inputs():
    j = job(preview_side=32)
    assert j.join(120)
    snap = j.snapshot()
    assert snap.status == DONE and snap.finished and snap.message == ""
    assert [row["step"] for row in snap.rows] == [1, 2, 3, 4, 5]
    assert {"content", "style", "tv", "total", "elapsed_s", "raw_style/conv1_1"} <= set(snap.rows[0])
    assert snap.step == snap.total_steps == 5 and snap.fraction == 1.0 and snap.eta is None
    assert snap.result.shape == (48, 64, 3)  # full resolution
    assert max(snap.preview.shape[:2]) == 32 and snap.preview_step == 5  # bounded preview, final image
    assert j._inputs is None  # images dropped


def test_stop_ends_within_a_step_and_keeps_the_image():
    j = job(LONG)
    wait_for(lambda: j.snapshot().step >= 2)
    at_stop = j.snapshot().step
    j.stop()
    assert j.join(60)
    snap = j.snapshot()
    assert snap.status == STOPPED
    assert at_stop <= snap.step <= at_stop + 2
    assert snap.result is not None and snap.result.shape == (48, 64, 3)


def test_limiter_queues_reports_place_and_cancels():
    limiter = Limiter(1)
    first = job(LONG, limiter)
    wait_for(lambda: first.snapshot().status == RUNNING)
    second, third = job(TINY, limiter), job(TINY, limiter)
    wait_for(lambda: third.snapshot().queue_position == 2)
    assert second.snapshot().status == QUEUED and second.snapshot().queue_position == 1
    assert limiter.busy("cpu") == 1

    second.stop()  # cancel while waiting: the third moves up
    assert second.join(5)
    assert second.snapshot().status == CANCELLED and second.snapshot().step == 0
    wait_for(lambda: third.snapshot().queue_position == 1)

    first.stop()
    assert first.join(60) and third.join(120)
    assert third.snapshot().status == DONE
    assert limiter.busy("cpu") == 0


def test_more_slots_run_together():
    limiter = Limiter(2)
    jobs = [job(LONG, limiter) for _ in range(2)]
    wait_for(lambda: all(j.snapshot().status == RUNNING for j in jobs))
    for j in jobs:
        j.stop()
    assert all(j.join(60) for j in jobs)


@pytest.mark.parametrize("settings, styles, expected", [
    (TINY.replace(device="cuda:99"), 1, "cuda:99"),
    (TINY, 0, "at least one style image"),
])
def test_errors_surface_as_messages(settings, styles, expected):
    j = job(settings, styles=styles)
    assert j.join(120)
    snap = j.snapshot()
    assert snap.status == FAILED and expected in snap.message and "Traceback" not in snap.message
    assert snap.result is None


def test_abandoned_job_stops_itself_unless_kept_alive():
    alive = threading.Event()
    alive.set()
    j = job(LONG, heartbeat_timeout=0.2, keepalive=alive.is_set)
    wait_for(lambda: j.snapshot().step >= 3)
    time.sleep(0.4)
    assert not j.finished  # no heartbeats, but the session is still connected
    alive.clear()  # the tab was closed
    assert j.join(END_S)
    snap = j.snapshot()
    assert snap.status == STOPPED and "went away" in snap.message


def test_an_abandoned_queued_job_is_cancelled_and_a_live_one_kept():
    limiter = Limiter(1)
    holder = job(LONG, limiter, heartbeat_timeout=0.3, keepalive=lambda: True)  # a live session keeps its job
    wait_for(lambda: holder.snapshot().status == RUNNING)
    queued = job(TINY, limiter, heartbeat_timeout=0.3)
    assert queued.join(END_S), "an abandoned queued job kept waiting"
    assert queued.snapshot().status == CANCELLED and "went away" in queued.snapshot().message
    assert holder.snapshot().status == RUNNING, "a job whose session is alive was stopped"
    holder.stop()
    assert holder.join(END_S)


@pytest.mark.parametrize("env, slots, seconds", [
    ({}, 1, 20.0),
    ({"NST_MAX_RUNS_PER_DEVICE": "3", "NST_HEARTBEAT_TIMEOUT": "2.5"}, 3, 2.5),
    ({"NST_MAX_RUNS_PER_DEVICE": "lots", "NST_HEARTBEAT_TIMEOUT": "0"}, 1, 20.0),
    ({"NST_MAX_RUNS_PER_DEVICE": "0", "NST_HEARTBEAT_TIMEOUT": "soon"}, 1, 20.0),
    ({"NST_HEARTBEAT_TIMEOUT": "inf"}, 1, 20.0),
])
def test_policy_from_env(env, slots, seconds):
    policy = Policy.from_env(env)
    assert (policy.max_runs_per_device, policy.heartbeat_timeout) == (slots, seconds)


def test_speed_from_recent_steps():
    rows = [{"step": s, "scale": 0, "elapsed_s": 1.0 + 0.5 * s} for s in range(1, 11)]
    snap = Snapshot(status=RUNNING, message="", device="cpu", queue_position=0, step=10, total_steps=30, scale=0,
                    n_scales=1, elapsed=6.0, losses={}, rows=rows, preview=None, preview_step=0, result=None)
    assert snap.steps_per_second == pytest.approx(2.0)


def test_eta_prices_each_remaining_scale_by_its_pixels():
    """At step 10 of a 128 → 256 → 512 run at 0.1 s per coarse step, the steps left cost 2 s at this
    scale, 8 s at 4× the pixels and 16 s at 16× (26 s), where steps left × recent speed says 5 s."""
    plan = (ScalePlan((96, 128), 30), ScalePlan((192, 256), 20), ScalePlan((384, 512), 10))
    rows = [{"step": s, "scale": 0, "elapsed_s": 3.0 + 0.1 * s} for s in range(1, 11)]
    snap = Snapshot(status=RUNNING, message="", device="cpu", queue_position=0, step=10, total_steps=60, scale=0,
                    n_scales=3, elapsed=4.0, losses={}, rows=rows, preview=None, preview_step=0, result=None,
                    plan=plan)
    assert snap.eta == pytest.approx(26.0)
    # First step of the next scale: still priced from the last scale with a measured speed.
    later = [*rows, *({"step": s, "scale": 1, "elapsed_s": 5.0 + 0.4 * (s - 30)} for s in range(31, 32))]
    step31 = Snapshot(**{**snap.__dict__, "rows": later, "step": 31, "scale": 1})
    assert step31.eta == pytest.approx(19 * 0.4 + 10 * 1.6)


# -- memory ----------------------------------------------------------------------------------------
def rss_mb() -> float:
    """This process's resident memory (VmRSS) after returning freed heap to the OS."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def live_tensors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if issubclass(type(obj), torch.Tensor))  # type(): no lazy __class__


@pytest.mark.slow
def test_twenty_consecutive_runs_do_not_grow_memory() -> None:
    """RSS after run 20 is within MAX_GROWTH_MB of RSS after run 2 (run 1 warms caches); runs go
    through the studio's own executor and queue, as ``studio.views.runs.start`` starts them."""
    rss: dict[int, float] = {}
    for number in range(1, RUNS + 1):
        j = Job(scene(64, 48), [stripes(48)], TINY, keepalive=lambda: True).start()
        assert j.join(60), f"run {number} did not end"
        assert j.snapshot().status == DONE, j.snapshot().message
        del j
        rss[number] = rss_mb()
    growth = rss[RUNS] - rss[2]
    print(f"RSS after run 2: {rss[2]:.1f} MB, after run {RUNS}: {rss[RUNS]:.1f} MB, growth {growth:+.1f} MB")
    assert growth < MAX_GROWTH_MB, rss


def test_stop_ends_the_worker_and_drops_its_inputs() -> None:
    """Stop mid-run: the thread ends, the images are freed and no tensor outlives the run but the result."""
    job().join(60)  # warm caches
    tensors_before, rss_before = live_tensors(), rss_mb()
    content, style = scene(64, 48), stripes(48)
    refs = [weakref.ref(content), weakref.ref(style)]
    j = Job(content, [style], LONG, executor=LocalExecutor(gate=Limiter(1))).start()
    del content, style
    wait_for(lambda: j.snapshot().step >= 3)
    rss_running = rss_mb()
    j.stop()
    assert j.join(END_S), "the worker thread is still alive after Stop"
    snap = j.snapshot()
    assert snap.status == STOPPED and snap.result is not None
    assert j._inputs is None
    assert all(ref() is None for ref in refs), "the job still holds its content or style image"
    assert live_tensors() <= tensors_before, "tensors outlived the stopped run"
    print(f"RSS before {rss_before:.1f} MB, running {rss_running:.1f} MB, after Stop {rss_mb():.1f} MB")
