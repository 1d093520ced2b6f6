"""Stop at any size (real engine runs on the CPU): the run checks its stop signal between layers,
between tiles and between passes, not only between steps, abandons the step in progress, and
ends with the last image it finished; it tells what it is doing on the way (``progress``)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from tests.support.synthetic import scene, stripes
from nst.plan.budget import held_memory, least_budget, plan_run
from nst.engine import stylize
from nst.core.settings import Settings

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
# Layers up to conv3_2: a halo of 16 px, so that a small image already splits into several tiles.
SHALLOW = dict(content_layers=("conv3_2",), style_layers=("conv1_1", "conv2_1", "conv3_1"))


class StopAt:
    """A real stop event, set by the run's own progress report once it names ``phase`` (and the
    test has armed it): the stop then lands at a known point inside a step or a pass."""

    def __init__(self, phase: str, armed: bool = True) -> None:
        self.phase, self.armed = phase, armed
        self.event = threading.Event()
        self.heard: list[str] = []

    def is_set(self) -> bool:
        return self.event.is_set()

    def progress(self, text: str) -> None:
        self.heard.append(text)
        if self.armed and self.phase in text:
            self.event.set()


@pytest.mark.slow
def test_a_stop_during_a_long_step_abandons_it_within_a_fraction_of_the_step():
    """768 px, one pass per step (a step takes seconds here): Stop set a quarter into step 3 ends
    the run long before step 3 would have ended, with step 2's image. Before, the step ran to its
    end and one more record came first. The bound is relative to this run's own step time, so load
    on the machine scales both sides."""
    content, style = scene(768, 576), stripes(256)
    stop = threading.Event()
    run = stylize(content, [style], Settings(size=768, steps=20, multiscale="off", device="cpu"), stop=stop)
    assert next(run).step == 1
    began = time.perf_counter()
    assert next(run).step == 2
    step_seconds = time.perf_counter() - began
    set_at: list[float] = []

    def press() -> None:
        set_at.append(time.perf_counter())
        stop.set()

    timer = threading.Timer(step_seconds / 4, press)
    timer.start()
    record = next(run)
    ended = time.perf_counter()
    timer.join()
    assert record.stopped and record.done and record.step == 2, record
    assert record.image is not None and record.image.shape == (576, 768, 3)
    assert record.image16 is not None and np.isfinite(record.losses["total"])
    assert ended - set_at[0] < step_seconds / 2, (ended - set_at[0], step_seconds)
    with pytest.raises(StopIteration):
        next(run)


@pytest.mark.slow
def test_a_stop_between_tiles_abandons_the_tiled_step():
    """A tiled scale: Stop set when the gradient pass reaches its second tile ends the run there,
    with step 1's image; the run said which tile it was at."""
    content, style = scene(512, 384), stripes(192)
    settings = Settings(size=512, steps=10, multiscale="off", device="cpu", **SHALLOW)
    sizes = [style.size]
    untiled = plan_run(settings, content.size, sizes, CPU, held=0).peak
    least = least_budget(settings, content.size, sizes, CPU, held=0)
    settings = settings.replace(max_memory=held_memory(CPU) + (untiled + least) // 2)
    stop = StopAt("gradient pass, tile 2 of", armed=False)
    run = stylize(content, [style], settings, stop=stop)
    first = next(run)
    assert first.step == 1 and first.tiles is not None and first.tiles.count > 2
    assert any(f"gradient pass, tile {first.tiles.count} of {first.tiles.count}" in t for t in stop.heard)
    stop.armed = True
    record = next(run)
    assert record.stopped and record.step == 1 and record.image is not None and record.image.shape == (384, 512, 3)
    assert stop.heard[-1].endswith(f"gradient pass, tile 2 of {first.tiles.count}"), stop.heard[-3:]


def test_a_stop_while_the_style_targets_are_made_ends_before_the_first_step():
    content, style = scene(160, 120), stripes(96)
    stop = StopAt("style targets")
    records = list(stylize(content, [style], Settings(size=160, steps=5, multiscale="off", device="cpu"), stop=stop))
    assert len(records) == 1
    (record,) = records
    assert record.stopped and record.done and record.step == 0 and record.image.shape == (120, 160, 3)
    assert "preparing the style targets" in stop.heard


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_a_stop_while_the_next_scale_is_prepared_keeps_the_last_scale_image():
    """Two scales: Stop set while the second scale's targets are made ends the run with the first
    scale's result at the output size, at the first scale's last step."""
    content, style = scene(192, 144), stripes(96)
    settings = Settings(size=192, steps=8, multiscale="on", min_scale=96, device="cpu")
    stop = StopAt("scale 2 of 2, preparing")
    records = list(stylize(content, [style], settings, stop=stop))
    done_first = [r for r in records if not r.stopped]
    final = records[-1]
    assert final.stopped and final.scale == 0 and final.step == done_first[-1].step
    assert final.image.shape == (144, 192, 3)
    # The first scale's outcome, upsampled: close to its last record's image (bicubic on a smooth result).
    assert done_first[-1].image is not None and done_first[-1].image.shape != final.image.shape


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_a_run_reports_its_passes_as_it_goes():
    content, style = scene(96, 72), stripes(64)
    stop = StopAt("never said")
    records = list(stylize(content, [style], Settings(size=96, steps=2, multiscale="off", device="cpu"), stop=stop))
    assert records[-1].done and not records[-1].stopped
    assert stop.heard[0] == "preparing the content target"
    assert "preparing the style targets" in stop.heard and "step 1" in stop.heard and "step 2" in stop.heard
