"""Nothing a run returns is worse than the best image it evaluated: a grid of real runs."""

import pytest
import torch

from tests.support.synthetic import checks, gradient, scene, stripes
from nst.model.cache import GRAMS
from nst.engine import _resize, _Run, stylize
from nst.core.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # 13 grids of real runs: about 20 s, out of the quick loop

PAIRS = {"scene-stripes": (scene(48, 36), stripes(48)), "gradient-checks": (gradient(48, 36, seed=3), checks(48))}


def _tensor(image) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("init", ["content", "noise", "style", "fast"])
def test_each_scale_hands_on_the_best_image_it_evaluated(pair, init):
    """Two scales (24 → 48 px), a short and a longer budget. At each scale's end the record's
    image, scored afresh by that scale's objective, is no worse than the lowest total the scale
    recorded (up to the 8-bit rounding of the image), and the next scale starts from it."""
    content, style = PAIRS[pair]
    for steps in (5, 12):
        # "on": under "auto" the fast start would run at the output size only (nst.plan.schedule.WARM_STARTS)
        settings = Settings(size=48, min_scale=24, multiscale="on", steps=steps, init=init, precision="fp32",
                            preview_every=1000)
        records = list(stylize(content, [style], settings))
        run = _Run(content, [style], settings, None, GRAMS)
        assert len(run.plan.scales) == 2 and records[-1].done
        handed: torch.Tensor | None = None
        for index in range(len(run.plan.scales)):
            at_scale = [r for r in records if r.scale == index]
            scale = run.scale(index, handed)
            closing = _tensor(at_scale[-1].image)
            with torch.no_grad():
                score = scale.objective(closing)[1]["total"]
                start = scale.objective(_resize(handed, scale.shape))[1]["total"] if handed is not None else None
            best = min(r.losses["total"] for r in at_scale)
            assert at_scale[-1].losses["total"] == best, (steps, index)
            assert score <= best * 1.003, (steps, index, score, best)
            if start is not None:  # the scale's first evaluation is the previous scale's best, upsampled
                assert at_scale[0].losses["total"] == pytest.approx(start, rel=0.01), (steps, index)
            handed = closing


@pytest.mark.parametrize("init", ["content", "noise", "style", "fast", "image"])
def test_a_single_scale_run_keeps_moving_whatever_its_start(init):
    """The first scale optimises a contiguous copy of its start, whatever the start's layout (the
    fast result comes out of its network channels-last). When it did not, a single-scale run from
    the fast result stopped moving at its first rise: every later step evaluated the same point.
    Here the totals never repeat four times in a row, and each run ends below its start."""
    content, style = PAIRS["scene-stripes"]
    settings = Settings(size=48, multiscale="off", steps=25, init=init, precision="fp32", lr=4.0)
    start = gradient(48, 36, seed=5) if init == "image" else None
    run = _Run(content, [style], settings, None, GRAMS, start)
    assert run.scale(0, None).x.is_contiguous()
    totals = [r.losses["total"] for r in stylize(content, [style], settings, start=start)]
    assert all(len(set(totals[k:k + 4])) > 1 for k in range(len(totals) - 3)), totals
    assert totals[-1] < totals[0]
