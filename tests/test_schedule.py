"""The schedule of a print (nst.plan.schedule): a warm start settles at the working size, then goes up
about ×2 a scale with a few steps at each; the plan, the engine and the time estimates follow it."""

from __future__ import annotations

import math

import pytest
import torch

from tests.support.synthetic import scene, stripes
from nst.plan.budget import plan_run
from nst.engine import _Run
from nst.model.cache import GramCache
from nst.plan.estimate import StepCost, estimate_seconds, remaining_seconds
from nst.plan.schedule import TOP_STEPS, WORKING_SIZE, scale_plan, scale_sides, scale_steps, warm_steps
from nst.core.settings import Settings, continued, preset

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


@pytest.mark.parametrize("init", ["fast", "image"])
def test_a_warm_start_settles_at_the_working_size_then_goes_up_by_about_twice(init):
    for size in (WORKING_SIZE + 1, 700, 1024, 1500, 2048, 3000, 4096):
        sides = scale_sides(size, Settings(init=init))
        assert sides[0] == WORKING_SIZE and sides[-1] == size
        ratios = [b / a for a, b in zip(sides, sides[1:])]
        assert all(1 < r <= 2 for r in ratios), (size, sides)
        assert len(sides) == 1 + math.ceil(math.log2(size / WORKING_SIZE) - 1e-9)  # no more scales than ×2 needs
    assert scale_sides(2048, Settings(init="fast")) == [512, 1024, 2048]
    assert scale_sides(4096, Settings(init="fast")) == [512, 1024, 2048, 4096]


def test_at_or_below_the_working_size_and_outside_auto_nothing_changes():
    for size in (64, 300, WORKING_SIZE):
        assert scale_sides(size, Settings(init="fast")) == [size]
        assert scale_steps(Settings(init="fast", size=size, steps=60)) == [60]
    assert scale_sides(2048, Settings(init="fast", multiscale="off")) == [2048]
    assert scale_sides(2048, continued(Settings(init="fast", size=1024))) == [2048]  # Continue at 2×: its size only
    on = Settings(init="fast", multiscale="on")
    assert scale_sides(2048, on) == [128, 256, 512, 1024, 2048]  # "on": coarse to fine from min_scale
    assert scale_sides(2048, Settings()) == [128, 256, 512, 1024, 2048]  # from the content, as before


def test_the_steps_go_mostly_to_the_working_size():
    assert scale_steps(preset("fast", size=2048)) == [60 - 2 * TOP_STEPS, TOP_STEPS, TOP_STEPS]
    for total in range(1, 400, 7):
        for scales in (2, 3, 4):
            steps = warm_steps(total, scales)
            assert sum(steps) == total and len(steps) == scales and steps[-1] >= 1
            if total >= scales:
                assert all(n >= 1 for n in steps)  # every scale steps, so each hands on its own result
                assert steps[0] >= total / 2  # the working size keeps at least half, short budgets too


def test_the_plan_and_the_estimates_follow_the_schedule():
    """Memory plan, time estimate and the live ETA price the same scales: a 2048 px fast run costs
    its working-size steps plus a few large ones, not 60 at 2048 px."""
    settings = preset("fast", size=2048, device="cpu")
    size = (1024, 768)
    plan = plan_run(settings, size, [(1024, 640)], CPU, held=0)
    schedule = scale_plan(settings, size)
    assert [(s.shape, s.steps) for s in plan.scales] == [(s.shape, s.steps) for s in schedule]
    assert [s.side for s in plan.scales] == [512, 1024, 2048]

    cost = StepCost(fixed=0.05, per_megapixel=4.0)
    expected = sum(s.steps * cost.seconds(s.pixels) for s in schedule)  # untiled: the default budget
    assert estimate_seconds(settings, size, cost, [(1024, 640)], plan) == pytest.approx(expected)
    at_output = estimate_seconds(settings.replace(multiscale="off"), size, cost, [(1024, 640)],
                                 plan_run(settings.replace(multiscale="off"), size, [(1024, 640)], CPU, held=0))
    assert expected < at_output / 3

    # The ETA after 10 steps at the working size, 0.5 s each: the rest of that scale, then the two
    # larger scales, each step priced as the estimate prices it, at the pace measured.
    rows = [{"step": k, "scale": 0, "elapsed_s": 0.5 * k} for k in range(1, 11)]
    first, second, third = schedule
    left = (first.steps - 10) * cost.seconds(first.pixels) + second.steps * cost.seconds(second.pixels) \
        + third.steps * cost.seconds(third.pixels)
    assert remaining_seconds(plan, rows, 10, cost) == pytest.approx(left * 0.5 / cost.seconds(first.pixels))


def test_the_style_image_scales_with_each_scale():
    """Each scale's style image has the scale's side × style_scale (the print keeps the preview's
    stroke size relative to the picture: the Gram targets' keys carry the style image's shape),
    and the fast start is painted at the working size."""
    content, style = scene(640, 480), stripes(600)
    settings = preset("fast", size=600, steps=4, style_scale=0.5, device="cpu")
    cache = GramCache()
    run = _Run(content, [style], settings, None, cache)
    assert [s.side for s in run.plan.scales] == [512, 600]
    assert tuple(run.start.shape[-2:]) == run.plan.scales[0].shape  # painted at the working size
    previous = None
    for index, plan in enumerate(run.plan.scales):
        known = set(cache._items)
        scale = run.scale(index, previous)
        (key,) = set(cache._items) - known  # this scale's style Grams
        side = round(plan.side * settings.style_scale)
        assert key[0].endswith(str((3, side, side))), (key[0], side)  # stripes are square
        assert scale.shape == plan.shape
        previous = scale.result()
