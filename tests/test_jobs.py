"""The studio's worker jobs and per-device limiter, with real tiny runs on the CPU."""

from __future__ import annotations

import threading
import time

import pytest

from nst import Settings, load_model
from nst.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STOPPED, Job, Limiter, Snapshot

TINY = Settings(size=64, steps=5, multiscale="off", device="cpu", preview_every=2)
LONG = TINY.replace(steps=2000)


@pytest.fixture(scope="module")
def model():
    return load_model("bundled")


def wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_run_streams_records_and_frees_inputs(content_image, style_image, model):
    job = Job(content_image, [style_image], TINY, model=model, limiter=Limiter(1), preview_side=32).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == DONE and snap.finished and snap.message == ""
    assert [row["step"] for row in snap.rows] == [1, 2, 3, 4, 5]
    assert {"content", "style", "tv", "total", "elapsed_s", "raw_style/conv1_1"} <= set(snap.rows[0])
    assert snap.step == snap.total_steps == 5 and snap.fraction == 1.0 and snap.eta is None
    assert snap.result.shape == (48, 64, 3)  # full resolution
    assert max(snap.preview.shape[:2]) == 32 and snap.preview_step == 5  # bounded preview, final image
    assert job._inputs is None  # images and model reference dropped


def test_stop_ends_within_a_step_and_keeps_the_image(content_image, style_image, model):
    job = Job(content_image, [style_image], LONG, model=model, limiter=Limiter(1)).start()
    wait_for(lambda: job.snapshot().step >= 2)
    at_stop = job.snapshot().step
    job.stop()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == STOPPED
    assert at_stop <= snap.step <= at_stop + 2
    assert snap.result is not None and snap.result.shape == (48, 64, 3)


def test_limiter_queues_reports_place_and_cancels(content_image, style_image, model):
    limiter = Limiter(1)
    first = Job(content_image, [style_image], LONG, model=model, limiter=limiter).start()
    wait_for(lambda: first.snapshot().status == RUNNING)
    second = Job(content_image, [style_image], TINY, model=model, limiter=limiter).start()
    third = Job(content_image, [style_image], TINY, model=model, limiter=limiter).start()
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


def test_more_slots_run_together(content_image, style_image, model):
    limiter = Limiter(2)
    jobs = [Job(content_image, [style_image], LONG, model=model, limiter=limiter).start() for _ in range(2)]
    wait_for(lambda: all(j.snapshot().status == RUNNING for j in jobs))
    for job in jobs:
        job.stop()
    assert all(job.join(60) for job in jobs)


@pytest.mark.parametrize("settings, styles, expected", [
    (TINY.replace(device="cuda:99"), 1, "cuda:99"),
    (TINY, 0, "at least one style image"),
])
def test_errors_surface_as_messages(content_image, style_image, model, settings, styles, expected):
    job = Job(content_image, [style_image] * styles, settings, model=model, limiter=Limiter(1)).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == FAILED and expected in snap.message and "Traceback" not in snap.message
    assert snap.result is None


def test_abandoned_job_stops_itself_unless_kept_alive(content_image, style_image, model):
    alive = threading.Event()
    alive.set()
    job = Job(content_image, [style_image], LONG, model=model, limiter=Limiter(1), heartbeat_timeout=0.2,
              keepalive=alive.is_set).start()
    wait_for(lambda: job.snapshot().step >= 3)
    time.sleep(0.4)
    assert not job.finished  # no heartbeats, but the session is still connected
    alive.clear()  # the tab was closed
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == STOPPED and "went away" in snap.message


def test_limiter_size_from_env(monkeypatch):
    monkeypatch.setenv("NST_MAX_RUNS_PER_DEVICE", "3")
    assert Limiter.from_env().slots == 3
    monkeypatch.setenv("NST_MAX_RUNS_PER_DEVICE", "lots")
    assert Limiter.from_env().slots == 1


def test_speed_and_eta_from_recent_steps():
    rows = [{"step": s, "elapsed_s": 1.0 + 0.5 * s} for s in range(1, 11)]
    snap = Snapshot(status=RUNNING, message="", device="cpu", queue_position=0, step=10, total_steps=30, scale=0,
                    n_scales=1, elapsed=6.0, losses={}, rows=rows, preview=None, preview_step=0, result=None)
    assert snap.steps_per_second == pytest.approx(2.0)
    assert snap.eta == pytest.approx(10.0)
