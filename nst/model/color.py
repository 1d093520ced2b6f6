"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer").

* ``luminance``: transfer style on luminance only, then put the content's chroma back (YIQ).
* ``histogram``: before the run, give the style image the content's colour distribution by
  matching its RGB mean and covariance (a linear map through the covariance square roots).

Images here are float tensors (3, H, W) in [0, 1].
"""

from __future__ import annotations

import torch

# NTSC RGB -> YIQ; Y is luminance, I and Q carry chroma.
_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,jhw->ihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Grey RGB image (Y in all three channels)."""
    return rgb_to_yiq(image)[:1].expand(3, -1, -1).clone()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Grey style image whose luminance mean and std match the content's (paper, eq. 5)."""
    y_s, y_c = rgb_to_yiq(style)[0], rgb_to_yiq(content)[0]
    y = (y_s - y_s.mean()) * (y_c.std() / y_s.std().clamp_min(1e-6)) + y_c.mean()
    return y.clamp(0, 1).expand(3, -1, -1).clone()


def _luma(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("j,jhw->hw", _RGB_TO_YIQ[0].to(image), image)


def recombine(styled_luma: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image with the styled image's luminance and the content's chroma."""
    # Only Y changes, so in RGB the content gains ΔY times YIQ->RGB's first column: two planes
    # of arithmetic instead of two full colour-space conversions (the post-run control's speed).
    delta = _luma(styled_luma) - _luma(content)
    return torch.addcmul(content, _YIQ_TO_RGB[:, 0].to(content).view(3, 1, 1), delta).clamp_(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    vals = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(vals) @ vecs.T


def _pixels(image: torch.Tensor) -> torch.Tensor:
    """(H·W, 3) rows of a (3, H, W) image: free when it is stored pixel-interleaved."""
    return image.permute(1, 2, 0).reshape(-1, 3)


def color_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB mean (1, 3) and covariance (3, 3) of a (3, H, W) image, in float64. Centred first, so
    one float32 product is exact enough, and fast at any size (3 M pixels: tens of ms)."""
    x = _pixels(image).float()
    mean = x.mean(0, keepdim=True)
    centred = x - mean
    cov = centred.T @ centred / max(1, x.shape[0] - 1)
    return mean.double(), cov.double()


def match_stats(image: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``image`` recoloured by one linear map so its RGB mean and covariance are ``mean`` and ``cov``."""
    mu_s, cov_s = color_stats(image)
    eye = 1e-5 * torch.eye(3, dtype=torch.float64)
    transform = _sqrtm(cov + eye) @ _sqrtm(cov_s + eye, inverse=True)
    shift = mean - mu_s @ transform.T  # out = (x - mu_s) Tᵀ + mean, as one multiply-add
    out = torch.addmm(shift.to(image), _pixels(image), transform.T.to(image))
    return out.reshape(*image.shape[1:], 3).permute(2, 0, 1).clamp(0, 1)


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Style image recoloured so its RGB mean and covariance equal the content's."""
    return match_stats(style, *color_stats(content))
