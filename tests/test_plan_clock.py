"""One plan, one clock: a run's plan (scales, tiles, steps, bytes) is built once, by the planner, and
published on the run's first record; the estimate before Start and the live ETA (the studio's and
the CLI's) are the same model, the plan's seconds per step at the device's step cost, scaled by
the pace measured over the steps timed so far. Plans of a 512 px run tiled at its top scale, and
(slow) the real run."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass

import pytest
import torch

from nst.cli.main import Progress
from nst.core.settings import Settings
from nst.engine import _Run, stylize
from nst.model.cache import GramCache
from nst.model.tiles import make_grid, whole
from nst.model.vgg import load_model
from nst.plan.budget import HELD_GRAIN, RunPlan, held_memory, least_budget, pass_grid, plan_run
from nst.plan.estimate import StepCost, estimate_seconds, planned_steps, remaining_seconds
from nst.records import StepRecord, loss_row
from nst.run.executor import LocalExecutor
from studio.services.jobs import Job
from studio.services.limiter import Limiter
from tests.support.synthetic import scene, stripes

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
SHALLOW = dict(content_layers=("conv3_2",), style_layers=("conv1_1", "conv2_1", "conv3_1"))  # a 16 px halo
SETTINGS = Settings(size=512, steps=4, multiscale="on", min_scale=256, device="cpu", preview_every=100, **SHALLOW)
CONTENT, STYLE = scene(512, 384), stripes(96)
COST = StepCost(fixed=0.01, per_megapixel=3.0)
STEP = 4 * 2**20  # between the budgets tried


def _layout(plan: RunPlan) -> list:
    return [(s.shape, s.steps, s.tile, s.targets_tile, s.history) for s in plan.scales]


@pytest.fixture(scope="module")
def plan() -> RunPlan:
    """The plan of SETTINGS halfway between the least budget and what it needs untiled: its coarse
    scale in one pass, its top scale in tiles (planned as if the process held nothing)."""
    sizes = [STYLE.size]
    least = least_budget(SETTINGS, CONTENT.size, sizes, CPU, held=0)
    untiled = plan_run(SETTINGS, CONTENT.size, sizes, CPU, held=0).peak
    made = plan_run(SETTINGS.replace(max_memory=(least + untiled) // 2), CONTENT.size, sizes, CPU, held=0)
    assert [s.tiled for s in made.scales] == [False, True]
    return made


def test_the_planner_builds_the_tile_grids_once(plan):
    coarse, top = plan.scales
    assert coarse.grid is None and coarse.forward == whole(*coarse.shape)  # one pass, each
    assert top.grid == make_grid(*top.shape, top.tile, plan.halo, plan.align) and top.grid.count >= 2
    assert top.forward == pass_grid(top.shape, top.targets_tile, plan.halo, plan.align)


def test_the_estimate_before_start_is_the_clock_at_step_zero(plan):
    settings = SETTINGS.replace(max_memory=plan.budget)
    per_step = planned_steps(plan, COST)
    estimate = estimate_seconds(settings, CONTENT.size, COST, [STYLE.size], plan)
    assert remaining_seconds(plan, [], 0, COST) == pytest.approx(estimate) == pytest.approx(sum(per_step))
    # A tiled step prices its tiles with their halos and the pass without gradients (a third of a
    # step's per pixel): dearer per pixel than an untiled one.
    coarse, top = plan.scales
    assert per_step[0] == pytest.approx(COST.seconds(coarse.pixels))
    assert per_step[-1] == pytest.approx(COST.seconds(top.grid.pixels + round(top.forward.pixels / 3)))
    assert per_step[-1] > COST.seconds(top.pixels)


def test_the_eta_follows_the_measured_pace(plan):
    per_step = planned_steps(plan, COST)
    coarse_steps = plan.scales[0].steps
    assert coarse_steps >= 2
    # Each step took twice its plan: the rest of the run is expected at twice its plan too. The
    # first step of a scale (its targets) is not timed.
    rows, elapsed = [], 5.0  # the model and the first targets
    for step in range(1, coarse_steps + 2):
        elapsed += 2 * per_step[step - 1] + (7.0 if step == coarse_steps + 1 else 0.0)
        rows.append({"step": step, "scale": 0 if step <= coarse_steps else 1, "elapsed_s": elapsed})
    assert remaining_seconds(plan, rows[:1], 1, COST) == pytest.approx(sum(per_step[1:]))  # nothing timed yet
    for done in (coarse_steps, coarse_steps + 1):
        assert remaining_seconds(plan, rows[:done], done, COST) == pytest.approx(2 * sum(per_step[done:]))
    # Without a step cost (the CLI, a cluster's run), the pace alone prices the rest, the plan's
    # steps weighed by the pixels they compute; no figure before a step is timed.
    assert remaining_seconds(plan, rows[:1], 1) is None
    unit = planned_steps(plan, None)
    pace = (rows[coarse_steps - 1]["elapsed_s"] - rows[0]["elapsed_s"]) / sum(unit[1:coarse_steps])
    assert remaining_seconds(plan, rows[:coarse_steps], coarse_steps) == \
        pytest.approx(pace * sum(unit[coarse_steps:]))


def test_the_cli_and_the_studio_show_the_same_eta(plan):
    """The CLI's progress and the studio's job fold the same records into the same ETA: before the
    first record the estimate, then the plan the first record carries at the measured pace."""
    settings = SETTINGS.replace(max_memory=plan.budget)
    estimate = estimate_seconds(settings, CONTENT.size, COST, [STYLE.size], plan)
    per_step = planned_steps(plan, COST)
    progress = Progress(io.StringIO(), log_every=0, quiet=True, cost=COST)
    job = Job(CONTENT, [STYLE], settings, executor=LocalExecutor(gate=Limiter(1)), estimate=estimate, cost=COST)
    assert job.snapshot().eta == pytest.approx(estimate) and not job.snapshot().paced  # the estimate before Start
    scales = [index for index, scale in enumerate(plan.scales) for _ in range(scale.steps)]
    elapsed, etas = 3.0, []
    for step, scale in enumerate(scales[:-1], start=1):
        elapsed += 1.5 * per_step[step - 1]
        record = StepRecord(step=step, total_steps=len(scales), scale=scale, n_scales=len(plan.scales),
                            shape=plan.scales[scale].shape, losses={"total": 1.0}, raw={}, elapsed=elapsed,
                            plan=plan if step == 1 else None)
        progress.update(record)
        job._take(record)
        etas.append(job.snapshot().eta)
        assert etas[-1] is not None and progress.eta == pytest.approx(etas[-1])
    assert etas[0] == pytest.approx(estimate - per_step[0])  # the first record: nothing timed yet
    assert etas[-1] == pytest.approx(1.5 * per_step[-1]) and job.snapshot().paced


# -- the real run (slow): the plan it publishes is the one Start saw, and the tiles it used ------------

@pytest.fixture(scope="module")
def tiled() -> Settings:
    """SETTINGS with a max_memory at which the top scale runs in tiles and the coarse one does not,
    in the middle of the widest span of budgets that give the same plan: what this process holds
    moves a little between a plan made here and the engine's own (HELD_GRAIN at a time)."""
    load_model("bundled")  # loaded before both plans (the plan counts the weights a run will load)
    sizes = [STYLE.size]
    least = least_budget(SETTINGS, CONTENT.size, sizes, CPU, held=0)
    untiled = plan_run(SETTINGS, CONTENT.size, sizes, CPU, held=0).peak
    spans: list[list] = []  # [first room, last room, layout] of each run of equal plans
    for room in range(least, untiled, STEP):
        plan = plan_run(SETTINGS.replace(max_memory=room), CONTENT.size, sizes, CPU, held=0)
        if not (plan.scales[-1].tiled and not plan.scales[0].tiled):
            continue
        if spans and spans[-1][2] == _layout(plan) and spans[-1][1] == room - STEP:
            spans[-1][1] = room
        else:
            spans.append([room, room, _layout(plan)])
    first, last, _ = max(spans, key=lambda span: span[1] - span[0])
    assert last - first >= 2 * HELD_GRAIN, spans  # room for the process to move either way
    return SETTINGS.replace(max_memory=held_memory(CPU) + (first + last) // 2)


@dataclass
class Started:
    """A run as Start sees it: the plan and the estimate made just before, then the run's records."""

    plan: RunPlan
    estimate: float
    records: list[StepRecord]


@pytest.fixture(scope="module")
def started(tiled) -> Started:
    plan = plan_run(tiled, CONTENT.size, [STYLE.size], CPU)
    estimate = estimate_seconds(tiled, CONTENT.size, COST, [STYLE.size])  # as the form does: it plans again
    return Started(plan, estimate, list(stylize(CONTENT, [STYLE], tiled)))


@pytest.mark.slow
def test_the_first_record_carries_the_plan_start_saw_and_the_tiles_the_run_used(tiled, started):
    records = started.records
    first = records[0]
    assert first.step == 1 and first.plan is not None
    assert all(r.plan is None for r in records[1:])  # published once
    plan = first.plan
    assert _layout(plan) == _layout(started.plan)  # the plan Start saw
    assert sum(s.steps for s in plan.scales) == tiled.steps == len(records)
    for record in records:
        scale = plan.scales[record.scale]
        assert record.shape == scale.shape
        if scale.grid is None:
            assert record.tiles is None
        else:  # the step's grid is shifted at random, on the plan's tiles: their shape, number and pixels
            assert record.tiles is not None and (record.tiles.tile, record.tiles.count, record.tiles.pixels) == \
                (scale.grid.tile, scale.grid.count, scale.grid.pixels)
    assert any(record.tiles is not None for record in records)
    assert pickle.loads(pickle.dumps(first)).plan == plan  # it crosses Ray with the record
    # The estimate before Start is the ETA before the first step; after it, less that step's plan.
    assert remaining_seconds(plan, [], 0, COST) == pytest.approx(started.estimate)
    assert remaining_seconds(plan, [loss_row(first)], 1, COST) == \
        pytest.approx(started.estimate - planned_steps(plan, COST)[0])


@pytest.mark.slow
def test_the_engine_cuts_its_passes_by_the_plan_s_grids(tiled):
    run = _Run(CONTENT, [STYLE], tiled, None, GramCache())
    top = run.plan.scales[-1]
    scale = run.scale(len(run.plan.scales) - 1, None)
    assert scale.objective.tiling is not None and scale.objective.tiling.forward is top.forward
    assert scale.objective.tiling.tile == top.tile
