"""The optimisation loop: :func:`stylize` streams one :class:`StepRecord` per step.

The image itself is optimised (RGB in [0, 1], whatever the weights' preprocessing), coarse to
fine: each scale starts from the previous scale's result, upsampled.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from nst import color
from nst.cache import GRAMS, GramCache, fingerprint
from nst.device import resolve_device, resolve_dtype
from nst.images import resize_max_side
from nst.losses import content_loss, gram, gram_error, tv_loss
from nst.optim import BoxAdam, BoxLBFGS
from nst.records import StepRecord
from nst.settings import Settings, SettingsError
from nst.vgg import VGG19Features, load_model

# L-BFGS curvature pairs kept; each costs two image-sized vectors, so memory stays bounded.
LBFGS_HISTORY = 10
# Share of the step budget per scale, coarse to fine, before normalising: coarse steps are 4×
# cheaper per halving of the side, so most optimisation happens there.
SCALE_SHARE_RATIO = 1.6


def scale_sides(size: int, settings: Settings) -> list[int]:
    """Max side of each scale, coarse to fine, ending at ``size``."""
    on = settings.multiscale == "on" or (settings.multiscale == "auto" and size >= 2 * settings.min_scale)
    if not on or size <= settings.min_scale:
        return [size]
    count = int(math.floor(math.log2(size / settings.min_scale))) + 1
    return [max(16, round(size / 2**k)) for k in range(count - 1, -1, -1)]


def split_steps(total: int, scales: int) -> list[int]:
    """Steps per scale summing to ``total``; coarser scales get more, every scale at least one
    while the budget allows."""
    if scales == 1:
        return [total]
    shares = [SCALE_SHARE_RATIO ** (scales - 1 - k) for k in range(scales)]
    raw = [total * s / sum(shares) for s in shares]
    steps = [max(1, int(r)) for r in raw]
    steps[-1] += total - sum(steps)  # rounding goes to the final scale
    while steps[-1] < 1:  # tiny budgets: take from the coarsest scales
        i = max(range(scales - 1), key=lambda j: steps[j])
        steps[i] -= 1
        steps[-1] += 1
    return steps


def to_tensor(image: Image.Image, device: torch.device) -> torch.Tensor:
    """PIL RGB to a (3, H, W) float tensor in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] to an RGB uint8 (H, W, 3) array."""
    array = image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(array)


def _resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == shape:
        return image
    return F.interpolate(image[None], size=shape, mode="bicubic", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


def _shape_for(side: int, width: int, height: int) -> tuple[int, int]:
    """(H, W) with max side ``side`` and the aspect of width × height, each side >= 1."""
    scale = side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass
class _Target:
    """What one scale optimises towards."""

    content: dict[str, torch.Tensor]
    grams: list[dict[str, torch.Tensor]]  # one set per style image
    blend: list[float]
    content_rgb: torch.Tensor  # the content at this scale, for colour recombination


class _Objective:
    """α·content + β·style + γ·TV for one scale, with the raw terms kept for the record."""

    def __init__(self, model: VGG19Features, settings: Settings, target: _Target, dtype: torch.dtype) -> None:
        self.model, self.s, self.t, self.dtype = model, settings, target, dtype
        # w_l per style layer; none when β = 0, so the pass can stop at the content layer.
        self.style_weights = dict(zip(settings.style_layers, settings.layer_weights)) \
            if settings.style_weight > 0 else {}
        self.layers = set(self.style_weights) | set(target.content)

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], dict[str, float]]:
        s = self.s
        zero = image.new_zeros(())
        content, style = zero, zero
        per_layer: dict[str, torch.Tensor] = {}
        # Each layer's terms are built as soon as the pass yields it (see iter_features).
        for layer, f in self.model.iter_features(image[None], self.layers, pooling=s.pooling, dtype=self.dtype):
            if layer in self.t.content:
                content = content + content_loss(f, self.t.content[layer])
            if layer in self.style_weights:
                g = gram(f)  # one Gram per layer, shared by every style image
                e = sum((b * gram_error(g, grams[layer]) for grams, b in zip(self.t.grams, self.t.blend)), zero)
                per_layer[f"style/{layer}"] = e
                style = style + self.style_weights[layer] * e
        raw = {"content": content, **per_layer, "style": style,
               "tv": tv_loss(image[None]) if s.tv_weight > 0 else zero}
        weighted = {
            "content": s.content_weight * raw["content"],
            "style": s.style_weight * raw["style"],
            "tv": s.tv_weight * raw["tv"],
        }
        total = weighted["content"] + weighted["style"] + weighted["tv"]
        # One device-to-host copy for every number the record shows: on a GPU each float()
        # would be a synchronisation of its own.
        terms = [*raw.values(), *weighted.values(), total]
        numbers = torch.stack([t.detach().float() for t in terms]).tolist()
        values = dict(zip(weighted, numbers[len(raw):]))
        values["total"] = numbers[-1]
        return total, values, dict(zip(raw, numbers))


def _style_grams(model: VGG19Features, style: torch.Tensor, settings: Settings, dtype: torch.dtype,
                 cache: GramCache) -> dict[str, torch.Tensor]:
    layers = tuple(settings.style_layers)
    key = (fingerprint(style), layers, model.source, settings.pooling, str(style.device), str(dtype))

    def compute() -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = model.features(style[None], layers, pooling=settings.pooling, dtype=dtype)
            return {layer: gram(f) for layer, f in feats.items()}

    return cache.get_or_compute(key, compute)


def _init_image(settings: Settings, content: torch.Tensor, styles: list[torch.Tensor]) -> torch.Tensor:
    shape = tuple(content.shape[-2:])
    if settings.init == "noise":
        # Seeded on the CPU so a seed means the same start image on every device.
        gen = torch.Generator().manual_seed(settings.seed)
        noise = torch.rand(content.shape, generator=gen)
        return noise.to(content.device)
    if settings.init == "style":
        return _resize(styles[0], shape)  # type: ignore[arg-type]
    return content.clone()


def _check_inputs(content: Image.Image, styles: Sequence[Image.Image], settings: Settings) -> list[float]:
    problems = []
    if not isinstance(content, Image.Image):
        problems.append("the content must be a PIL image")
    if not styles and (settings.style_weight > 0 or settings.init == "style"):
        problems.append("at least one style image is needed (or set style_weight to 0)")
    if any(not isinstance(s, Image.Image) for s in styles):
        problems.append("every style must be a PIL image")
    blend = list(settings.style_blend) if settings.style_blend is not None else [1.0] * len(styles)
    if styles and len(blend) != len(styles):
        problems.append(f"style_blend has {len(blend)} weights for {len(styles)} style images")
    if problems:
        raise SettingsError("Invalid settings: " + "; ".join(problems))
    total = sum(blend) or 1.0
    return [b / total for b in blend]


def stylize(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
            stop: threading.Event | None = None, model: VGG19Features | None = None,
            cache: GramCache = GRAMS) -> Iterator[StepRecord]:
    """Optimise an image so its VGG19 content matches ``content`` and its Grams the ``styles``.

    Yields one record per step; the last has ``done=True`` and the image at the output size.
    Setting ``stop`` (or simply not iterating further) ends the run within one step; a stopped
    run still yields a final record with the current image.
    """
    start = time.perf_counter()
    blend = _check_inputs(content, styles, settings)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.precision, device)
    model = model if model is not None else load_model(settings.weights)

    # Pillow's Lanczos gives the best downscale of the full-resolution inputs; scales below
    # the output are made from that tensor.
    content_full = to_tensor(resize_max_side(content, settings.size), device)
    height, width = content_full.shape[-2:]
    sides = scale_sides(settings.size, settings)
    plan = split_steps(settings.steps, len(sides))
    total_steps = settings.steps
    style_sources = [to_tensor(resize_max_side(s, max(1, round(settings.size * settings.style_scale))), device)
                     for s in styles]

    image: torch.Tensor | None = None
    step = 0
    record: StepRecord | None = None
    for index, (side, count) in enumerate(zip(sides, plan)):
        shape = _shape_for(side, width, height)
        content_rgb = _resize(content_full, shape)
        style_side = max(1, round(side * settings.style_scale))
        styles_here = [_resize(s, _shape_for(style_side, s.shape[-1], s.shape[-2])) for s in style_sources]
        if settings.preserve_color == "luminance":
            net_content = color.luminance(content_rgb)
            styles_here = [color.match_luminance(s, content_rgb) for s in styles_here]
        else:
            net_content = content_rgb
            if settings.preserve_color == "histogram":
                styles_here = [color.match_histogram(s, content_rgb) for s in styles_here]

        with torch.no_grad():
            content_layers = settings.content_layers if settings.content_weight > 0 else ()
            content_targets = model.features(net_content[None], content_layers, pooling=settings.pooling,
                                             dtype=dtype) if content_layers else {}
        grams = [_style_grams(model, s, settings, dtype, cache) for s in styles_here] \
            if settings.style_weight > 0 else []
        objective = _Objective(model, settings, _Target(content_targets, grams, blend, content_rgb), dtype)

        if image is None:
            start_image = _init_image(settings, net_content, styles_here)
        else:
            start_image = _resize(image, shape)
        x = start_image.detach().clone().requires_grad_(True)
        optimizer = _optimizer(settings, x)
        # L-BFGS assumes a well-scaled problem for its first step and its curvature test, and
        # Gatys losses on 0-255 Caffe features reach 1e10. It minimises L / L0 instead (L0: the
        # scale's first loss), which has the same minimiser; records show the true L.
        conditioning: list[float] = []

        def output() -> torch.Tensor:
            if settings.preserve_color == "luminance":
                return color.recombine(x.detach().clamp(0, 1), content_rgb)
            return x.detach().clamp(0, 1)

        for k in range(count):
            if stop is not None and stop.is_set():
                yield _final(record, output(), start, total_steps, stopped=True)
                return
            losses: dict[str, float] = {}
            raw: dict[str, float] = {}

            def closure() -> torch.Tensor:
                x.grad = None
                total, weighted, unweighted = objective(x)
                if settings.optimizer == "lbfgs":
                    if not conditioning:
                        conditioning.append(1.0 / max(weighted["total"], 1e-12))
                    total = total * conditioning[0]
                total.backward()
                losses.update(weighted)
                raw.update(unweighted)
                return total

            optimizer.step(closure)
            step += 1
            last = index == len(sides) - 1 and k == count - 1
            # The first step too, so a viewer sees the start image at once, not after k steps.
            preview = last or step == 1 or step % settings.preview_every == 0
            if not math.isfinite(losses.get("total", math.nan)):
                raise FloatingPointError(f"the loss became {losses.get('total')} at step {step};"
                                         " lower the learning rate or the weights")
            record = StepRecord(step=step, total_steps=total_steps, scale=index, n_scales=len(sides),
                                shape=shape, losses=losses, raw=raw, elapsed=time.perf_counter() - start,
                                image=to_uint8(output()) if preview else None, done=last)
            yield record
        image = x.detach().clamp(0, 1)


def _final(record: StepRecord | None, image: torch.Tensor, start: float, total_steps: int, *,
           stopped: bool) -> StepRecord:
    """The closing record of a run stopped before its last step."""
    return StepRecord(
        step=record.step if record else 0,
        total_steps=total_steps,
        scale=record.scale if record else 0,
        n_scales=record.n_scales if record else 1,
        shape=tuple(image.shape[-2:]),  # type: ignore[arg-type]
        losses=record.losses if record else {},
        raw=record.raw if record else {},
        elapsed=time.perf_counter() - start,
        image=to_uint8(image),
        done=True,
        stopped=stopped,
    )


def _optimizer(settings: Settings, x: torch.Tensor) -> BoxLBFGS | BoxAdam:
    if settings.optimizer == "adam":
        return BoxAdam(x, lr=settings.learning_rate, betas=settings.betas, eps=settings.eps)
    return BoxLBFGS(x, lr=settings.learning_rate, history=LBFGS_HISTORY)


def run(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, **kwargs) -> StepRecord:
    """Run to the end and return the final record (for scripts and tests)."""
    record = None
    for record in stylize(content, styles, settings, **kwargs):
        pass
    assert record is not None
    return record
