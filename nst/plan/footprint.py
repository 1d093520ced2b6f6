"""The memory model's byte counting: what one run holds at its peak, from the layer shapes (the
search for a plan that keeps it within a budget is :mod:`nst.plan.budget`).

The bytes counted are the tensors a run allocates on its device: the images, the VGG19's
activations and their gradients, the targets, the optimiser's state and the decoded weights. On
the CPU the budget is the whole process's, so what the run will still load counts too (the 8-bit
weights, the fast networks for init fast). A step's peak comes when the backward starts: every
activation is held then (the ReLU outputs, the pooled maps, the max-pool indices as int32, the
content error in fp32), on top of what the scale keeps between steps.

Every pass of a run is counted: the fast start (at the first scale, with the networks it loads),
previews, the closing 8- and 16-bit images and the result's encoding (RESULT_PIXEL), and the fast
method's passes (:func:`fast_bytes`).
"""

from __future__ import annotations

import math
import sys
from typing import Sequence

import torch

from nst.core import masks
from nst.core.settings import Settings
from nst.core.vgg_layers import CHANNELS, CONV_LAYERS, POOLED, STRIDE, depth, layer_shapes
from nst.model.tiles import halo_for
from nst.plan.schedule import scale_sides, shape_for

PIXEL = 3 * 4  # bytes of one pixel of an fp32 RGB image
# oneDNN's and cuDNN's own memory: the kernels (primitives) built for each shape of pass, which
# their caches keep, and scratchpads. Measured on the CPU after runs (resident memory beyond the
# tensors): about 24 MB for one scale, 75 MB for four with the last in tiles.
RUNTIME, KERNELS = 8 * 2**20, 16 * 2**20  # fixed, and per scale (a tiled scale: twice)
# What a CPU run loads after it plans unless the process has it already (see loaded), measured
# as the rise of resident memory on the 2-core Xeon: the stored 8-bit VGG19 (20 MB), the fast
# networks' onnxruntime sessions for init fast (92 MB); and the fast painting's transients per
# pixel painted (187-205 bytes at 512 and 2048 px).
STORED_WEIGHTS, FAST_NETWORKS, FAST_PIXEL = 24 * 2**20, 96 * 2**20, 208
# The fast method's passes at the output size (bytes a pixel of the result), measured the same way
# (tubingen × starry_night, 512 to 2048 px, VmHWM reset before each pass): the content made a float
# tensor (to_tensor's float copies of the decoded picture: 40-50), and after the painting its
# enlargement to the output (12), the working copy that quantises it (12) and the 8- and 16-bit
# results (3 + 6), with the content still held (12): 45 measured at 4096 px from a 1024 px painting.
FAST_INPUT_PIXEL, FAST_OUTPUT_PIXEL = 52, 48
# After the last step, the result as its caller keeps and saves it (bytes a pixel of the result):
# the 8- and 16-bit images of the closing record (3 + 6), its PNG with the recipe (Pillow's copy and
# the encoded bytes: 5, measured at 4096 px) and the content at the result's size as a JPEG (5, the
# studio's store). The run's tensors are gone by then; what the server keeps of a result is held.
RESULT_PIXEL = 19


def element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def run_layers(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content layers, style layers) a run computes losses at."""
    content = settings.content_layers if settings.content_weight > 0 else ()
    style = settings.style_layers if settings.style_weight > 0 else ()
    return tuple(content), tuple(style)


def pass_bytes(height: int, width: int, settings: Settings, dtype: torch.dtype, *, grad: bool = True,
               core: tuple[int, int] | None = None) -> int:
    """Peak bytes of one VGG19 pass over a (height × width) image or tile, beyond its input.

    With ``grad`` (a step): the larger of the end of the forward, when every activation is held
    for the backward, and each layer's backward (the layers up to it still held, plus its
    output's gradient, the ReLU's and the convolution's input gradient, and a style layer's
    Gram gradient). Without (targets): the largest input and output of one layer. ``core`` is
    the tile's core (rows, cols) whose loss a tiled pass takes: a region's Gram gradient is
    copied with zeros outside the core.
    """
    e = element_size(dtype)
    content, style = run_layers(settings)
    deepest = depth(set(content) | set(style))
    if deepest < 0:
        return 0
    pooled_index = 4 if settings.pooling == "max" else 0  # int32 argmax per pooled element
    held, peak, kept = 0, 0, []  # kept: bytes held per layer, for the backward
    for name, h, w in layer_shapes(height, width, deepest):
        channels = CHANNELS[name]
        act = channels * h * w * e
        here = act
        if name in content:  # the content error, kept in fp32; fp32 copies of map and target
            area = _core_area(h, w, core, STRIDE[name])
            here += channels * area * 4
            peak = max(peak, held + here + 2 * channels * area * 4 * (e != 4))
        if name in POOLED and name != CONV_LAYERS[deepest]:
            pooled = channels * math.ceil(h / 2) * math.ceil(w / 2)
            here += pooled * (e + pooled_index)
            peak = max(peak, held + here + pooled * 8)  # PyTorch's int64 indices before the cast
        if not grad:  # this map, the next layer's, and a Gram's zeroed copy or the content error
            peak = max(peak, 3 * act + (3 * channels * h * w * 4 if name in content else 0))
            continue
        held += here
        kept.append((name, act, here))
    if not grad:
        return peak
    peak = max(peak, held + kept[-1][1])
    for name, act, here in reversed(kept):
        # output gradient, ReLU gradient, input gradient (the previous map's size or smaller)
        transient = 3 * act
        if name in style and core is not None:
            transient += act  # a region's zeroed copy of the map
        peak = max(peak, held + transient)
        held -= here
    return peak


def _core_area(h: int, w: int, core: tuple[int, int] | None, stride: int) -> int:
    if core is None:
        return h * w
    return min(h, math.ceil(core[0] / stride)) * min(w, math.ceil(core[1] / stride))


def weights_bytes(settings: Settings, dtype: torch.dtype) -> int:
    """The convolutions a run reaches, decoded into ``dtype`` (weights and biases)."""
    content, style = run_layers(settings)
    count, cin = 0, 3
    for name in CONV_LAYERS[: depth(set(content) | set(style)) + 1]:
        count += cin * CHANNELS[name] * 9 + CHANNELS[name]
        cin = CHANNELS[name]
    return count * element_size(dtype)


class Footprint:
    """The bytes one run holds, per scale and pass: from the sizes of its inputs, its dtype and layers."""

    def __init__(self, settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
                 dtype: torch.dtype, cpu: bool = True) -> None:
        self.s, self.dtype, self.e = settings, dtype, element_size(dtype)
        width, height = content_size
        self.full = shape_for(settings.size, width, height)
        self.style_sizes = list(style_sizes)
        content, style = run_layers(settings)
        self.content_layers, self.style_layers = content, style
        self.halo, self.align = halo_for(set(content) | set(style))
        # Held through the whole run: the weights and the Gram targets (N × N, one set per style
        # and the scale's own); through all scales but the last, the content and styles at the
        # output size, from which each scale's are made.
        grams = (len(style_sizes) + 1) * sum(4 * CHANNELS[layer] ** 2 for layer in style)
        sides = scale_sides(settings.size, settings)
        self.fixed = weights_bytes(settings, dtype) + RUNTIME + KERNELS * len(sides) + grams
        self.inputs = PIXEL * (_area(self.full) + sum(map(_area, self.styles(settings.size))))
        self.painting = 0  # the fast painting's transients, before the first scale
        vgg_loaded, fast_loaded = loaded()
        if cpu and not vgg_loaded:
            self.fixed += STORED_WEIGHTS
        if settings.init == "fast":  # the fast result at the first scale, until that scale starts
            first = _area(shape_for(sides[0], self.full[1], self.full[0]))
            self.inputs += PIXEL * first
            if cpu:
                self.fixed += 0 if fast_loaded else FAST_NETWORKS
                self.painting = FAST_PIXEL * first
        # Regions (a mask): one soft mask per region at the scale, plus its copies averaged down to
        # each layer (a third more), and in a step each styled region's masked copy of a style
        # layer's features (of the tile, when tiled), which its Gram keeps for the backward.
        self.regions = len(settings.regions or ()) if settings.mask is not None else 0
        self.styled = sum(style is not None for style in masks.region_styles(settings.regions or ())) \
            if self.regions else 0

    def styles(self, side: int) -> list[tuple[int, int]]:
        """(height, width) of each style image at the scale of max side ``side``."""
        style_side = max(1, round(side * self.s.style_scale))
        return [shape_for(style_side, w, h) for w, h in self.style_sizes]

    def maps(self, shape: tuple[int, int]) -> int:
        """The content's feature maps at the content layers (the content targets)."""
        return sum(CHANNELS[layer] * math.ceil(shape[0] / STRIDE[layer]) * math.ceil(shape[1] / STRIDE[layer])
                   for layer in self.content_layers) * self.e

    def state(self, shape: tuple[int, int], history: int) -> int:
        """What a scale keeps between steps: the image, its gradient, its best so far and last
        preview, the content targets, region masks, the optimiser's state; the run's inputs unless
        it is the last scale; the content at this scale where its chroma is put back (luminance
        mode)."""
        area = _area(shape)
        # The image and its gradient, and the last preview (RGB, 8 bits), which a caller holds
        # while the next step runs.
        kept = self.fixed + self.maps(shape) + (2 * PIXEL + 3) * area
        kept += PIXEL * area  # the best image the scale has evaluated (see nst.engine)
        kept += 4 * self.regions * area * 4 // 3
        if self.regions > self.styled:  # photo regions: the gradient's hold, 1 − their mask (fp32)
            # (The hook's product with the image's gradient comes at the backward's end, when
            # conv1_1's maps alone outweigh it: no new peak.)
            kept += 4 * area
        if shape != self.full:
            kept += self.inputs
        if self.s.preserve_color == "luminance":
            kept += PIXEL * area
        if self.s.optimizer == "adam":
            return kept + 2 * PIXEL * area
        return kept + 2 * (history + 1) * PIXEL * area  # (history + 1) rows of s and y

    def setup(self, shape: tuple[int, int], tile: tuple[int, int] | None) -> int:
        """Peak while a scale's targets are made: the run's inputs, the content and styles at this
        scale, the previous scale's result, the content targets and the passes that make them."""
        area = _area(shape)
        at_scale = (area if shape != self.full else 0) + sum(map(_area, self.styles(max(shape)))) + area // 4
        return max(self.fixed + self.inputs + PIXEL * at_scale + self.maps(shape) + self.targets(shape, tile),
                   self.fixed + self.inputs + self.painting)

    def between_steps(self, shape: tuple[int, int]) -> int:
        """Transients outside the pass: L-BFGS's direction and its active set's masks (12 + 9
        bytes a pixel), or a preview or the final image (a working copy and the 8- and 16-bit
        results: 12 + 3 + 6)."""
        return (PIXEL + 9) * _area(shape)

    def step(self, shape: tuple[int, int], tile: tuple[int, int] | None) -> int:
        """Peak of one step's pass: untiled, or over the largest tile (the tiled forward's tiles
        are larger but hold nothing for a backward) and the kernels of the tiles' shapes; total
        variation's differences and their gradients over the whole image when it is on."""
        if tile is None:
            peak = pass_bytes(*shape, self.s, self.dtype)
        else:
            core = (max(self.align, tile[0] - 2 * self.halo), max(self.align, tile[1] - 2 * self.halo))
            peak = pass_bytes(*self.largest_tile(shape, tile), self.s, self.dtype, core=core) + KERNELS
        if self.s.tv_weight > 0:
            peak += 3 * PIXEL * _area(shape)
        if self.styled:
            passed = shape if tile is None else self.largest_tile(shape, tile)
            layers = layer_shapes(*passed, depth(set(self.style_layers)))
            peak += self.styled * self.e * sum(CHANNELS[name] * h * w for name, h, w in layers
                                               if name in self.style_layers)
        return peak

    def targets(self, shape: tuple[int, int], tile: tuple[int, int] | None) -> int:
        """Peak of the passes without gradients that make the targets (content and styles)."""
        shapes = [shape] + self.styles(max(shape))
        if tile is not None:
            shapes = [self.largest_tile((h, w), tile) for h, w in shapes]
        return max(pass_bytes(h, w, self.s, self.dtype, grad=False) for h, w in shapes)

    def largest_tile(self, shape: tuple[int, int], tile: tuple[int, int]) -> tuple[int, int]:
        """The largest tile over an image of ``shape``: the last along an axis ends at the image's
        edge, up to ``align`` − 1 pixels longer than the others (see nst.model.tiles.make_grid)."""
        return tuple(length if length <= side else min(length, side + self.align - 1)  # type: ignore[return-value]
                     for length, side in zip(shape, tile))

    def peak(self, shape: tuple[int, int], history: int, tile: tuple[int, int] | None,
             targets_tile: tuple[int, int] | None) -> int:
        """Peak bytes of a scale of ``shape`` with ``history`` L-BFGS pairs, its steps in tiles of
        ``tile`` and its passes without gradients in ``targets_tile`` (None: one pass): between and
        during steps, while its targets are made, and for the output scale the result kept after."""
        finish = self.fixed + RESULT_PIXEL * _area(shape) if shape == self.full else 0
        return max(self.state(shape, history) + max(self.step(shape, tile), self.between_steps(shape),
                                                     self.targets(shape, targets_tile)),
                   self.setup(shape, targets_tile), finish)


def loaded() -> tuple[bool, bool]:
    """(the VGG19, the fast networks) already loaded in this process, so in its resident memory."""
    from nst.model import vgg

    runtime = sys.modules.get("nst.model.fast.runtime")  # not imported: not loaded (importing it loads onnx)
    return (vgg._load_cached.cache_info().currsize > 0,
            runtime is not None and runtime._build.cache_info().currsize > 0)


def _area(shape: tuple[int, int]) -> int:
    return shape[0] * shape[1]


def fast_bytes(settings: Settings, shape: tuple[int, int], painted: tuple[int, int], cpu: bool) -> int:
    """Peak bytes of a fast-method run at output ``shape`` painting at ``painted`` (see FAST_*): the
    content tensor made, the painting beside the content (and its copy at the painted size), and the
    result enlarged and quantised; the networks where they are still to be loaded."""
    out, area = _area(shape), _area(painted)
    painting = (FAST_PIXEL + (PIXEL if painted != shape else 0)) * area
    if settings.mask is not None and settings.regions:  # the composed picture, one style's, the masks
        painting += (2 * PIXEL + 4 * (len(settings.regions) + 1)) * area
    loads = FAST_NETWORKS if cpu and not loaded()[1] else 0
    return loads + max(FAST_INPUT_PIXEL * out, PIXEL * out + painting, FAST_OUTPUT_PIXEL * out, RESULT_PIXEL * out)

