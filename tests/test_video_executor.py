"""A clip through the executor seam in this process (nst.run.executor.LocalExecutor.submit_clip):
the frames stream from the worker's thread, the clip waits behind the device's gate like any run,
and a cancelled clip still ends with a playable shorter clip."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from nst.core.settings import Settings
from nst.run.executor import LocalExecutor
from nst.video import VideoOptions
from studio.services.limiter import Limiter
from tests.support.clips import pan, read_back, texture, write_clip

pytestmark = pytest.mark.unit

FAST = Settings(method="fast", size=128, device="cpu")


@pytest.fixture(scope="module")
def style():
    return Image.fromarray(texture(64, 64, seed=3))


def test_a_clip_streams_its_frames_through_the_executor(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(128, 96, frames=6, step=2), 6, 8)
    started = []
    handle = LocalExecutor().submit_clip(source, [style], FAST, tmp_path / "out.mp4", VideoOptions(consistency=0.5),
                                         on_start=lambda: started.append(True), name="pan.mp4",
                                         extra={"content": "pan.mp4"})
    records = list(handle.records())
    assert started == [True] and [r.index for r in records[:-1]] == list(range(6))
    assert records[-1].done and records[-1].path == tmp_path / "out.mp4"
    assert read_back(records[-1].path)["frames"] == 6


def test_a_clip_waits_behind_the_gate_and_a_cancel_keeps_a_shorter_clip(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(128, 96, frames=20, step=2), 20, 8)
    gate = Limiter(slots=1)
    holder = object()
    assert gate.acquire("cpu", holder, lambda: False)
    stop = threading.Event()
    handle = LocalExecutor(gate).submit_clip(source, [style], FAST, tmp_path / "out.mp4", cancelled=stop.is_set)
    records = handle.records()
    waited = []

    def read() -> None:
        for record in records:
            waited.append(record)
            if record.index == 2:
                stop.set()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(0.5)
    assert handle.position() == 1 and not waited  # behind the holder
    gate.release("cpu", holder)
    reader.join(60)
    assert waited[-1].done and waited[-1].stopped
    assert 3 <= read_back(waited[-1].path)["frames"] < 20
