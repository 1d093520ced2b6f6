"""The studio's worker jobs and per-device queue, with real tiny runs on the CPU: records, Stop,
queue places, abandonment, errors, and the memory of many runs in this process."""

from __future__ import annotations

import ctypes
import gc
import weakref

import pytest
import torch

from tests.support.synthetic import scene, stripes
from nst import Settings
from nst.plan.budget import plan_run
from nst.plan.estimate import StepCost
from nst.run.executor import LocalExecutor
from studio.services.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STOPPED, Job, Snapshot
from studio.services.limiter import Limiter
from studio.services.policy import Policy
from tests.support.apptest import wait_for

pytestmark = pytest.mark.unit

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


class Session:
    """A ``keepalive`` that counts the job's questions. The job asks only when no heartbeat came
    within its timeout, so a count of n means the timeout ran out n times: the tests wait on that
    count, not on a guess at how long a step takes on a loaded machine."""

    def __init__(self, alive: bool = True) -> None:
        self.alive, self.asked = alive, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.alive


def test_abandoned_job_stops_itself_unless_kept_alive():
    session = Session()
    j = job(LONG, heartbeat_timeout=0.2, keepalive=session)
    wait_for(lambda: session.asked >= 3 or j.finished, what="the job to find its heartbeat late three times")
    assert not j.finished, f"a job whose session is connected stopped: {j.snapshot().message}"
    step = j.snapshot().step
    wait_for(lambda: j.snapshot().step > step or j.finished, what="a step after the job was kept alive")
    assert j.snapshot().status == RUNNING  # no heartbeats, but the session is still connected
    session.alive = False  # the tab was closed
    assert j.join(END_S), "an abandoned running job kept running"
    snap = j.snapshot()
    assert snap.status == STOPPED and "went away" in snap.message


def test_an_abandoned_queued_job_is_cancelled_and_a_live_one_kept():
    limiter = Limiter(1)
    session = Session()  # a live session keeps its job
    holder = job(LONG, limiter, heartbeat_timeout=0.3, keepalive=session)
    wait_for(lambda: holder.snapshot().status == RUNNING)
    queued = job(TINY, limiter, heartbeat_timeout=0.3)
    assert queued.join(END_S), "an abandoned queued job kept waiting"
    assert queued.snapshot().status == CANCELLED and "went away" in queued.snapshot().message
    asked = session.asked
    wait_for(lambda: session.asked > asked + 1 or holder.finished, what="the running job to find its heartbeat late")
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


def test_eta_prices_each_remaining_scale_by_the_plan_at_the_measured_pace():
    """At step 10 of a 128 → 256 → 512 run at 0.1 s per coarse step, the steps left cost 0.1 s each at
    this scale and the plan's price relative to it at the larger ones (about 4× and 16× the pixels),
    where steps left × recent speed would say far less (nst.plan.estimate.remaining_seconds)."""
    settings = Settings(size=512, steps=60, min_scale=128, device="cpu", max_memory=2**40)
    plan = plan_run(settings, (512, 384), [(48, 48)], torch.device("cpu"), held=0)
    cost = StepCost(fixed=0.0, per_megapixel=1.0)  # a step costs its pixels
    first, second, third = plan.scales
    assert [s.shape for s in plan.scales] == [(96, 128), (192, 256), (384, 512)] and first.steps > 10
    rows = [{"step": s, "scale": 0, "elapsed_s": 3.0 + 0.1 * s} for s in range(1, 11)]
    snap = Snapshot(status=RUNNING, message="", device="cpu", queue_position=0, step=10, total_steps=60, scale=0,
                    n_scales=3, elapsed=4.0, losses={}, rows=rows, preview=None, preview_step=0, result=None,
                    plan=plan, cost=cost)
    assert snap.paced and snap.eta == pytest.approx(0.1 * ((first.steps - 10) + 4 * second.steps + 16 * third.steps))
    # First step of the next scale: still priced at the pace of the last steps timed.
    later = [*rows, {"step": first.steps + 1, "scale": 1, "elapsed_s": 5.0}]
    step = Snapshot(**{**snap.__dict__, "rows": later, "step": first.steps + 1, "scale": 1})
    assert step.eta == pytest.approx(0.1 * (4 * (second.steps - 1) + 16 * third.steps))


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
