"""The optimisation loop: :func:`stylize` streams one :class:`StepRecord` per step.

The image itself is optimised (RGB in [0, 1], whatever the weights' preprocessing), coarse to
fine: each scale starts from the previous scale's best image, upsampled. Each scale keeps the
image with the lowest total loss it has evaluated (its last point included), and that image is
what the scale hands on and what the run returns: an optimiser step that overshoots can never
make the result worse than the best iterate seen. The fast method (``method="fast"``, see
:mod:`nst.fast`) streams a single record.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from nst import color, masks
from nst.cache import GRAMS, GramCache, fingerprint
from nst.device import resolve_device, resolve_dtype
from nst.images import fit_problems, resize_max_side
from nst.losses import content_loss, gram, gram_error, tv_loss
from nst.optim import BoxAdam, BoxLBFGS
from nst.records import StepRecord
from nst.errors import DivergedError, ImageError, SettingsError
from nst.regions import RegionMasks
from nst.settings import Settings
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


@dataclass(frozen=True)
class ScalePlan:
    """One scale of a run: the (height, width) it optimises and its steps."""

    shape: tuple[int, int]
    steps: int

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def scale_plan(settings: Settings, content_size: tuple[int, int]) -> list[ScalePlan]:
    """The scales a run of ``settings`` goes through for content of ``content_size`` (width, height)."""
    width, height = content_size
    out_h, out_w = _shape_for(settings.size, width, height)
    sides = scale_sides(settings.size, settings)
    return [ScalePlan(_shape_for(side, out_w, out_h), steps)
            for side, steps in zip(sides, split_steps(settings.steps, len(sides)))]


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
    regions: RegionMasks | None = None  # each region's soft mask and style, when there is a mask


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
                if self.t.regions is not None:
                    e = self.t.regions.style_error(f, [grams[layer] for grams in self.t.grams])
                else:
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


def _init_image(settings: Settings, content: torch.Tensor, styles: list[torch.Tensor],
                fast: torch.Tensor | None) -> torch.Tensor:
    shape = tuple(content.shape[-2:])
    if settings.init == "fast":
        start = _resize(fast, shape)  # type: ignore[arg-type]
        return color.luminance(start) if settings.preserve_color == "luminance" else start
    if settings.init == "noise":
        # Seeded on the CPU so a seed means the same start image on every device.
        gen = torch.Generator().manual_seed(settings.seed)
        noise = torch.rand(content.shape, generator=gen)
        return noise.to(content.device)
    if settings.init == "style":
        return _resize(styles[0], shape)  # type: ignore[arg-type]
    return content.clone()


def _check_inputs(content: Image.Image, styles: Sequence[Image.Image], settings: Settings) -> list[float]:
    """The style blend normalised to sum to 1, or SettingsError listing what the inputs lack."""
    problems: dict[str, str] = {}
    if not isinstance(content, Image.Image):
        problems["content"] = "the content must be a PIL image"
    sources = len(styles) + len(settings.builtin_styles)
    if not sources and settings.method == "fast":
        problems["styles"] = "the fast method needs a style image or a built-in style"
    elif not sources and settings.init == "fast":
        problems["styles"] = ("init fast starts from the fast method's result, which needs a style image or a"
                              " built-in style; choose another init")
    elif not sources and (settings.style_weight > 0 or settings.init == "style"):
        problems["styles"] = "at least one style image or built-in style is needed (or set style_weight to 0)"
    if any(not isinstance(s, Image.Image) for s in styles):
        problems["styles"] = "every style must be a PIL image"
    blend = list(settings.style_blend) if settings.style_blend is not None else [1.0] * sources
    if sources and len(blend) != sources:
        built_in = f" and {len(settings.builtin_styles)} built-in styles" if settings.builtin_styles else ""
        problems["style_blend"] = (f"style_blend has {len(blend)} weights for {len(styles)} style images"
                                   f"{built_in}")
    if settings.mask is not None and isinstance(content, Image.Image):
        problems.update(_region_input_problems(content, len(styles), settings))
    if problems:
        raise SettingsError(problems)
    too_small = fit_problems(content.size, [s.size for s in styles], settings.size, settings.style_scale)
    if too_small:
        raise ImageError(" ".join(too_small))
    total = sum(blend) or 1.0
    return [b / total for b in blend]


def _region_input_problems(content: Image.Image, n_styles: int, settings: Settings) -> dict[str, str]:
    """The mask has the content's shape, and each region's style image was given."""
    problems = {}
    height, width = masks.mask_pixels(settings.mask).shape[:2]
    if not masks.mask_shape_fits((height, width), content.size):
        problems["mask"] = (f"the mask is {width}×{height} pixels but the content is {content.size[0]}×"
                            f"{content.size[1]}; a mask must have the content's size (or its shape, scaled down)")
    for item, style in zip(settings.regions or (), masks.region_styles(settings.regions or ())):
        if style is not None and style >= n_styles:
            problems["regions"] = (f"region {item} names style image {style + 1}, but {n_styles} style"
                                   f" image{'s were' if n_styles != 1 else ' was'} given")
    return problems


@dataclass
class _Scale:
    """One scale of a run: the image being optimised, its optimiser and objective, and the best
    image it has evaluated."""

    index: int
    steps: int
    shape: tuple[int, int]
    x: torch.Tensor  # the optimised image (leaf, requires grad)
    objective: _Objective
    optimizer: "BoxLBFGS | BoxAdam"
    content_rgb: torch.Tensor
    luminance_only: bool
    best: torch.Tensor | None = None  # a copy of the evaluated image with the lowest total
    best_losses: dict[str, float] = field(default_factory=dict)
    best_raw: dict[str, float] = field(default_factory=dict)

    def consider(self, losses: dict[str, float], raw: dict[str, float]) -> None:
        """Keep the current image as the best if its total, just evaluated (before the optimiser
        moves it), is the lowest yet at this scale."""
        total = losses["total"]
        if not math.isfinite(total) or (self.best is not None and total >= self.best_losses["total"]):
            return
        if self.best is None:
            self.best = self.x.detach().clone()
        else:
            self.best.copy_(self.x.detach())
        self.best_losses, self.best_raw = losses, raw

    def settle(self) -> None:
        """Evaluate the point the last step moved to (a forward pass only) so that it, too, can be
        the best: otherwise the last move would never be judged."""
        with torch.no_grad():
            _, losses, raw = self.objective(self.x.detach())
        self.consider(losses, raw)

    def result(self) -> torch.Tensor:
        """The scale's outcome: its best image (the current one before any was evaluated)."""
        return (self.best if self.best is not None else self.x.detach()).clamp(0, 1)

    def output(self, image: torch.Tensor | None = None) -> torch.Tensor:
        """``image`` (default: the current one) as RGB in [0, 1], chroma put back in luminance mode."""
        image = (self.x.detach() if image is None else image).clamp(0, 1)
        return color.recombine(image, self.content_rgb) if self.luminance_only else image


class _Run:
    """What a whole run shares across its scales: device, model, inputs at full size, the plan."""

    def __init__(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                 model: VGG19Features | None, cache: GramCache) -> None:
        self.settings, self.cache = settings, cache
        self.blend = _check_inputs(content, styles, settings)
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.precision, self.device)
        self.model = model if model is not None else load_model(settings.weights)
        # Pillow's Lanczos gives the best downscale of the full-resolution inputs; scales below
        # the output are made from these tensors.
        self.content = to_tensor(resize_max_side(content, settings.size), self.device)
        style_side = max(1, round(settings.size * settings.style_scale))
        self.styles = [to_tensor(resize_max_side(s, style_side), self.device)
                       for s in [*styles, *_builtin_images(settings)]]
        self.plan = scale_plan(settings, content.size)
        self.labels = masks.mask_labels(settings.mask, settings.regions) if settings.mask is not None \
            else None
        self.fast: torch.Tensor | None = None  # the fast method's result at the output size
        if settings.init == "fast":
            from nst.fast import paint  # late: a run without the fast method never loads onnx

            self.fast = paint(self.content, styles, self.blend, settings)

    def scale(self, index: int, previous: torch.Tensor | None) -> _Scale:
        """Targets, start image and optimiser of scale ``index``, continuing from ``previous``."""
        s, model, dtype = self.settings, self.model, self.dtype
        shape = self.plan[index].shape
        content_rgb = _resize(self.content, shape)
        style_side = max(1, round(max(shape) * s.style_scale))
        styles = [_resize(t, _shape_for(style_side, t.shape[-1], t.shape[-2])) for t in self.styles]
        net_content = content_rgb
        if s.preserve_color == "luminance":
            net_content = color.luminance(content_rgb)
            styles = [color.match_luminance(t, content_rgb) for t in styles]
        elif s.preserve_color == "histogram":
            styles = [color.match_histogram(t, content_rgb) for t in styles]

        content_layers = s.content_layers if s.content_weight > 0 else ()
        with torch.no_grad():
            content_targets = model.features(net_content[None], content_layers, pooling=s.pooling,
                                             dtype=dtype) if content_layers else {}
        grams = [_style_grams(model, t, s, dtype, self.cache) for t in styles] if s.style_weight > 0 else []
        regions = None if self.labels is None else \
            RegionMasks(self.labels, masks.region_styles(s.regions), shape, s.region_blur, self.device)
        objective = _Objective(model, s, _Target(content_targets, grams, self.blend, content_rgb, regions), dtype)
        start = _init_image(s, net_content, styles, self.fast) if previous is None else _resize(previous, shape)
        x = start.detach().clone().requires_grad_(True)
        return _Scale(index, self.plan[index].steps, shape, x, objective, _optimizer(s, x), content_rgb,
                      s.preserve_color == "luminance")


class StopSignal(Protocol):
    """What :func:`stylize` polls once per step: a ``threading.Event`` or anything with ``is_set``."""

    def is_set(self) -> bool: ...


def stylize(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
            stop: StopSignal | None = None, model: VGG19Features | None = None,
            cache: GramCache = GRAMS) -> Iterator[StepRecord]:
    """Optimise an image so its VGG19 content matches ``content`` and its Grams the ``styles``
    (and the built-in styles ``settings.builtin_styles``, through their style images).

    Yields one record per step. The last record of each scale carries the scale's outcome (the
    best image it evaluated) and that image's losses; the run's last has ``done=True`` and the
    image at the output size. Setting ``stop`` (or simply not
    iterating further) ends the run within one step; a stopped run still yields a final record
    with its best image. With ``method="fast"`` the run is one pass of the fast network and
    yields one record (step 1 of 1, no losses).
    """
    start = time.perf_counter()
    if settings.method == "fast":
        yield _fast(content, styles, settings, stop, start)
        return
    run = _Run(content, styles, settings, model, cache)
    n_scales = len(run.plan)
    image: torch.Tensor | None = None
    record: StepRecord | None = None
    for index in range(n_scales):
        scale = run.scale(index, image)
        for k in range(scale.steps):
            if stop is not None and stop.is_set():
                yield _final(record, scale, tuple(run.content.shape[-2:]), start, settings.steps)  # type: ignore[arg-type]
                return
            losses, raw = _step(scale)
            step = (record.step if record else 0) + 1
            if not math.isfinite(losses.get("total", math.nan)):
                raise DivergedError(f"The loss became {losses.get('total')} at step {step}; lower the learning"
                                    " rate or the weights.")
            closing = k == scale.steps - 1
            if closing:  # the scale's outcome: its best image, with that image's own losses
                scale.settle()
                losses, raw = scale.best_losses, scale.best_raw
            last = index == n_scales - 1 and closing
            # The first step too, so a viewer sees the start image at once, not after k steps.
            preview = closing or step == 1 or step % settings.preview_every == 0
            shown = scale.output(scale.result()) if closing else scale.output()
            record = StepRecord(step=step, total_steps=settings.steps, scale=index, n_scales=n_scales,
                                shape=scale.shape, losses=losses, raw=raw, elapsed=time.perf_counter() - start,
                                image=to_uint8(shown) if preview else None, done=last)
            yield record
        image = scale.result()


def _step(scale: _Scale) -> tuple[dict[str, float], dict[str, float]]:
    """One optimiser step; the weighted and raw loss terms of the image it evaluated."""
    losses: dict[str, float] = {}
    raw: dict[str, float] = {}

    def closure() -> torch.Tensor:
        scale.x.grad = None
        total, weighted, unweighted = scale.objective(scale.x)
        losses.update(weighted)
        raw.update(unweighted)
        scale.consider(weighted, unweighted)  # before the optimiser moves x away from it
        return total

    scale.optimizer.step(closure)
    return losses, raw


def _final(record: StepRecord | None, scale: _Scale, output_shape: tuple[int, int], start: float,
           total_steps: int) -> StepRecord:
    """The closing record of a run stopped before its last step: the scale's best image so far, at the
    output size whatever scale it stopped at (``shape`` names that scale)."""
    image = _resize(scale.output(scale.result()), output_shape)
    return StepRecord(
        step=record.step if record else 0,
        total_steps=total_steps,
        scale=scale.index,
        n_scales=record.n_scales if record else 1,
        shape=scale.shape,
        losses=scale.best_losses or (record.losses if record else {}),
        raw=scale.best_raw or (record.raw if record else {}),
        elapsed=time.perf_counter() - start,
        image=to_uint8(image),
        done=True,
        stopped=True,
    )


def _fast(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, stop: StopSignal | None,
          start: float) -> StepRecord:
    """The fast method's one record: its result at the output size (the content, stopped, when
    ``stop`` was set before it began)."""
    from nst.fast import paint  # late: a Gatys run never loads onnx

    blend = _check_inputs(content, styles, settings)
    image = to_tensor(resize_max_side(content, settings.size), resolve_device(settings.device))
    stopped = stop is not None and stop.is_set()
    if not stopped:
        image = paint(image, styles, blend, settings)
    return StepRecord(step=0 if stopped else 1, total_steps=1, scale=0, n_scales=1,
                      shape=tuple(image.shape[-2:]), losses={}, raw={},  # type: ignore[arg-type]
                      elapsed=time.perf_counter() - start, image=to_uint8(image), done=True, stopped=stopped)


def _builtin_images(settings: Settings) -> list[Image.Image]:
    """The style images of the built-in styles a run uses (painted by their network, cached)."""
    if not settings.builtin_styles:
        return []
    from nst.fast import builtin_style_image  # late: a run without built-in styles never loads onnx

    return [builtin_style_image(index) for index in settings.builtin_styles]


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
