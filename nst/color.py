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


def recombine(styled_luma: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image with the styled image's luminance and the content's chroma."""
    yiq = rgb_to_yiq(content)
    yiq[0] = rgb_to_yiq(styled_luma)[0]
    return yiq_to_rgb(yiq).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    vals = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(vals) @ vecs.T


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Style image recoloured so its RGB mean and covariance equal the content's."""
    s = style.reshape(3, -1).double()
    c = content.reshape(3, -1).double()
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    eye = 1e-5 * torch.eye(3, dtype=torch.float64)
    cov_s = torch.cov(s) + eye
    cov_c = torch.cov(c) + eye
    transform = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    out = transform @ (s - mu_s) + mu_c
    return out.reshape(style.shape).clamp(0, 1).to(style.dtype)
