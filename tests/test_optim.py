"""The box-constrained optimisers on problems with known answers, and what they spare the process."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nst.model.optim import BoxAdam, BoxLBFGS

pytestmark = pytest.mark.unit


def _quadratic(x: torch.Tensor, target: torch.Tensor, scales: torch.Tensor):
    """Closure of Σ scale·(x − target)², an ill-conditioned bowl whose minimiser in [0, 1] is
    target clamped to the box. Like the engine's, it leaves the backward to the optimiser."""
    def closure() -> torch.Tensor:
        x.grad = None
        return (scales * (x - target) ** 2).sum()
    return closure


def _with_backward(closure):
    """The closure as torch.optim expects it: it differentiates the loss itself."""
    def differentiated() -> torch.Tensor:
        loss = closure()
        loss.backward()
        return loss
    return differentiated


@pytest.fixture
def bowl():
    torch.manual_seed(0)
    target = torch.rand(3, 8, 8) * 1.6 - 0.3  # about a third of it outside [0, 1]
    scales = torch.logspace(0, 2, target.numel()).reshape(target.shape)  # condition number 100
    return target, scales


def test_lbfgs_finds_the_box_constrained_minimum(bowl):
    target, scales = bowl
    x = torch.full_like(target, 0.5).requires_grad_(True)
    optimizer = BoxLBFGS(x, lr=1.0)
    closure = _quadratic(x, target, scales)
    losses = [optimizer.step(closure).item() for _ in range(100)]
    assert x.min() >= 0 and x.max() <= 1  # never outside the box, not even between steps
    assert torch.allclose(x.detach(), target.clamp(0, 1), atol=1e-4)
    assert losses[-1] < losses[0]


def test_lbfgs_converges_as_fast_as_torchs_inside_the_box(bowl):
    """Where the box is not in the way, as good as torch.optim.LBFGS with the same settings."""
    target, scales = bowl
    inside = target.clamp(0.05, 0.95)
    errors = []
    for make, wrap in ((lambda x: BoxLBFGS(x, lr=1.0), lambda c: c),
                       (lambda x: torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=10,
                                                    tolerance_grad=0.0, tolerance_change=0.0), _with_backward)):
        x = torch.full_like(target, 0.5).requires_grad_(True)
        optimizer, closure = make(x), wrap(_quadratic(x, inside, scales))
        for _ in range(40):
            optimizer.step(closure)
        errors.append((x.detach() - inside).abs().max().item())
    ours, reference = errors
    assert reference < 0.01 and ours <= 1.5 * reference


def test_lbfgs_backs_off_a_step_that_goes_uphill(bowl):
    """A step size far too long for the bowl: fixed steps would climb, backtracking still
    converges, and an uphill evaluation is never the point the next step starts from."""
    target, scales = bowl
    inside = target.clamp(0.05, 0.95)
    x = torch.full_like(target, 0.5).requires_grad_(True)
    optimizer = BoxLBFGS(x, lr=8.0)
    closure = _quadratic(x, inside, scales)
    losses = [optimizer.step(closure).item() for _ in range(80)]
    assert max(losses[1:]) > losses[0]  # it did overshoot …
    assert losses[-1] < 1e-6 * losses[0]  # … and recovered
    assert torch.allclose(x.detach(), inside, atol=1e-3)


def test_adam_matches_torch_adam_inside_the_box():
    torch.manual_seed(1)
    target = torch.rand(2, 5, 5) * 0.6 + 0.2  # inside, so the clamp never acts
    ours = torch.full_like(target, 0.5).requires_grad_(True)
    ref = torch.full_like(target, 0.5).requires_grad_(True)
    adam = BoxAdam(ours, lr=0.02, betas=(0.9, 0.999), eps=1e-8)
    reference = torch.optim.Adam([ref], lr=0.02, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(25):
        adam.step(_quadratic(ours, target, torch.ones_like(target)))
        reference.zero_grad()
        ((ref - target) ** 2).sum().backward()
        reference.step()
    assert torch.allclose(ours.detach(), ref.detach(), atol=1e-6)


def test_adam_keeps_the_image_in_the_box():
    target = torch.tensor([-1.0, 0.5, 2.0])
    x = torch.full_like(target, 0.5).requires_grad_(True)
    adam = BoxAdam(x, lr=0.3, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(50):
        adam.step(_quadratic(x, target, torch.ones_like(target)))
        assert x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x.detach(), torch.tensor([0.0, 0.5, 1.0]), atol=1e-2)


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_a_run_never_imports_the_compiler():
    """torch.optim imports torch._dynamo on first use (about 150 MB resident); a whole run with
    either optimiser must not."""
    script = (
        "import sys\n"
        "from nst.engine import run\n"
        "from nst.core.settings import Settings\n"
        "from tests.support.synthetic import scene, stripes\n"
        "for optimizer in ('lbfgs', 'adam'):\n"
        "    run(scene(48, 32), [stripes(48)],"
        " Settings(size=48, steps=3, device='cpu', optimizer=optimizer))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


def test_lbfgs_never_accepts_a_point_above_the_last_beyond_noise(bowl):
    """A bumpy bowl and a step 10× too long: here backtracking three times found no lower point
    once, and accepting that point anyway (the old rule) was a rise of the run's reference loss.
    Now it restarts from the last accepted point, so the accepted losses only go down (within
    NOISE). White-box: the accepted loss is the optimiser's own ``_prev_loss``."""
    from nst.model.optim import NOISE

    target, scales = bowl
    x = torch.full_like(target, 0.5).requires_grad_(True)
    optimizer = BoxLBFGS(x, lr=10.0)

    def closure() -> torch.Tensor:
        x.grad = None
        return (scales * (x - target) ** 2).sum() + 2 * torch.sin(20 * x).sum() + 1000

    accepted = []
    for _ in range(100):
        optimizer.step(closure)
        accepted.append(optimizer._prev_loss)
    assert all(b <= a * (1 + NOISE) for a, b in zip(accepted, accepted[1:]))
    assert accepted[-1] < 0.8 * accepted[0]


def test_lbfgs_refuses_a_strided_image():
    """Its backtracks and restarts write through a flat view of the image; a strided image (a
    channels-last start) would take those writes in a copy, and the run would stall at the point
    it had rejected, every later step evaluating that same point. It says so instead."""
    strided = torch.full((8, 8, 3), 0.5).permute(2, 0, 1).requires_grad_(True)
    with pytest.raises(ValueError, match="contiguous"):
        BoxLBFGS(strided, lr=1.0)
