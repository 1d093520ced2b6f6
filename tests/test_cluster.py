"""Runs on a real local Ray cluster (tests/support/raycluster.py: a head that runs nothing and two worker
nodes of one CPU and one ``nst_slot`` each, all on 127.0.0.1): the engine's behaviours through the
Ray executor, the queue, a node lost mid-run, the CLI's batch, loopback-only traffic, and two
browser sessions running at once on the two nodes. The cluster is started once for this module."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
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

REPO = Path(__file__).resolve().parents[1]
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


# -- no cluster ------------------------------------------------------------------------------------
def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_the_engine_cli_and_studio_run_without_importing_ray(tmp_path: Path) -> None:
    scene(64, 48).save(tmp_path / "c.png")
    stripes(48).save(tmp_path / "s.png")
    code = f"""
import sys
import nst, nst.run.cluster, nst.run.batch, studio.services.jobs, studio.services.executors, studio.session.resources
from nst.cli.main import main
assert main([{str(tmp_path / 'c.png')!r}, {str(tmp_path / 's.png')!r}, "-o", {str(tmp_path / 'o.png')!r},
             "--size", "32", "--steps", "2", "--quiet"]) == 0
assert studio.services.executors.default_executor().__class__.__name__ == "LocalExecutor"
print("ray" in sys.modules)
"""
    done = _python(code, {"NST_RAY_ADDRESS": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False" and (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("address, message", [
    ("127.0.0.1:{port}", "The Ray cluster at 127.0.0.1:{port} cannot be reached"),
    ("ray://127.0.0.1:10001", "Ray Client address"),
])
def test_a_cluster_that_cannot_be_reached_is_one_line_from_the_cli(tmp_path: Path, address: str,
                                                                    message: str) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scene(64, 48).save(tmp_path / "c.png")
    stripes(48).save(tmp_path / "s.png")
    done = subprocess.run([sys.executable, "-m", "nst", str(tmp_path / "c.png"), str(tmp_path / "s.png"),
                           "-o", str(tmp_path / "o.png"), "--size", "32", "--steps", "2",
                           "--ray-address", address.format(port=port)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    err = done.stderr.strip()
    assert done.returncode == 2 and message.format(port=port) in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_a_cluster_that_cannot_be_reached_fails_the_studios_job_with_one_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = """
from tests.support.synthetic import scene, stripes
from nst import Settings
from studio.services.jobs import Job
job = Job(scene(64, 48), [stripes(48)], Settings(size=32, steps=2, device="cpu")).start()
assert job.join(60)
snap = job.snapshot()
print(snap.status)
print(snap.message)
"""
    done = _python(code, {"NST_RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert done.returncode == 0, done.stderr
    status, message = done.stdout.strip().splitlines()
    assert status == FAILED
    assert message.startswith(f"The Ray cluster at 127.0.0.1:{port} cannot be reached") and message.endswith(".")


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


def test_a_slow_reader_holds_the_worker_back(executor: RayExecutor) -> None:
    """Backpressure: while the reader sleeps, the worker stops a few records ahead (not 60)."""
    records = executor.submit(*inputs(), LONG).records()
    for record in records:
        if record.step == 3:
            break
    time.sleep(2.0)  # a few dozen steps' time
    later = [next(records) for _ in range(30)]
    records.close()
    gaps = [b.elapsed - a.elapsed for a, b in zip([record, *later], later)]
    paused_at = next(i for i, gap in enumerate(gaps) if gap > 1.0)  # the worker waited for the reader here
    assert paused_at <= 10, f"the worker ran {paused_at} records ahead of its reader"


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
@pytest.mark.slow  # a node is started and killed: README's quick loop leaves these out
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


@pytest.mark.slow  # a node is started and killed: README's quick loop leaves these out
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
