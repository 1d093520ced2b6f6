"""The optimisation loop: :func:`stylize` streams one :class:`StepRecord` per step.

The image itself is optimised (RGB in [0, 1], whatever the weights' preprocessing), coarse to
fine: each scale starts from the previous scale's best image, upsampled. Each scale keeps the
image with the lowest total loss it has evaluated (its last point included), and that image is
what the scale hands on and what the run returns: an optimiser step that overshoots can never
make the result worse than the best iterate seen. Each scale runs as the run's plan says
(:mod:`nst.plan.budget`): in one pass, or in tiles (:mod:`nst.model.tiles`) where one pass would not fit the
memory budget. The fast method (``method="fast"``, see :mod:`nst.model.fast`) streams a single record.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from nst.model import color
from nst.core import masks
from nst.plan.budget import FastPlan, RunPlan, pass_grid
from nst.model.cache import GRAMS, GramCache, fingerprint
from nst.plan.device import resolve_device, resolve_dtype
from nst.plan.preflight import preflight
from nst.core.errors import DivergedError, SettingsError
from nst.io.images import resize_max_side
from nst.model.losses import Temporal, content_loss, gram, temporal_loss, tv_loss
from nst.core.memory import large_blocks_returned
from nst.model.optim import BoxAdam, BoxLBFGS
from nst.core.progress import NOT_WATCHED, StopSignal, Stopped, Watch
from nst.records import StepRecord
from nst.model.regions import RegionMasks
from nst.plan.schedule import ScalePlan, scale_plan, scale_sides, shape_for, split_steps
from nst.core.settings import Settings, blend_weights
from nst.model.tiles import Pass, Targets, TiledTerms, TileGrid, make_grid, style_error
from nst.model.vgg import VGG19Features, load_model

__all__ = ["ScalePlan", "StopSignal", "run", "scale_plan", "scale_sides", "split_steps", "stylize", "to_tensor",
           "to_uint8", "to_uint16"]


def to_tensor(image: Image.Image, device: torch.device) -> torch.Tensor:
    """PIL RGB to a (3, H, W) float tensor in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device)


def _quantised(image: torch.Tensor, levels: int, dtype: torch.dtype) -> np.ndarray:
    # One working copy, scaled in place: at print sizes each image-sized temporary is 150 MB.
    array = image.detach().mul(levels).clamp_(0, levels).round_().to(dtype).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(array)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] to an RGB uint8 (H, W, 3) array."""
    return _quantised(image, 255, torch.uint8)


def to_uint16(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] to an RGB uint16 (H, W, 3) array (0 … 65535)."""
    return _quantised(image, 65535, torch.uint16)


def _resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == shape:
        return image
    return F.interpolate(image[None], size=shape, mode="bicubic", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


class _Objective:
    """α·content + β·style + γ·TV for one scale, with the raw terms kept for the record.

    Untiled, one pass yields each layer's features and builds its terms at once (with a region
    mask, each region's masked Gram against its own style); tiled, the raw terms and their
    gradient come from :class:`nst.model.tiles.TiledTerms` over a grid drawn afresh for every
    evaluation (regions included: their masked Grams are summed over the tiles too).
    """

    def __init__(self, net: Pass, settings: Settings, targets: Targets, tiling: "_Tiling | None",
                 regions: RegionMasks | None = None, temporal: Temporal | None = None) -> None:
        self.net, self.s, self.t, self.tiling, self.regions = net, settings, targets, tiling, regions
        self.temporal = temporal  # a clip's frame: the temporal term, at this scale's shape
        # w_l per style layer; none when β = 0, so the pass can stop at the content layer.
        self.style_weights = dict(zip(targets.style_layers, settings.layer_weights))
        self.layers = set(self.style_weights) | set(targets.content)
        self.grid: TileGrid | None = None  # the grid of the last tiled evaluation

    def _streamed(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        content = image.new_zeros(())
        per_layer: dict[str, torch.Tensor] = {}
        # Each layer's terms are built as soon as the pass yields it (see iter_features).
        for layer, f in self.net.model.iter_features(image[None], self.layers, pooling=self.s.pooling,
                                                     dtype=self.net.dtype, check=self.net.watch.check):
            if layer in self.t.content:
                content = content + content_loss(f, self.t.content[layer])
            if layer in self.style_weights:
                if self.regions is not None:  # masked Grams, each region against its own style
                    per_layer[layer] = self.regions.style_error(f, [grams[layer] for grams in self.t.grams])
                else:
                    per_layer[layer] = style_error(gram(f), self.t, layer)  # one Gram, every style image
        return content, per_layer

    def _tiled(self, image: torch.Tensor, tiling: "_Tiling") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        height, width = image.shape[-2:]
        self.grid = make_grid(height, width, tiling.tile, tiling.halo, tiling.align, tiling.shifts)
        terms = TiledTerms.apply(image, self.net, self.t, tiling.forward, self.grid, self.regions)
        return terms[0], dict(zip(self.t.style_layers, terms[1:]))

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], dict[str, float]]:
        s = self.s
        zero = image.new_zeros(())
        content, per_layer = self._streamed(image) if self.tiling is None else self._tiled(image, self.tiling)
        style = sum((self.style_weights[layer] * e for layer, e in per_layer.items()), zero)
        raw = {"content": content, **{f"style/{layer}": e for layer, e in per_layer.items()}, "style": style,
               "tv": tv_loss(image[None]) if s.tv_weight > 0 else zero}
        weighted = {
            "content": s.content_weight * raw["content"],
            "style": s.style_weight * raw["style"],
            "tv": s.tv_weight * raw["tv"],
        }
        if self.temporal is not None:  # a pixel term, on the whole image whether the VGG pass is tiled or not
            raw["temporal"] = temporal_loss(image, self.temporal.target, self.temporal.reliable)
            weighted["temporal"] = self.temporal.weight * raw["temporal"]
        total = sum(weighted.values(), zero)
        # One device-to-host copy for every number the record shows: on a GPU each float()
        # would be a synchronisation of its own.
        terms = [*raw.values(), *weighted.values(), total]
        numbers = torch.stack([t.detach().float() for t in terms]).tolist()
        values = dict(zip(weighted, numbers[len(raw):]))
        values["total"] = numbers[-1]
        return total, values, dict(zip(raw, numbers))


@dataclass
class _Tiling:
    """How a tiled scale cuts its image: the largest tile, the halo, the random shifts of the
    gradient pass's grid, and the grid of the pass without gradients (larger tiles, fixed)."""

    tile: tuple[int, int]
    halo: int
    align: int
    shifts: torch.Generator
    forward: TileGrid


def _style_grams(net: Pass, style: torch.Tensor, settings: Settings, grid: TileGrid,
                 cache: GramCache) -> dict[str, torch.Tensor]:
    layers = tuple(settings.style_layers)
    key = (fingerprint(style), layers, net.model.source, settings.pooling, str(style.device), str(net.dtype))
    return cache.get_or_compute(key, lambda: net.grams(style, grid, layers))


def _init_image(settings: Settings, content: torch.Tensor, styles: list[torch.Tensor],
                start: torch.Tensor | Image.Image | None) -> torch.Tensor:
    """The first scale's start image; ``start`` is the fast result (init 'fast', painted region by
    region where there are regions) or the given image (init 'image')."""
    shape = tuple(content.shape[-2:])
    if settings.init in ("fast", "image"):
        assert start is not None  # _Run and _check_inputs
        if isinstance(start, Image.Image):
            image = to_tensor(start.resize((shape[1], shape[0]), Image.Resampling.LANCZOS), content.device)
        else:
            image = _resize(start, shape)  # type: ignore[arg-type]
        return color.luminance(image) if settings.preserve_color == "luminance" else image
    if settings.init == "noise":
        # Seeded on the CPU so a seed means the same start image on every device.
        gen = torch.Generator().manual_seed(settings.seed)
        noise = torch.rand(content.shape, generator=gen)
        return noise.to(content.device)
    if settings.init == "style":
        return _resize(styles[0], shape)  # type: ignore[arg-type]
    return content.clone()


def _check_inputs(content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                  start: Image.Image | None = None) -> tuple[list[float], RunPlan | FastPlan]:
    """The style blend normalised to sum to 1 and the run's plan, or the error of what stops the run
    (:func:`nst.plan.preflight.preflight`: SettingsError, ImageError, DeviceError or BudgetError)."""
    wrong = {}
    if not isinstance(content, Image.Image):
        wrong["content"] = "the content must be a PIL image"
    if any(not isinstance(s, Image.Image) for s in styles):
        wrong["styles"] = "every style must be a PIL image"
    if wrong:
        raise SettingsError(wrong)
    check = preflight(settings, content.size, [s.size for s in styles],
                      start=start.size if isinstance(start, Image.Image) else None)
    check.raise_problems()
    assert check.plan is not None  # planned, or it raised
    return blend_weights(settings, len(styles)), check.plan


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
    content_rgb: torch.Tensor | None  # the content at this scale, for its chroma (luminance mode)
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
        """``image`` (default: the current one) as RGB, chroma put back in luminance mode. L-BFGS
        and Adam keep it in [0, 1] and to_uint8 clamps anyway (no copy here: at print sizes an
        image is 150 MB)."""
        image = self.x.detach() if image is None else image
        return color.recombine(image.clamp(0, 1), self.content_rgb) if self.luminance_only else image


class _Run:
    """What a whole run shares across its scales: device, model, inputs at full size, the plan."""

    def __init__(self, content: Image.Image, styles: Sequence[Image.Image], settings: Settings,
                 model: VGG19Features | None, cache: GramCache, start: Image.Image | None = None,
                 watch: Watch = NOT_WATCHED, temporal: Temporal | None = None) -> None:
        self.settings, self.cache, self.watch, self.temporal = settings, cache, watch, temporal
        # Before anything is computed: the preflight's error when the run cannot start (its memory too).
        blend, plan = _check_inputs(content, styles, settings, start)
        assert isinstance(plan, RunPlan)
        self.blend, self.plan = blend, plan
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.precision, self.device)
        every_style = [*styles, *_builtin_images(settings)]
        self.output_shape = self.plan.scales[-1].shape
        # Where the budget is tight, resident memory must follow the tensors as the plan counts them.
        self.tight = self.plan.tight
        self.model = model if model is not None else load_model(settings.weights)
        # Pillow's Lanczos gives the best downscale of the full-resolution inputs; scales below
        # the output are made from these tensors.
        self.content = to_tensor(resize_max_side(content, settings.size), self.device)
        style_side = max(1, round(settings.size * settings.style_scale))
        self.styles = [to_tensor(resize_max_side(s, style_side), self.device) for s in every_style]
        self.labels = masks.mask_labels(settings.mask, settings.regions) if settings.mask is not None \
            else None
        # The first scale's start: the given image (init 'image') or the fast result, painted at the
        # first scale's size (the working size of a print: its strokes are the preview's, and a
        # painting at 2048 px would take 0.6 GB and 4× the time, to be downscaled).
        self.start: torch.Tensor | Image.Image | None = start
        if settings.init == "fast":
            from nst.model.fast import paint  # late: a run without the fast method never loads onnx

            watch.doing("fast start")  # one call of the network: checked before and after
            self.start = paint(_resize(self.content, self.plan.scales[0].shape), styles, self.blend, settings)
            watch.check()

    def where(self, index: int) -> str:
        """'scale 2 of 3, ' while a multi-scale run is at its second scale; '' for one scale."""
        n_scales = len(self.plan.scales)
        return f"scale {index + 1} of {n_scales}, " if n_scales > 1 else ""

    def scale(self, index: int, previous: torch.Tensor | None) -> _Scale:
        """Targets, start image and optimiser of scale ``index``, continuing from ``previous``."""
        s, plan = self.settings, self.plan.scales[index]
        shape = plan.shape
        content_rgb = _resize(self.content, shape)
        style_side = max(1, round(plan.side * s.style_scale))
        styles = [_resize(t, shape_for(style_side, t.shape[-1], t.shape[-2])) for t in self.styles]
        net_content = content_rgb
        if s.preserve_color == "luminance":
            net_content = color.luminance(content_rgb)
            styles = [color.match_luminance(t, content_rgb) for t in styles]
        elif s.preserve_color == "histogram":
            styles = [color.match_histogram(t, content_rgb) for t in styles]

        net, halo, align = Pass(self.model, s.pooling, self.dtype, self.watch), self.plan.halo, self.plan.align
        content_layers = s.content_layers if s.content_weight > 0 else ()
        if content_layers:
            self.watch.doing(f"{self.where(index)}preparing the content target")
        content_targets = net.feature_maps(net_content, plan.forward,
                                           content_layers) if content_layers else {}
        if s.style_weight > 0:
            self.watch.doing(f"{self.where(index)}preparing the style targets")
        grams = [_style_grams(net, t, s, pass_grid(tuple(t.shape[-2:]), plan.targets_tile, halo, align), self.cache)
                 for t in styles] if s.style_weight > 0 else []
        targets = Targets(content_targets, grams, self.blend, s.style_layers if s.style_weight > 0 else ())
        regions = None if self.labels is None else \
            RegionMasks(self.labels, masks.region_styles(s.regions), shape, s.region_blur, self.device)
        tiling = None
        if plan.tile is not None:
            # Seeded, so a run's grids (and so its result, to rounding) repeat with its seed.
            tiling = _Tiling(plan.tile, halo, align, torch.Generator().manual_seed(s.seed + index),
                             plan.forward)
        start = _init_image(s, net_content, styles, self.start) if previous is None else _resize(previous, shape)
        if regions is not None:  # whatever the init, photo regions start each scale as the photo (nst.model.regions)
            start = regions.compose(net_content, start)
        # Contiguous whatever the start's layout (the fast result is a permuted NHWC output):
        # the optimisers write the image through flat views.
        x = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        if regions is not None:  # and the optimisers keep them there
            regions.hold_photo(x)
        temporal = None if self.temporal is None else _temporal_at(self.temporal, shape, s.preserve_color)
        del start, styles, net_content
        self.start = None  # the first scale has it now
        luminance = s.preserve_color == "luminance"
        if index == len(self.plan.scales) - 1:
            # The last scale's targets are made: the inputs at the output size can go (at 4096 px
            # they are 150 MB each), but for the chroma that luminance mode puts back.
            self.content, self.styles = None, []  # type: ignore[assignment]
        return _Scale(index, plan.steps, shape, x, _Objective(net, s, targets, tiling, regions, temporal),
                      _optimizer(s, x, plan.history), content_rgb if luminance else None, luminance)


def stylize(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, *,
            stop: StopSignal | None = None, model: VGG19Features | None = None,
            cache: GramCache = GRAMS, start: Image.Image | None = None,
            temporal: Temporal | None = None) -> Iterator[StepRecord]:
    """Optimise an image so its VGG19 content matches ``content`` and its Grams the ``styles``
    (and the built-in styles ``settings.builtin_styles``, through their style images).

    Yields one record per step. The last record of each scale carries the scale's outcome (the
    best image it evaluated) and that image's losses; the run's last has ``done=True`` and the
    image at the output size, in 8 and 16 bits. Setting ``stop`` ends the run within a layer
    of the pass in progress, whatever the size (:mod:`nst.core.progress`): the step in progress is
    abandoned and the run yields a final record with the best image it finished, at the output
    size (not iterating further ends it too). A ``stop`` with ``progress(text)`` is told what the
    run is doing as it goes. ``start`` is the image a run with ``init="image"`` starts
    from, e.g. a result to refine at twice its size (:func:`nst.core.settings.continued`). With
    ``method="fast"`` the run is one pass of the fast network and yields one record (step 1 of
    1, no losses). ``temporal`` adds a clip frame's temporal term (:class:`nst.model.losses.Temporal`,
    Ruder et al. 2016), reported as ``temporal`` in the records' losses.

    Scales that do not fit the memory budget run in tiles (see :mod:`nst.plan.budget`); a run that
    cannot fit at all raises BudgetError before its first step.
    """
    began = time.perf_counter()
    if settings.method == "fast":
        yield _fast(content, styles, settings, stop, began)
        return
    watch = Watch(stop)
    try:
        run = _Run(content, styles, settings, model, cache, start, watch, temporal)
    except Stopped:  # during the fast start: nothing is finished but the photo
        photo = to_tensor(resize_max_side(content, settings.size), resolve_device(settings.device))
        yield _stopped(photo, tuple(photo.shape[-2:]), None, 0, 1, settings.steps, {}, {}, began)
        return
    with large_blocks_returned() if run.tight else contextlib.nullcontext():
        yield from _steps(run, began, watch)


def _steps(run: _Run, began: float, watch: Watch) -> Iterator[StepRecord]:
    """The step loop of :func:`stylize`, scale by scale; a stop (:class:`nst.core.progress.Stopped`,
    from a check between steps or inside a step or pass) ends it with the last finished image."""
    settings = run.settings
    n_scales = len(run.plan.scales)
    image: torch.Tensor | None = None
    record: StepRecord | None = None
    scale: _Scale | None = None
    try:
        for index in range(n_scales):
            scale = run.scale(index, image)
            image = None  # the scale's start holds it now
            for k in range(scale.steps):
                step = (record.step if record else 0) + 1
                watch.doing(f"{run.where(index)}step {step}")
                losses, raw = _step(scale)
                record = _record(run, scale, k, step, losses, raw, began)
                yield record
            image = scale.result()
            scale = None  # its optimiser's state goes before the next scale's is made
    except Stopped:
        pass  # leave the handler first: its traceback holds the abandoned pass's tensors
    else:
        return
    _release_aborted_backward()
    if scale is not None:  # within a scale's steps: its best image so far
        yield _final(record, scale, run.output_shape, began, settings.steps)
        return
    # While a scale was being prepared: the previous scale's result, or the start before any.
    index = record.scale if record else 0
    if image is None:
        image = run.start if isinstance(run.start, torch.Tensor) else run.content
    shape = record.shape if record else run.plan.scales[0].shape
    yield _stopped(_resize(image, run.output_shape), shape, record, index, n_scales, settings.steps,
                   record.losses if record else {}, record.raw if record else {}, began)


def _temporal_at(temporal: Temporal, shape: tuple[int, int], preserve_color: str) -> Temporal:
    """``temporal`` at a scale's ``shape``; in luminance mode its target is grey, as the optimised image is."""
    target = _resize(temporal.target, shape)
    reliable = F.interpolate(temporal.reliable[None, None].float(), size=shape, mode="bilinear",
                             align_corners=False, antialias=True)[0, 0]
    return Temporal(color.luminance(target) if preserve_color == "luminance" else target, reliable, temporal.weight)


def _release_aborted_backward() -> None:
    """Let autograd drop the graph of a backward that a stop check aborted. A backward ended by an
    exception from a gradient hook (nst.model.vgg's stop check) leaves its graph, every activation of the
    abandoned pass, held inside autograd until the next backward runs (measured: one pass's
    tensors alive after the run ended, gone at the next run); a backward of one number ends that."""
    with torch.enable_grad():
        torch.zeros(1, requires_grad=True).sum().backward()


def _record(run: _Run, scale: _Scale, k: int, step: int, losses: dict[str, float], raw: dict[str, float],
            began: float) -> StepRecord:
    """The record of step ``k`` of ``scale`` (``step`` over the run); a scale's last carries its
    best image and that image's losses."""
    settings, n_scales, index = run.settings, len(run.plan.scales), scale.index
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
    output = (scale.output(scale.result()) if closing else scale.output()) if preview else None
    return StepRecord(step=step, total_steps=settings.steps, scale=index, n_scales=n_scales,
                      shape=scale.shape, losses=losses, raw=raw, elapsed=time.perf_counter() - began,
                      image=to_uint8(output) if output is not None else None, done=last,
                      image16=to_uint16(output) if last and output is not None else None,
                      tiles=scale.objective.grid, plan=run.plan if step == 1 else None)


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


def _final(record: StepRecord | None, scale: _Scale, output_shape: tuple[int, int], began: float,
           total_steps: int) -> StepRecord:
    """The closing record of a run stopped within a scale's steps: the scale's best image so far, at
    the output size whatever scale it stopped at (``shape`` names that scale)."""
    losses = scale.best_losses or (record.losses if record else {})
    raw = scale.best_raw or (record.raw if record else {})
    return _stopped(_resize(scale.output(scale.result()), output_shape), scale.shape, record, scale.index,
                    record.n_scales if record else 1, total_steps, losses, raw, began)


def _stopped(image: torch.Tensor, shape: tuple[int, int], record: StepRecord | None, index: int, n_scales: int,
             total_steps: int, losses: dict[str, float], raw: dict[str, float], began: float) -> StepRecord:
    """The closing record of a stopped run: ``image`` at the output size, at the last finished step
    (``record``'s, 0 before any), scale ``index`` of ``shape``."""
    return StepRecord(step=record.step if record else 0, total_steps=total_steps, scale=index, n_scales=n_scales,
                      shape=shape, losses=losses, raw=raw, elapsed=time.perf_counter() - began,
                      image=to_uint8(image), image16=to_uint16(image), done=True, stopped=True)


def _fast(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, stop: StopSignal | None,
          start: float) -> StepRecord:
    """The fast method's one record: its result at the output size (the content, stopped, when
    ``stop`` was set before it began)."""
    blend, plan = _check_inputs(content, styles, settings)  # BudgetError too, before anything is computed
    assert isinstance(plan, FastPlan)
    device = resolve_device(settings.device)
    with large_blocks_returned() if plan.tight else contextlib.nullcontext():  # as a tight Gatys run
        return _fast_record(content, styles, settings, stop, start, blend, plan, device)


def _fast_record(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, stop: StopSignal | None,
                 start: float, blend: Sequence[float], plan: FastPlan, device: torch.device) -> StepRecord:
    """:func:`_fast`'s pass within its plan: painted at ``plan.painted``, enlarged to the output."""
    from nst.model.fast import paint  # late: a Gatys run never loads onnx

    image = to_tensor(resize_max_side(content, settings.size), device)
    stopped = stop is not None and stop.is_set()
    if not stopped:  # at a size that fits the budget, enlarged to the output where smaller
        image = _resize(paint(_resize(image, plan.painted), styles, blend, settings), plan.shape)
    return StepRecord(step=0 if stopped else 1, total_steps=1, scale=0, n_scales=1,
                      shape=tuple(image.shape[-2:]), losses={}, raw={},  # type: ignore[arg-type]
                      elapsed=time.perf_counter() - start, image=to_uint8(image), image16=to_uint16(image), done=True,
                      stopped=stopped)


def _builtin_images(settings: Settings) -> list[Image.Image]:
    """The style images of the built-in styles a run uses (painted by their network, cached)."""
    if not settings.builtin_styles:
        return []
    from nst.model.fast import builtin_style_image  # late: a run without built-in styles never loads onnx

    return [builtin_style_image(index) for index in settings.builtin_styles]


def _optimizer(settings: Settings, x: torch.Tensor, history: int) -> BoxLBFGS | BoxAdam:
    if settings.optimizer == "adam":
        return BoxAdam(x, lr=settings.learning_rate, betas=settings.betas, eps=settings.eps)
    return BoxLBFGS(x, lr=settings.learning_rate, history=history)


def run(content: Image.Image, styles: Sequence[Image.Image], settings: Settings, **kwargs) -> StepRecord:
    """Run to the end and return the final record (for scripts and tests)."""
    record = None
    for record in stylize(content, styles, settings, **kwargs):
        pass
    assert record is not None
    return record
