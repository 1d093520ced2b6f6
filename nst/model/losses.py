"""Gatys et al. (2015) losses, normalised so their values do not grow with image size.

For a layer l with N_l channels and M_l = height × width positions, F_l is the (N_l × M_l)
feature matrix of the image being optimised, P_l that of the content image, and A_l the Gram
target of the style image.

* Content (eq. 1, divided by N_l·M_l):  L_content = Σ_l ½ · Σ(F_l − P_l)² / (N_l·M_l)
  summed over the content layers, so it is the per-element squared error and the same at
  any size.
* Gram matrix, divided by M_l:          G_l = F_l F_lᵀ / M_l
* Style (eqs. 4 and 5):                 E_l = Σ(G_l − A_l)² / (4 N_l²)
  which equals the paper's Σ(F Fᵀ − A)² / (4 N_l² M_l²) exactly (the M_l² moves inside);
  L_style = Σ_l w_l E_l with the layer weights w_l (equal and summing to 1 by default).
* Total variation:                      L_tv = mean of squared neighbour differences of the
  RGB image in [0, 1], horizontal plus vertical.
* Total:                                L = α·L_content + β·L_style + γ·L_tv
* Temporal (Ruder et al. 2016, a clip's frame after the first):
                                        L_temporal = mean of c·(x − w)² over pixels and channels,
  w the previous result warped by the input's flow, c its reliability (:class:`Temporal`);
  added to L with its own weight.

Features may arrive in bf16 or fp16; every reduction here runs in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


# A part of a feature map: rows top:bottom and columns left:right (tiled passes, nst.model.tiles).
Region = tuple[int, int, int, int]


def _positions(features: torch.Tensor, region: Region | None) -> torch.Tensor:
    """The (B, M, N) matrix of a (B, N, H, W) map's positions: a free view for a channels_last
    map; with a ``region``, a copy in which the positions outside it are zero. Zeroing rather
    than cutting keeps the product's shape that of the map, however the region falls: each new
    shape would cost oneDNN a new kernel, and tiled passes move their regions at every step."""
    b, n, h, w = features.shape
    f = features.permute(0, 2, 3, 1).reshape(b, h * w, n)  # channels_last memory order
    if region is None:
        return f
    top, bottom, left, right = region
    inside = features.new_zeros(h, w)
    inside[top:bottom, left:right] = 1
    return f * inside.view(1, h * w, 1)


class _SelfProduct(torch.autograd.Function):
    """FᵀF of a (B, N, H, W) map's positions (in ``region`` only, when given). Its backward is
    one product, F (D + Dᵀ) with D = dL/dG, where autograd's own runs one per operand and adds
    them: at conv1_1 of a 512 px image that is two 25 MB temporaries fewer, at the moment every
    saved activation is still alive. It holds the map, which the ReLU's backward holds anyway;
    a region's zeroed copy is made again in the backward rather than held through the pass."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, region: Region | None) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(features)
        ctx.region = region
        f = _positions(features, region)
        return torch.bmm(f.transpose(1, 2), f)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (features,) = ctx.saved_tensors
        b, n, h, w = features.shape
        g = torch.bmm(_positions(features, ctx.region), grad + grad.transpose(1, 2))
        return g.view(b, h, w, n).permute(0, 3, 1, 2), None


class _HalfMeanSquare(torch.autograd.Function):
    """½ mean((F − P)²) in fp32, with a backward of one multiply: (F − P)/n cast to F's dtype.
    PyTorch's mse_loss backward on bf16 channels-last features took 4× as long."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        diff = features.float() - target.float()
        ctx.save_for_backward(diff)
        ctx.dtype = features.dtype
        return 0.5 * diff.square().mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (diff,) = ctx.saved_tensors
        return (diff * (grad / diff.numel())).to(ctx.dtype), None


def gram(features: torch.Tensor, region: Region | None = None) -> torch.Tensor:
    """G = F Fᵀ / M for a (B, N, H, W) batch, returned in fp32: shape (B, N, N). With ``region``
    (top, bottom, left, right), over the positions in it only, M being their count.

    The product runs in the features' dtype: bf16/fp16 GEMMs accumulate in fp32 on oneDNN and
    cuBLAS, and at reduced precision an fp32 Gram would cost more than the whole VGG pass.
    """
    h, w = features.shape[-2:]
    if region is not None:
        top, bottom, left, right = region
        h, w = bottom - top, right - left
    return _SelfProduct.apply(features, region).float() / (h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """½ Σ(F − P)² / (N·M), in fp32."""
    return _HalfMeanSquare.apply(features, target)


def gram_error(g: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = Σ(G − A)² / (4 N²) for a Gram G already computed (N × N), in fp32."""
    n = g.shape[-1]
    return (g - target_gram).pow(2).sum() / (4 * n * n)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = Σ(G − A)² / (4 N²) with G = F Fᵀ / M, in fp32."""
    return gram_error(gram(features), target_gram)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared horizontal plus vertical neighbour differences of a (B, 3, H, W) image."""
    loss = image.new_zeros(())
    if image.shape[-1] > 1:
        loss = loss + (image[..., :, 1:] - image[..., :, :-1]).float().pow(2).mean()
    if image.shape[-2] > 1:
        loss = loss + (image[..., 1:, :] - image[..., :-1, :]).float().pow(2).mean()
    return loss


@dataclass(frozen=True)
class Temporal:
    """The temporal term of one frame of a clip: ``target`` (3, H, W) in [0, 1], the previous
    result warped by the input's flow; ``reliable`` (H, W) in [0, 1], where that warp is trusted;
    ``weight`` the term's weight in the total. Any size: each scale resizes them to its own."""

    target: torch.Tensor
    reliable: torch.Tensor
    weight: float


def temporal_loss(image: torch.Tensor, target: torch.Tensor, reliable: torch.Tensor) -> torch.Tensor:
    """mean(c · (x − w)²) over the (3, H, W) ``image``'s pixels and channels, in fp32."""
    return (reliable.float() * (image.float() - target.float()).square()).mean()
