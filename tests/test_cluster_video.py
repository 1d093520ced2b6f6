"""Clips on a real local Ray cluster (tests/support/raycluster.py: a head that runs nothing and two
worker nodes of one CPU and one ``nst_slot`` each, on 127.0.0.1) through the executor seam
(:meth:`nst.run.cluster.RayExecutor.submit_clip`): the frames styled on the workers and the clip
written here with the input's rate and sound, Stop keeping a shorter playable clip, a clip fanned
out in two parts giving the frames of one run in order, and a bad clip refused before anything is
sent; a node lost mid-clip, retried from the next frame. The cluster is started once for this
module."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.raycluster import SLOT, LocalCluster, local_cluster  # first: it imports Ray on loopback
from nst.cli.main import main
from nst.core.errors import VideoError
from nst.core.settings import Settings
from nst.io.video_files import read_clip_recipe
from nst.run.clip_parts import MIN_PART_FRAMES
from nst.run.cluster import BACKPRESSURE, RayExecutor
from nst.video import VideoOptions, stylize_video
from tests.support.clips import pan, read_back, texture, write_clip

pytestmark = pytest.mark.cluster

FAST = Settings(method="fast", size=96, device="cpu")  # the clips' own size
FRAMES = 2 * MIN_PART_FRAMES + 4  # long enough to be split in two parts


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(workers=2, cpus=1) as local:
        yield local


@pytest.fixture(scope="module")
def executor(cluster: LocalCluster) -> RayExecutor:
    executor = RayExecutor(cluster.address, resource=SLOT, clip_chunks=1)
    executor.connect()
    return executor


@pytest.fixture(scope="module")
def style() -> Image.Image:
    return Image.fromarray(texture(64, 64, seed=3))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    return write_clip(folder / "pan.mp4", pan(96, 64, frames=FRAMES, step=2), FRAMES, 12, tone=330.0)


def test_a_clip_is_styled_on_the_cluster_and_written_here_with_its_rate_and_sound(
        executor: RayExecutor, source: Path, style: Image.Image, tmp_path: Path) -> None:
    started = []
    out = tmp_path / "out.mp4"
    handle = executor.submit_clip(source, [style], FAST, out, VideoOptions(consistency=0.5),
                                  on_start=lambda: started.append(True), extra={"content": "pan.mp4"})
    records = list(handle.records())
    assert started == [True] and handle.position() == 0 and handle.notice() == ""
    assert [r.index for r in records[:-1]] == list(range(FRAMES)) and all(r.total == FRAMES for r in records)
    last = records[-1]
    assert last.done and not last.stopped and last.path == out and last.sound == "copied"
    back = read_back(out)
    assert (back["frames"], back["fps"], back["audio"]) == (FRAMES, 12, "aac")
    assert read_clip_recipe(out)["video"]["consistency"] == 0.5
    assert records[0].flicker is None and all(r.flicker is not None for r in records[1:-1])
    # The worker styled each frame as this process does, given one torch thread as the worker has
    # (its one CPU): under bf16 a sum split over two threads rounds differently.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = [r.image for r in stylize_video(source, [style], FAST, tmp_path / "local.mp4", VideoOptions(0.5))][:-1]
    finally:
        torch.set_num_threads(threads)
    assert all(np.array_equal(r.image, image) for r, image in zip(records[:-1], local))


def test_stop_mid_clip_keeps_a_shorter_playable_clip(executor: RayExecutor, source: Path, style: Image.Image,
                                                     tmp_path: Path) -> None:
    stop = threading.Event()
    out = tmp_path / "short.mp4"
    records = []
    for record in executor.submit_clip(source, [style], FAST, out, cancelled=stop.is_set).records():
        records.append(record)
        if record.index == 5:
            stop.set()
    last = records[-1]
    assert last.done and last.stopped and last.path == out
    done = last.index + 1
    assert 6 <= done < FRAMES  # the frames already on their way still come, then no more
    back = read_back(out)
    assert back["frames"] == done and back["audio"] == "aac"


def test_a_clip_fanned_out_in_two_parts_gives_the_frames_of_one_run_in_order(
        cluster: LocalCluster, executor: RayExecutor, source: Path, style: Image.Image, tmp_path: Path) -> None:
    fanned = RayExecutor(cluster.address, resource=SLOT, clip_chunks=2)
    # Consistency 0: each frame is the network's alone, so the two parts must give exactly the
    # frames of one run (each worker has one CPU, so one torch thread and the same sums).
    alone = executor.submit_clip(source, [style], FAST, tmp_path / "one.mp4", VideoOptions(consistency=0))
    one = list(alone.records())
    parts = fanned.submit_clip(source, [style], FAST, tmp_path / "two.mp4", VideoOptions(consistency=0))
    assert [(first, end) for first, end in parts.bounds] == [(0, FRAMES // 2), (FRAMES // 2, FRAMES)]
    two = list(parts.records())
    assert [r.index for r in two[:-1]] == list(range(FRAMES)) and two[-1].path == tmp_path / "two.mp4"
    assert all(np.array_equal(a.image, b.image) for a, b in zip(one[:-1], two[:-1]))
    assert read_back(tmp_path / "two.mp4")["frames"] == FRAMES
    # Both parts ran at once, one on each worker node.
    assert {part.node_id for part in parts.parts} == {node.node_id for node in cluster.workers}

    # With consistency on, the second part's first frame is held to the frame before it, which its
    # worker styled unshown: it has a flicker of its own, as every frame after the first has.
    held = list(fanned.submit_clip(source, [style], FAST, tmp_path / "held.mp4", VideoOptions(0.7)).records())
    assert [r.index for r in held[:-1]] == list(range(FRAMES))
    assert held[0].flicker is None and all(r.flicker is not None for r in held[1:-1])


def test_stop_in_a_fanned_out_clip_keeps_the_frames_before_the_gap(
        cluster: LocalCluster, source: Path, style: Image.Image, tmp_path: Path) -> None:
    fanned = RayExecutor(cluster.address, resource=SLOT, clip_chunks=2)
    stop = threading.Event()
    records = []
    for record in fanned.submit_clip(source, [style], FAST, tmp_path / "short.mp4", cancelled=stop.is_set).records():
        records.append(record)
        if record.index == 3:
            stop.set()
    last = records[-1]
    assert last.stopped and [r.index for r in records[:-1]] == list(range(last.index + 1))
    assert last.index + 1 < FRAMES // 2  # nothing of the second part follows the gap
    assert read_back(last.path)["frames"] == last.index + 1


def test_a_bad_clip_is_refused_here_before_anything_is_sent(executor: RayExecutor, style: Image.Image,
                                                            tmp_path: Path) -> None:
    fake = tmp_path / "photo.mp4"
    Image.fromarray(texture(32, 32)).save(fake, format="PNG")  # an image renamed .mp4
    with pytest.raises(VideoError) as local:
        list(stylize_video(fake, [style], FAST, tmp_path / "local.mp4"))
    with pytest.raises(VideoError) as remote:
        executor.submit_clip(fake, [style], FAST, tmp_path / "out.mp4")
    assert str(remote.value) == str(local.value)
    # Refused before the cluster is even asked: an executor whose address nobody answers says the same.
    nobody = RayExecutor("127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(VideoError, match=str(local.value)[:20]):
        nobody.submit_clip(fake, [style], FAST, tmp_path / "out.mp4")
    assert time.monotonic() - started < 5 and nobody.queue is None
    assert not list(tmp_path.glob("*out*"))


def test_the_cli_styles_a_clip_on_the_cluster(cluster: LocalCluster, source: Path, tmp_path: Path, capsys) -> None:
    Image.fromarray(texture(64, 64, seed=3)).save(tmp_path / "style.png")
    out = tmp_path / "styled.mp4"
    code = main([str(source), str(tmp_path / "style.png"), "-o", str(out), "--size", "96", "--device", "cpu",
                 "--ray-address", cluster.address])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"saved {out} ({FRAMES} frames" in err and "sound copied" in err
    assert read_back(out)["frames"] == FRAMES


@pytest.mark.slow  # a node is killed and started again
def test_a_node_lost_mid_clip_is_retried_from_the_next_frame(cluster: LocalCluster, executor: RayExecutor,
                                                            source: Path, style: Image.Image, tmp_path: Path) -> None:
    cluster.ensure_workers(2)
    handle = executor.submit_clip(source, [style], FAST, tmp_path / "out.mp4")
    indices = []
    for record in handle.records():
        indices.append(record.index)
        if record.index == 8:
            cluster.remove_worker(handle.parts[0].node_id)  # as if the machine crashed
    assert indices[:-1] == list(range(FRAMES)), "the retry goes on from the next frame: none twice, none missing"
    said = re.fullmatch(r"The Ray worker running this run (lost its node|died) at frame (\d+); the run was started"
                        r" again on another worker\.", handle.notice())
    assert said and 9 <= int(said[2]) <= 9 + BACKPRESSURE, handle.notice()  # frames already on their way count
    assert read_back(tmp_path / "out.mp4")["frames"] == FRAMES
    cluster.ensure_workers(2)


def test_the_studios_clip_job_runs_on_the_cluster(executor: RayExecutor, source: Path, style: Image.Image,
                                                 tmp_path: Path) -> None:
    """The Video page's job (studio.services.clip_jobs.ClipJob) with NST_RAY_ADDRESS's executor: the
    frames counted live and the finished clip here, as with the local executor."""
    from studio.services.clip_jobs import ClipJob
    from studio.services.jobs import DONE

    job = ClipJob(source, [style], FAST, tmp_path / "out.mp4", VideoOptions(consistency=0.5), executor=executor,
                  name="pan.mp4").start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == DONE and (snap.done, snap.total) == (FRAMES, FRAMES), snap.message
    assert len(snap.flicker) == FRAMES and snap.poster is not None
    assert read_back(snap.path)["frames"] == FRAMES
