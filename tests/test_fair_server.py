"""A long step looks alive and a shared server is fair (real runs on the CPU): a job's elapsed
time moves during its first step, it says which pass it is in, its ETA comes from the plan until
steps are timed; a queued run is told its wait in time; the longest run is the policy's."""

from __future__ import annotations

import time

import pytest

from tests.support.synthetic import scene, stripes
from nst import Settings
from nst.run.executor import LocalExecutor
from studio.services.jobs import QUEUED, RUNNING, STOPPED, Job
from studio.services.limiter import Limiter, queue_wait
from studio.views.live import progress_text, queue_text
from studio.services.policy import ENV_MAX_RUN_MINUTES, Policy
from tests.support.apptest import wait_for

pytestmark = pytest.mark.unit

BIG = Settings(size=768, steps=300, multiscale="off", device="cpu")  # a step takes seconds here


def _job(settings: Settings, limiter: Limiter, estimate: float | None) -> Job:
    executor = LocalExecutor(gate=limiter)
    width = settings.size
    return Job(scene(width, width * 3 // 4), [stripes(256)], settings, executor=executor, estimate=estimate).start()


@pytest.mark.slow
def test_during_the_first_step_time_moves_the_pass_shows_and_the_eta_is_planned():
    """Before, a run showed 0.0 s and 'ETA —' until its first step ended (minutes at 4096 px)."""
    job = _job(BIG.replace(size=1024), Limiter(1), estimate=600.0)  # its first step: about 10 s here
    try:
        wait_for(lambda: job.snapshot().status == RUNNING and job.snapshot().elapsed > 0.3, timeout=60)
        first = job.snapshot()
        wait_for(lambda: job.snapshot().elapsed >= first.elapsed + 0.5, timeout=30)
        later = job.snapshot()
        assert later.step == 0 and later.elapsed > first.elapsed, (first, later)
        assert later.phase in ("preparing the content target", "preparing the style targets", "step 1"), later
        assert later.eta is not None and 600.0 - later.elapsed - 1 <= later.eta <= 600.0
        text = progress_text(later)
        assert "(planned)" in text and text.split(" · ")[1] != "0.0 s", text
        job.stop()
        assert job.snapshot().stopping and progress_text(job.snapshot()).startswith("Stopping…")
        assert job.join(30)
        assert job.snapshot().status == STOPPED and not job.snapshot().stopping
        # Between the closing record and the saved result the page says the run has stopped.
        assert progress_text(job.snapshot()).startswith(f"Stopped at step {job.snapshot().step} of 300 · ")
    finally:
        job.stop()
        job.join(30)


@pytest.mark.slow
def test_a_queued_run_is_told_its_wait_from_the_runs_ahead():
    limiter = Limiter(1)
    ahead = _job(BIG, limiter, estimate=300.0)
    behind = _job(BIG.replace(steps=10), limiter, estimate=20.0)
    try:
        wait_for(lambda: ahead.snapshot().status == RUNNING and behind.snapshot().queue_position == 1, timeout=60)
        snap = behind.snapshot()
        assert snap.status == QUEUED and snap.wait is not None
        left = ahead.snapshot().eta
        assert left is not None and abs(snap.wait - left) < 5.0, (snap.wait, left)
        assert f"number 1 in the queue, about {round(snap.wait / 60)} min." in queue_text(snap)
    finally:
        behind.stop()
        ahead.stop()
        assert behind.join(30) and ahead.join(30)


def test_queue_wait_gives_each_run_ahead_the_slot_that_frees_first():
    assert queue_wait([120.0], [], 1) == 120.0
    assert queue_wait([120.0], [60.0, 30.0], 1) == 210.0
    assert queue_wait([120.0, 10.0], [60.0], 2) == 70.0  # the second slot frees at 10 s, then 60 s
    assert queue_wait([], [], 2) == 0.0


@pytest.mark.parametrize("env, limit", [({}, 20.0), ({ENV_MAX_RUN_MINUTES: "5"}, 5.0),
                                        ({ENV_MAX_RUN_MINUTES: "0"}, 0.0), ({ENV_MAX_RUN_MINUTES: "-3"}, 20.0),
                                        ({ENV_MAX_RUN_MINUTES: "lots"}, 20.0)])
def test_the_longest_run_is_the_operators(env, limit):
    policy = Policy.from_env(env)
    assert policy.max_run_minutes == limit
    long_run = 47 * 60.0
    refusal = policy.run_refusal(long_run)
    if limit:
        assert refusal is not None and "47 min" in refusal and ENV_MAX_RUN_MINUTES in refusal
        assert f"{limit:g} min" in refusal and refusal.count(". ") == 0  # one sentence
        assert policy.run_refusal(limit * 60 - 1) is None
    else:
        assert refusal is None
    assert policy.run_refusal(None) is None  # a device not yet timed is not refused
