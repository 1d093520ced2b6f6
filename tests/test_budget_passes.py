"""Passes the memory plan counts beyond the optimiser's: the fast method's painting (at the output size
where it fits the budget, else smaller and enlarged, else refused with the figure), and the Auto
budget's share of the free memory, split among the runs that may share a device."""

from __future__ import annotations

import pytest
import torch

from nst.plan import budget
from nst.plan.budget import FAST_MIN_SIDE, default_budget, least_fast_budget, plan_fast, share_among
from nst.plan.footprint import FAST_PIXEL, fast_bytes
from nst.plan.schedule import shape_for
from nst.engine import run
from nst.core.errors import BudgetError
from nst.core.settings import Settings, format_bytes

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
SIZES = (2048, 1536)  # (width, height) of a print's content


def _fast(size: int, **changes) -> Settings:
    return Settings(method="fast", size=size, device="cpu", **changes)


def test_a_fast_run_paints_at_the_output_size_where_that_fits():
    plan = plan_fast(_fast(2048, max_memory=2**40), SIZES, CPU, held=0)
    assert plan.painted == plan.shape == (1536, 2048) and not plan.enlarged
    assert plan.tensors >= FAST_PIXEL * 1536 * 2048  # the painting at that size is counted


def test_where_it_does_not_fit_it_paints_at_the_largest_size_that_does():
    whole = plan_fast(_fast(2048, max_memory=2**40), SIZES, CPU, held=0).tensors
    least = least_fast_budget(_fast(2048), SIZES, CPU, held=0)
    assert least < whole
    held = 300 * 2**20  # what the process holds counts in the budget
    limit = held + (least + whole) // 2
    plan = plan_fast(_fast(2048, max_memory=limit), SIZES, CPU, held=held)
    assert plan.enlarged and plan.shape == (1536, 2048)
    assert FAST_MIN_SIDE < max(plan.painted) < 2048
    assert plan.painted[1] / plan.painted[0] == pytest.approx(2048 / 1536, rel=0.01)
    assert plan.peak <= limit
    # One pixel more a side would not have fitted.
    larger = fast_bytes(_fast(2048), plan.shape, shape_for(max(plan.painted) + 1, 2048, 1536), True)
    assert held + larger > limit


def test_below_the_least_it_is_refused_before_anything_runs_naming_the_figure():
    least = least_fast_budget(_fast(4096), SIZES, CPU, held=2**30)
    with pytest.raises(BudgetError) as refused:
        plan_fast(_fast(4096, max_memory=least - 2**20), SIZES, CPU, held=2**30)
    message = str(refused.value)
    assert f"needs at least {format_bytes(least)} of memory" in message
    assert "the 1G this process holds before the run" in message and "painting at 512 px" in message


def test_the_fast_result_under_a_tight_budget_is_painted_smaller_and_enlarged_to_the_output(content_image,
                                                                                          style_image):
    size = 1024
    settings = _fast(size)
    content = content_image.resize((size, size * 3 // 4))
    whole = plan_fast(settings.replace(max_memory=2**40), content.size, CPU, held=0).tensors
    least = least_fast_budget(settings, content.size, CPU, held=0)
    # This process's memory moves between the plan here and the engine's: the budget is set on the
    # engine's own plan, checked to paint smaller.
    tight = settings.replace(max_memory=budget.held_memory(CPU) + budget.HELD_GRAIN + (least + whole) // 2)
    plan = plan_fast(tight, content.size, CPU)
    assert plan.enlarged
    record = run(content, [style_image], tight)
    assert record.image.shape == (*plan.shape, 3) == (size * 3 // 4, size, 3)
    assert record.image16.shape == record.image.shape
    full = run(content, [style_image], settings.replace(max_memory=2**40)).image
    assert (record.image != full).any()  # a different painting: the network's at a smaller size


def test_the_auto_budget_is_split_among_the_runs_that_may_share_a_device(monkeypatch):
    monkeypatch.setattr(budget, "free_memory", lambda device: 2**30)
    try:
        assert default_budget(CPU) == 2**29  # half the free memory on the CPU
        share_among(2)
        assert default_budget(CPU) == 2**28
        with pytest.raises(BudgetError, match=r"half of the free memory, shared by 2 runs\) is 256M"):
            plan_fast(_fast(4096), (4096, 4096), CPU, held=0)
    finally:
        share_among(1)


def test_the_studio_splits_it_by_its_runs_per_device(monkeypatch):
    from studio.services.policy import ENV_MAX_RUNS, policy

    monkeypatch.setattr(budget, "free_memory", lambda device: 8 * 2**30)
    monkeypatch.setenv(ENV_MAX_RUNS, "4")
    policy.cache_clear()
    try:
        assert policy().max_runs_per_device == 4
        assert default_budget(CPU) == 2**30
    finally:
        policy.cache_clear()
        share_among(1)


def test_a_run_with_room_to_spare_says_how_much_the_allocator_may_keep_and_a_tight_one_does_not():
    from nst.plan.budget import plan_run
    from nst.core.memory import ALLOCATOR_SLACK
    from nst.core.settings import preset

    settings = preset("fast", size=1024, device="cpu")
    roomy = plan_run(settings.replace(max_memory=2**40), (1024, 768), [(512, 512)], CPU, held=2**29)
    assert not roomy.tight and roomy.resident == 2**29 + int(roomy.tensors * ALLOCATOR_SLACK) <= roomy.budget
    tight = plan_run(settings.replace(max_memory=2**29 + roomy.tensors), (1024, 768), [(512, 512)], CPU, held=2**29)
    assert tight.tight and tight.resident == tight.peak <= tight.budget
