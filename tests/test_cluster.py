"""Runs on a real local Ray cluster (tests/support/raycluster.py: a head that runs nothing and two worker
nodes of one CPU and one ``nst_slot`` each, all on 127.0.0.1): the engine's behaviours through the
Ray executor, the queue, a node lost mid-run, the CLI's batch, loopback-only traffic, and two
browser sessions running at once on the two nodes. The cluster is started once for this module.
Without a cluster (no Ray imported, an address nobody answers): tests/test_no_cluster.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.raycluster import SLOT, LocalCluster, local_cluster, off_loopback  # first: it imports Ray on loopback
from tests.support.synthetic import scene, stripes
from nst import Settings
from nst.cli.main import main
from nst.run.cluster import BACKPRESSURE, RayExecutor
from nst.engine import run as run_locally
from nst.core.errors import DeviceError, SettingsError
from nst.io.recipe import read_recipe
from studio.services.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STOPPED, Job
from tests.support.apptest import wait_for

pytestmark = pytest.mark.cluster

SEEDED = Settings(size=64, steps=12, multiscale="off", device="cpu", preview_every=3, init="noise", seed=7)
LONG = SEEDED.replace(steps=5000, preview_every=5)
RUN_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(workers=2, cpus=1) as local:
        yield local


@pytest.fixture(scope="module")
def executor(cluster: LocalCluster) -> RayExecutor:
    """Joins the cluster the way the studio and the CLI do (ray.init inside connect)."""
    executor = RayExecutor(cluster.address, resource=SLOT)
    executor.connect()
    return executor


def inputs() -> tuple[Image.Image, list[Image.Image]]:
    return scene(64, 48), [stripes(48)]


def ray_job(executor: RayExecutor, settings: Settings = LONG, **kwargs) -> Job:
    content, styles = inputs()
    return Job(content, styles, settings, executor=executor, **kwargs).start()


# -- the engine through the cluster ---------------------------------------------------------------
def test_records_stream_and_a_seeded_run_matches_a_local_one(executor: RayExecutor) -> None:
    content, styles = inputs()
    started: list[float] = []
    handle = executor.submit(content, styles, SEEDED, on_start=lambda: started.append(time.monotonic()))
    records = list(handle.records())
    assert [r.step for r in records] == list(range(1, 13)) and records[-1].done and len(started) == 1
    assert handle.position() == 0
    previews = [r for r in records[:-1] if r.image is not None]
    assert [r.step for r in previews] == [1, 3, 6, 9]
    assert all(r.image.shape == (48, 64, 3) and r.image.dtype == np.uint8 for r in previews)

    # A seeded run repeats bit for bit at the same thread count and precision, not across thread
    # counts: the worker's torch has one thread (its one CPU), and under bf16 (the CPU's precision
    # where it has bf16) a sum split over two threads rounds differently (on an AMX Xeon: 17 pixels
    # one level apart). So the local run uses one thread too, and must then match exactly.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = run_locally(content, styles, SEEDED)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(records[-1].image, local.image), "the final image is a lossless PNG of the same run"
    assert records[-1].losses == local.losses
    again = list(executor.submit(content, styles, SEEDED).records())[-1]
    assert np.array_equal(again.image, local.image) and again.losses == records[-1].losses


def test_previews_are_small_and_the_final_image_full_size(cluster: LocalCluster) -> None:
    small = RayExecutor(cluster.address, resource=SLOT, preview_side=24)
    content, styles = inputs()
    records = list(small.submit(content, styles, SEEDED).records())
    assert {r.image.shape for r in records[:-1] if r.image is not None} == {(18, 24, 3)}
    assert records[-1].image.shape == (48, 64, 3)


def test_stop_ends_within_a_step_and_keeps_the_image(executor: RayExecutor) -> None:
    j = ray_job(executor)
    wait_for(lambda: j.snapshot().step >= 3, RUN_TIMEOUT_S)
    at_stop = j.snapshot().step
    j.stop()
    assert j.join(30)
    snap = j.snapshot()
    assert snap.status == STOPPED and at_stop <= snap.step <= at_stop + 2, (at_stop, snap.step)
    assert snap.result is not None and snap.result.shape == (48, 64, 3)


def test_the_workers_errors_keep_their_message(executor: RayExecutor) -> None:
    content, _ = inputs()
    with pytest.raises(SettingsError) as raised:
        list(executor.submit(content, [], SEEDED).records())
    with pytest.raises(SettingsError) as local:
        run_locally(content, [], SEEDED)
    assert str(raised.value) == str(local.value) and raised.value.problems == local.value.problems
    with pytest.raises(DeviceError, match="No node of the Ray cluster has a GPU"):
        executor.submit(content, [], SEEDED.replace(device="cuda"))
    j = ray_job(RayExecutor(executor.address, resource="nst_other"), SEEDED)
    assert j.join(30)
    assert j.snapshot().status == FAILED
    assert j.snapshot().message == "No node of the Ray cluster offers what a run needs (1 CPU, 1 nst_other)."


def idle(worker, seconds: float) -> bool:
    """Whether ``worker`` (a psutil Process) spends the next ``seconds`` asleep: its main thread, where
    Ray runs the task, is never seen running or runnable. A thread that waits for a CPU on a loaded
    machine is runnable, so load does not pass for waiting."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if worker.status() == "running":  # psutil's STATUS_RUNNING: /proc's R, running or runnable
            return False
        time.sleep(0.01)
    return True


def test_a_slow_reader_holds_the_worker_back(cluster: LocalCluster, executor: RayExecutor) -> None:
    """Backpressure: a reader that stops reading stops the worker a few records ahead (not 60). The
    test stops reading at step 3 until the worker's process is seen idle, then reads on: the
    records the worker made meanwhile come first, then a gap in the run's own clock where it waited."""
    records = executor.submit(*inputs(), LONG).records()
    try:
        read = []
        for record in records:
            read.append(record)
            if record.step == 3:
                break
        assert read[-1].step == 3, f"the run ended at step {read[-1].step} of {LONG.steps}"
        # The wait to look for: ten times the slowest step so far, so a step slowed by load is no wait.
        wait = max(1.0, 10 * max(b.elapsed - a.elapsed for a, b in zip(read, read[1:])))
        wait_for(lambda: idle(cluster.task_process("stylize_task"), wait), RUN_TIMEOUT_S, interval=0,
                 what="the worker to wait for its reader (it never stopped: no backpressure)")
        ahead = BACKPRESSURE + 2  # the records Ray holds for the reader, the one in hand and the one being made
        previous, gaps = read[-1], []
        for _ in range(4 * ahead):
            following = next(records, None)
            assert following is not None, f"the run ended at step {previous.step} of {LONG.steps}"
            gaps.append(following.elapsed - previous.elapsed)
            if gaps[-1] >= 0.8 * wait:
                break  # the worker waited for the reader before this record
            previous = following
        else:
            pytest.fail(f"no wait of {wait:.1f} s in the run's clock within {4 * ahead} records after the pause: {gaps}")
    finally:
        records.close()  # ends the run on the cluster
    made = len(gaps) - 1  # the records the worker made while its reader paused
    print(f"\nthe worker made {made} records while its reader paused (at most {ahead}); seconds between records: "
          + ", ".join(f"{gap:.2f}" for gap in gaps))
    assert made <= ahead, f"the worker ran {made} records ahead of its reader"


def test_waiting_runs_see_their_place_and_can_leave_the_queue(executor: RayExecutor) -> None:
    running = [ray_job(executor) for _ in range(2)]  # one per worker node
    wait_for(lambda: all(j.snapshot().status == RUNNING for j in running), RUN_TIMEOUT_S)
    second = ray_job(executor, SEEDED)
    wait_for(lambda: second.snapshot().queue_position == 1, 30)
    third = ray_job(executor, SEEDED)
    wait_for(lambda: third.snapshot().queue_position == 2, 30)
    assert second.snapshot().status == QUEUED and second.snapshot().queue_position == 1

    second.stop()  # leaves the queue: the third moves up
    assert second.join(10) and second.snapshot().status == CANCELLED
    wait_for(lambda: third.snapshot().queue_position == 1, 30)
    for j in running:
        j.stop()
    assert all(j.join(30) for j in running)
    assert third.join(RUN_TIMEOUT_S) and third.snapshot().status == DONE


def test_traffic_stays_on_loopback(cluster: LocalCluster, executor: RayExecutor) -> None:
    j = ray_job(executor)
    wait_for(lambda: j.snapshot().step >= 2, RUN_TIMEOUT_S)
    try:
        assert len(cluster.pids()) > 8  # GCS, raylets, agents and workers are really there
        assert off_loopback(cluster.pids()) == []
    finally:
        j.stop()
        assert j.join(30)


def test_the_cli_batch_fans_out_and_reports_a_bad_image(cluster: LocalCluster, executor: RayExecutor,
                                                      tmp_path: Path, capsys) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for n in range(3):
        scene(64 + 8 * n, 48).save(folder / f"photo{n}.png")
    (folder / "broken.jpg").write_bytes(b"not a picture")
    stripes(48).save(tmp_path / "style.png")
    code = main(["--batch", str(folder), str(tmp_path / "style.png"), "-o", str(out), "--size", "48",
                 "--steps", "4", "--multiscale", "off", "--ray-address", cluster.address])
    err = capsys.readouterr().err
    assert code == 1 and "broken.jpg failed" in err and "1 of 4 images failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["photo0.png", "photo1.png", "photo2.png"]
    assert read_recipe(out / "photo1.png")["content"] == "photo1.png"


# -- faults ----------------------------------------------------------------------------------------
@pytest.mark.slow  # a node is started and killed: `-m "not slow"` leaves these out (docs/testing.md)
def test_a_node_lost_mid_run_is_retried_on_the_other(cluster: LocalCluster, executor: RayExecutor) -> None:
    cluster.ensure_workers(2)
    content, styles = inputs()
    settings = SEEDED.replace(steps=40)
    # An uninterrupted run on the cluster (one torch thread, as the retry has) is the reference.
    reference = list(executor.submit(content, styles, settings).records())[-1]
    handle = executor.submit(content, styles, settings)
    steps = []
    for record in handle.records():
        steps.append(record.step)
        if record.step == 8:
            cluster.remove_worker(handle.node_id)  # as if the machine crashed
    assert steps == list(range(1, 41)), "the retry continues where the reader was, no step twice or missing"
    said = re.fullmatch(r"The Ray worker running this run (lost its node|died) at step (\d+); the run was started"
                        r" again on another worker\.", handle.notice())
    assert said and 8 <= int(said[2]) <= 8 + BACKPRESSURE, handle.notice()  # records already on their way count
    assert np.array_equal(record.image, reference.image) and record.losses == reference.losses


@pytest.mark.slow  # a node is started and killed: `-m "not slow"` leaves these out (docs/testing.md)
def test_a_node_lost_with_no_other_free_gives_one_message_and_keeps_the_preview(
        cluster: LocalCluster) -> None:
    cluster.ensure_workers(2)
    patient = RayExecutor(cluster.address, resource=SLOT, retry_wait=3.0)
    j = ray_job(patient)
    wait_for(lambda: j.snapshot().preview is not None and j.snapshot().step >= 6, RUN_TIMEOUT_S)
    blocker = ray_job(patient)  # takes the other node, so the retry finds none free
    wait_for(lambda: blocker.snapshot().status == RUNNING, RUN_TIMEOUT_S)
    cluster.remove_worker(j._handle.node_id)
    try:
        assert j.join(30)
        snap = j.snapshot()
        assert snap.status == FAILED
        assert re.fullmatch(r"The Ray worker running this run (lost its node|died) at step \d+, and no other worker"
                            r" was free to run it again within 3 s\.", snap.message), snap.message
        assert snap.result is not None and snap.result.shape == (48, 64, 3)  # the last preview stays
    finally:
        blocker.stop()
        assert blocker.join(30)
    cluster.ensure_workers(2)


# -- the studio as a web node of the cluster -------------------------------------------------------
@pytest.mark.slow
def test_two_browser_sessions_run_at_once_on_two_nodes(cluster: LocalCluster, browser, tmp_path: Path) -> None:
    from tests.support.browser import launch_server, make_content, make_style, new_page, prepare, run_journal, start_run, \
        wait_results

    cluster.ensure_workers(2)
    content, style = make_content(tmp_path / "content.png"), make_style(tmp_path / "style.png")
    env = {"NST_RAY_ADDRESS": cluster.address, "NST_RAY_RESOURCE": SLOT}
    with launch_server(tmp_path / "streamlit.log", env) as server:
        pages = [new_page(browser) for _ in range(2)]
        try:
            for page in pages:
                prepare(page, server.url, content, style, 40, 64)
            for page in pages:
                start_run(page)
            wait_results(pages, RUN_TIMEOUT_S)
            journals = [run_journal(page) for page in pages]
            # The web node too (the server's Ray connections and its page traffic) stays on loopback.
            assert off_loopback(cluster.pids()) == []
        finally:
            for page in pages:
                page.context.close()
    print(f"\nsessions: {journals}")
    # Each node runs one at a time: both running before either result means both nodes worked.
    assert max(j["running"] for j in journals) < min(j["result"] for j in journals), journals
