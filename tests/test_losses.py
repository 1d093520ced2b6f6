"""The Gatys formulas on small hand-made tensors."""

import pytest
import torch

from nst.model.losses import content_loss, gram, style_loss, tv_loss

pytestmark = pytest.mark.unit


def test_gram_is_f_ft_over_m():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # N=2 channels, M=2 positions
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 2
    assert torch.allclose(gram(f)[0], expected)


def test_gram_of_channels_last_features_matches():
    f = torch.randn(1, 3, 4, 5)
    assert torch.allclose(gram(f.contiguous(memory_format=torch.channels_last)), gram(f), atol=1e-6)


def test_gram_gradient_matches_autograds_product():
    """gram's one-product backward, F (D + Dᵀ), against autograd through a plain FᵀF, for a
    loss whose D is not symmetric."""
    torch.manual_seed(0)
    f = torch.randn(1, 4, 3, 5, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weights = torch.randn(1, 4, 4, dtype=torch.float64)
    x = f.clone().requires_grad_(True)
    (gram(x).double() * weights).sum().backward()
    y = f.clone().requires_grad_(True)
    flat = y.permute(0, 2, 3, 1).reshape(1, 15, 4)
    ((flat.transpose(1, 2) @ flat / 15) * weights).sum().backward()
    assert torch.allclose(x.grad, y.grad)


def test_content_loss_is_half_mean_squared_error():
    f = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    p = torch.zeros_like(f)
    # ½ Σ(F − P)² = 15, divided by N·M = 4
    assert content_loss(f, p).item() == 15 / 4


def test_content_loss_gradient_matches_autograds():
    torch.manual_seed(0)
    f, p = torch.randn(1, 3, 4, 5), torch.randn(1, 3, 4, 5)
    ours, ref = f.clone().requires_grad_(True), f.clone().requires_grad_(True)
    content_loss(ours, p).backward()
    (0.5 * ((ref - p) ** 2).mean()).backward()
    assert torch.allclose(ours.grad, ref.grad)


def test_style_loss_equals_papers_unnormalised_form():
    torch.manual_seed(0)
    f = torch.rand(1, 3, 4, 4)
    a = torch.rand(1, 3, 4, 4)
    n, m = 3, 16
    ff, aa = f.reshape(n, m), a.reshape(n, m)
    paper = ((ff @ ff.T - aa @ aa.T) ** 2).sum() / (4 * n**2 * m**2)  # eq. 4 with G = F Fᵀ
    assert torch.allclose(style_loss(f, gram(a)), paper)


def test_style_loss_does_not_grow_with_image_size():
    """A texture tiled 4× gives (nearly) the same Grams, so the same style loss."""
    torch.manual_seed(0)
    f = torch.rand(1, 4, 8, 8)
    target = gram(torch.rand(1, 4, 8, 8))
    tiled = f.repeat(1, 1, 2, 2)
    assert torch.allclose(style_loss(f, target), style_loss(tiled, target), rtol=1e-5)


def test_tv_loss_of_flat_and_stepped_images():
    flat = torch.full((1, 3, 4, 4), 0.5)
    assert tv_loss(flat).item() == 0
    step = torch.zeros(1, 3, 4, 4)
    step[..., 2:] = 1.0  # one vertical edge: 4 of 12 horizontal pairs differ by 1
    assert abs(tv_loss(step).item() - 4 / 12) < 1e-7


def test_tv_loss_of_one_pixel_image_is_zero():
    assert tv_loss(torch.rand(1, 3, 1, 1)).item() == 0
