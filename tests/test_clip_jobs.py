"""The studio's background clip (studio.services.clip_jobs.ClipJob) through a real local executor:
frames counted and timed, the flicker of each frame, the poster, Stop keeping a shorter playable
clip, a page that went away stopping it, a bad clip failing in one sentence, one clip per browser."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst.core.settings import Settings
from nst.run.executor import LocalExecutor
from nst.video import VideoOptions
from studio.services import clip_jobs
from studio.services.clip_jobs import ClipJob, ClipRun
from studio.services.jobs import DONE, FAILED, STOPPED
from tests.support.apptest import new_owner, wait_for
from tests.support.clips import pan, read_back, texture, write_clip

pytestmark = pytest.mark.unit

FAST = Settings(method="fast", size=96, device="cpu")
FRAMES = 8


@pytest.fixture(scope="module")
def style():
    return Image.fromarray(texture(64, 64, seed=3))


@pytest.fixture
def source(tmp_path):
    return write_clip(tmp_path / "pan.mp4", pan(96, 64, frames=FRAMES, step=2), FRAMES, 8, tone=440)


def job(source, style, out, **kwargs) -> ClipJob:
    return ClipJob(source, [style], FAST, out, VideoOptions(consistency=0.5), executor=LocalExecutor(),
                   name="pan.mp4", **kwargs)


def test_a_clip_runs_to_the_end_with_its_pace_flicker_and_poster(tmp_path, source, style):
    ended = []
    clip = job(source, style, tmp_path / "out.mp4", preview_interval=0,
               on_finish=lambda j, snap: ended.append(snap)).start()
    assert clip.join(120)
    [snap] = ended
    assert snap.status == DONE and clip.finished and not snap.stopping
    assert (snap.done, snap.total, snap.fraction) == (FRAMES, FRAMES, 1.0)
    assert snap.path == tmp_path / "out.mp4" and snap.codec == "libx264" and snap.sound == "copied"
    assert len(snap.flicker) == FRAMES and snap.flicker[0] is None
    assert all(f is not None and f >= 0 for f in snap.flicker[1:])  # a pan: no cut, every later frame measured
    assert snap.poster is not None and snap.poster.shape == (64, 96, 3)
    assert snap.latest is not None and snap.fps is not None and snap.fps > 0 and snap.elapsed > 0
    back = read_back(snap.path)
    assert back["frames"] == FRAMES and back["audio"] == "aac"
    # The poster is the first frame: the decoded one differs by H.264's loss at crf 18 only.
    assert np.abs(back["images"][0].astype(int) - snap.poster).mean() < 8


def test_stop_keeps_the_frames_done_as_a_playable_clip(tmp_path, style):
    long = write_clip(tmp_path / "long.mp4", pan(96, 64, frames=60, step=2), 60, 12)
    clip = job(long, style, tmp_path / "out.mp4").start()
    wait_for(lambda: clip.snapshot().done >= 2, 120, what="two frames")
    clip.stop()
    assert clip.snapshot().stopping or clip.finished
    assert clip.join(60)
    snap = clip.snapshot()
    assert snap.status == STOPPED and 2 <= snap.done < 60 and not snap.stopping
    assert read_back(snap.path)["frames"] == snap.done


def test_a_clip_whose_page_went_away_stops_itself(tmp_path, source, style):
    clip = job(source, style, tmp_path / "out.mp4", heartbeat_timeout=0.0, keepalive=lambda: False).start()
    assert clip.join(60)
    snap = clip.snapshot()
    assert snap.status in (STOPPED, "cancelled") and "went away" in snap.message
    assert snap.done < FRAMES


def test_a_file_that_is_not_a_clip_fails_in_one_sentence(tmp_path, style):
    bad = tmp_path / "photo.mp4"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    ended = []
    clip = job(bad, style, tmp_path / "out.mp4", on_finish=lambda j, snap: ended.append(snap)).start()
    assert clip.join(60)
    [snap] = ended
    assert snap.status == FAILED and snap.path is None
    assert snap.message == '"pan.mp4" is not a video clip this app reads (MP4, MOV, WebM, MKV or animated GIF).'
    assert not (tmp_path / "out.mp4").exists()


def test_one_clip_at_a_time_per_browser(tmp_path, source, style):
    owner = new_owner()
    first = ClipRun(job(source, style, tmp_path / "a.mp4"), owner, "pan.mp4", ["style"])
    assert clip_jobs.add(first) and clip_jobs.current(owner) is first
    first.job.start()
    second = ClipRun(job(source, style, tmp_path / "b.mp4"), owner, "pan.mp4", ["style"])
    assert clip_jobs.running(owner) and not clip_jobs.add(second)  # refused while the first runs
    assert first.job.join(120) and not clip_jobs.running(owner)
    assert clip_jobs.add(second) and clip_jobs.current(owner) is second  # the next one replaces it
