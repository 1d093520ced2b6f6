"""Features compose: every method × start × extra × executor, at tiny sizes and a few steps.

Each case checks what a user would: the output has the size asked for, its losses are finite and
its pixels not flat, re-running the recipe written into the output gives the same image (same
thread count and precision: a seeded run repeats bit for bit; a tiled run, to rounding), a
``photo`` region keeps the photo, colour preserved keeps the photo's chroma, and a tight budget
tiles the run (the whole process's peak against a budget: tests/test_process_memory.py).

The Ray cases run on an in-process loopback cluster (one CPU per worker, so one torch thread): the
re-run goes through the cluster too. They, and the tiled cases, are slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.raycluster import SLOT, LocalCluster, local_cluster  # first: it imports Ray on loopback
from bench.region_quality import REGIONS, halves_mask, photo_region_ssim
from tests.support.synthetic import checks, scene, stripes
from nst.model import color
from nst.plan.budget import least_budget
from nst.engine import to_tensor
from nst.run.executor import Executor, LocalExecutor
from nst.io.images import png_bytes
from nst.io.recipe import make_recipe, read_recipe, settings_from_recipe
from nst.records import StepRecord
from nst.core.settings import Settings, preset

pytestmark = pytest.mark.cluster

SIZE, STEPS = 96, 4
TILED_SIZE = 384  # the tiled cases: several tiles with the shallow layers' 16 px halo
# Above the least budget: the last scale still tiles (up to about 48 MB above it at 384 px), and
# what the process holds may move a little between this plan and the run's own.
TILED_MARGIN = 24 * 2**20
SHALLOW = dict(content_layers=("conv3_2",), style_layers=("conv1_1", "conv2_1", "conv3_1"))
PHOTO_KEPT_SSIM = 0.8  # issue 18's goal for a photo region, at any start
CPU = torch.device("cpu")

METHODS = {"optimise": {"method": "gatys"}, "fast": {"method": "fast"}}
STARTS = {"content": {"init": "content"}, "fast": {"init": "fast"}, "noise": {"init": "noise", "seed": 3}}
EXTRAS = ("none", "regions", "blend", "colour", "tiled")
EXECUTORS = ("local", "ray")


def _cases() -> Iterator[Any]:
    for executor in EXECUTORS:
        for method in METHODS:
            for start in STARTS if method == "optimise" else ("-",):  # the fast method has no start
                for extra in EXTRAS:
                    slow = executor == "ray" or extra == "tiled"
                    yield pytest.param(method, start, extra, executor, id=f"{method}-{start}-{extra}-{executor}",
                                       marks=[pytest.mark.slow] if slow else [])


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(workers=1, cpus=1) as local:
        yield local


@pytest.fixture
def executor(request: pytest.FixtureRequest) -> Executor:
    if request.node.callspec.params["where"] == "local":
        return LocalExecutor()
    from nst.run.cluster import RayExecutor  # late: the local cases never import Ray's client

    ray_executor = RayExecutor(request.getfixturevalue("cluster").address, resource=SLOT, preview_side=None)
    ray_executor.connect()
    return ray_executor


def _least(where: str, settings: Settings, content: Image.Image, styles: list[Image.Image]) -> int:
    """The least budget the case runs in, as the process that will run it plans it (what it holds
    now, what the run would still load there, the smallest tiles): this one, or a worker of the
    cluster (a task there with the runs' resources)."""
    sizes = [s.size for s in styles]
    if where == "local":
        return least_budget(settings, content.size, sizes, CPU)
    import ray

    @ray.remote(num_cpus=1, resources={SLOT: 1})
    def least_on_a_worker() -> int:
        return least_budget(settings, content.size, sizes, torch.device("cpu"))

    return ray.get(least_on_a_worker.remote(), timeout=120)


def _settings(method: str, start: str, extra: str, where: str, executor: Executor
              ) -> tuple[Settings, Image.Image, list[Image.Image]]:
    size = TILED_SIZE if extra == "tiled" else SIZE
    content = scene(size, size * 2 // 3)
    styles = [stripes(64)]
    settings = preset("fast", size=size, steps=STEPS, device="cpu", preview_every=STEPS,
                      **METHODS[method], **STARTS.get(start, {}))
    if extra == "regions":
        settings = settings.replace(mask=halves_mask(content.size), regions=REGIONS)  # left half photo
    elif extra == "blend":
        styles.append(checks(64))
        settings = settings.replace(style_blend=(1.0, 1.0))
    elif extra == "colour":
        settings = settings.replace(preserve_color="luminance")
    elif extra == "tiled":
        settings = settings.replace(**SHALLOW)
        # Just above the least budget it can run in: at these sizes that and the untiled run are
        # close, and a shorter L-BFGS history would fill the gap before tiles. The budget bounds
        # the whole process, and the tiles follow the room that leaves, so the process that runs
        # the case first runs it until what it holds (oneDNN's kernels for the tiles' shapes
        # among it) stays put: the case's two runs then find the same room, and the same tiles.
        budget = None
        for _ in range(4):
            _final(executor, content, styles, settings if budget is None else settings.replace(max_memory=budget))
            least = _least(where, settings, content, styles) + TILED_MARGIN
            if least == budget:
                break
            budget = least
        settings = settings.replace(max_memory=budget)
    return settings, content, styles


def _final(executor: Executor, content: Image.Image, styles: list[Image.Image], settings: Settings
           ) -> tuple[StepRecord, list[StepRecord]]:
    records = list(executor.submit(content, styles, settings).records())
    assert records and records[-1].done and not records[-1].stopped
    return records[-1], records


@pytest.mark.parametrize("method,start,extra,where", list(_cases()))
def test_the_combination_works(method: str, start: str, extra: str, where: str, executor: Executor) -> None:
    settings, content, styles = _settings(method, start, extra, where, executor)
    final, records = _final(executor, content, styles, settings)

    # The size asked for, in the content's aspect; finite losses; a picture, not a flat field.
    height, width = round(content.height * settings.size / content.width), settings.size
    assert final.image.shape == (height, width, 3) and final.image16.shape == (height, width, 3)
    assert all(np.isfinite(v) for v in final.losses.values())
    assert final.image.std() > 1.0

    # The recipe written into the output re-runs to the same image. Tiled, to rounding only: the
    # budget bounds the whole process, whose resident memory moves a little from run to run in
    # one process, and the tiles follow the room it leaves; tiled runs agree with each other as
    # a tiled run does with an untiled one (tests/test_print.py argues that bound).
    recipe = read_recipe(png_bytes(final.image, make_recipe(settings)))
    for _ in range(3):  # tiled: until two runs in a row find the same room (a background thread of
        # an earlier test, the studio's step-cost measurement, can move this process's memory during
        # either run: in CI the first run once found room for 36 px tiles only, its re-run 172 px)
        again, _ = _final(executor, content, styles, settings_from_recipe(recipe))
        tiles = [(r.tiles.tile if r.tiles else None) for r in (final, again)]
        if tiles[0] == tiles[1]:
            break
        final = again  # the recipe is the same; the next re-run is compared with this one
    assert np.array_equal(again.image, final.image), f"the recipe's re-run differs (tiles {tiles})"

    if extra == "regions":
        # The photo half, away from its soft edge, is still the photo.
        ssim = photo_region_ssim(final.image, content, settings)
        assert ssim >= PHOTO_KEPT_SSIM, f"the photo region's luminance SSIM to the photo is {ssim:.2f}"
    if extra == "colour":
        # The photo's chroma (I and Q of YIQ), to 8-bit rounding: only luminance was styled.
        picture = np.asarray(content.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
        result, photo = (to_tensor(Image.fromarray(a), CPU) for a in (final.image, picture))
        chroma = (color.rgb_to_yiq(result)[1:] - color.rgb_to_yiq(photo)[1:]).abs()
        assert chroma.mean() < 2 / 255, float(chroma.mean())
    if extra == "tiled" and method == "optimise":
        # The output scale tiled, as the budget demands (tests/test_process_memory.py measures the
        # whole process's peak against the budget in a child process).
        last = [r for r in records if r.scale == final.n_scales - 1]
        assert last and all(r.tiles is not None and r.tiles.count >= 2 for r in last)
