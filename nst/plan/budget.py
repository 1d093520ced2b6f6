"""The memory model: what a run holds at its peak, from the layer shapes, and the plan that keeps
it within a budget (``Settings.max_memory``, or a share of the device's free memory).

The bytes counted are the tensors a run allocates on its device: the images, the VGG19's
activations and their gradients, the targets, the optimiser's state and the decoded weights. On
the CPU the budget is the whole process's: the plan starts from what the process already holds
when it plans (its resident memory: Python, torch, the inputs, whatever is loaded), and counts
what the run will still load (the 8-bit weights, the fast networks for init fast). A step's
peak comes when the backward starts: every activation is held then (the ReLU outputs, the pooled maps, the max-pool
indices as int32, the content error in fp32), on top of what the scale keeps between steps.

Where a scale does not fit, the plan tiles it (see :mod:`nst.model.tiles`): of the tiles whose pass
fits beside the scale's state, the one that computes the fewest pixels, halos included. L-BFGS
keeps 10 curvature pairs, each two image-sized vectors (at 4096 px more than the whole tiled
pass); where they leave too little for tiles with cores of ``GOOD_CORE`` pixels, the plan keeps
fewer, down to one.

Every pass of a run is counted: the fast start (at the first scale, with the networks it loads),
previews, the closing 8- and 16-bit images and the result's encoding (RESULT_PIXEL). The fast
method has its own plan (:func:`plan_fast`): the network paints at the output size where that
fits, else at the largest size that does and the result is enlarged, else it is refused with the
figure. Without ``max_memory`` the budget is :func:`default_budget`, shared among the runs that may
use a device at once.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Sequence

import torch

from nst.core import masks
from nst.plan.device import resolve_device, resolve_dtype
from nst.core.errors import BudgetError
from nst.core.vgg_layers import CHANNELS, CONV_LAYERS, POOLED, STRIDE, depth, layer_shapes
from nst.core.memory import ALLOCATOR_SLACK, proc_bytes, resident, trim
from nst.plan.schedule import ScalePlan, scale_sides, scale_steps, shape_for
from nst.core.settings import Settings, format_bytes
from nst.model.tiles import halo_for, make_grid

LBFGS_HISTORY = 10  # curvature pairs kept where the budget allows
HISTORIES = (LBFGS_HISTORY, 5, 2, 1)  # tried in turn where the budget is short
MIN_UNTILED_HISTORY = 2  # fewer pairs than this: tiles with more, before an untiled pass with fewer
GOOD_CORE = 512  # a smaller core spends more on its halo (80 px each side for conv5_1) than on itself
CPU_SHARE, GPU_SHARE = 0.5, 0.8  # of the free memory, when max_memory is not set
PIXEL = 3 * 4  # bytes of one pixel of an fp32 RGB image
# oneDNN's and cuDNN's own memory: the kernels (primitives) built for each shape of pass, which
# their caches keep, and scratchpads. Measured on the CPU after runs (resident memory beyond the
# tensors): about 24 MB for one scale, 75 MB for four with the last in tiles.
RUNTIME, KERNELS = 8 * 2**20, 16 * 2**20  # fixed, and per scale (a tiled scale: twice)
# What a CPU run loads after it plans unless the process has it already (see _loaded), measured
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
# The fast method paints at the output size where that fits the budget; else at the largest side
# that does, enlarged to the output (bicubic), down to this side: its strokes stay the network's own
# (trained at 256-512 px), and below it the result is a blur of a thumbnail.
FAST_MIN_SIDE = 512


@dataclass(frozen=True)
class FastPlan:
    """How a fast-method run (``method="fast"``) keeps within its memory budget: the network paints
    at ``painted`` (H, W) and the result is enlarged to ``shape`` where they differ."""

    budget: int
    shape: tuple[int, int]
    painted: tuple[int, int]
    tensors: int  # estimated bytes of the run's own peak (its images, the painting, what it loads)
    held: int = 0
    cpu: bool = False

    @property
    def peak(self) -> int:
        """Estimated peak of what the budget bounds: the process's resident memory on the CPU."""
        return self.held + self.tensors

    @property
    def enlarged(self) -> bool:
        return self.painted != self.shape

    @property
    def tight(self) -> bool:
        """As :attr:`RunPlan.tight`: freed blocks must go back to the OS at once."""
        return _tight(self.cpu, self.held, self.tensors, self.budget)


def element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _layers(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
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
    content, style = _layers(settings)
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
    content, style = _layers(settings)
    count, cin = 0, 3
    for name in CONV_LAYERS[: depth(set(content) | set(style)) + 1]:
        count += cin * CHANNELS[name] * 9 + CHANNELS[name]
        cin = CHANNELS[name]
    return count * element_size(dtype)


@dataclass(frozen=True)
class ScaleBudget(ScalePlan):
    """How one scale runs within the budget: besides its shape and steps, its side, tile (None:
    untiled) and L-BFGS history."""

    side: int
    tile: tuple[int, int] | None  # (rows, cols) of the largest tile of a step; None: one pass
    targets_tile: tuple[int, int] | None  # tile of the passes without gradients (targets)
    history: int  # L-BFGS curvature pairs (0 for Adam)
    peak: int  # estimated bytes at this scale's peak

    @property
    def tiled(self) -> bool:
        return self.tile is not None


@dataclass(frozen=True)
class RunPlan:
    """The plan of a whole run against its memory budget: on the CPU the whole process's,
    ``held`` of it taken before the run plans; on a GPU the device's memory (``held`` 0)."""

    budget: int
    halo: int
    align: int
    scales: tuple[ScaleBudget, ...]
    held: int = 0
    cpu: bool = False

    @property
    def tensors(self) -> int:
        """Estimated bytes of the run's own peak (its scales' tensors, what it loads)."""
        return max(s.peak for s in self.scales)

    @property
    def peak(self) -> int:
        """Estimated peak of what the budget bounds: the process's resident memory on the CPU, where
        the run is tight (see ``resident`` otherwise)."""
        return self.held + self.tensors

    @property
    def tight(self) -> bool:
        """On the CPU, whether glibc's slack on top of the tensors (ALLOCATOR_SLACK) would pass the
        budget: the engine then has it return freed blocks at once, so resident memory follows
        the tensors as counted (nst.core.memory.large_blocks_returned)."""
        return _tight(self.cpu, self.held, self.tensors, self.budget)

    @property
    def resident(self) -> int:
        """The peak resident memory to expect: ``peak`` where tight (or on a GPU), else up to the
        tensors with glibc's slack (freed blocks it keeps), which the budget then still holds.
        What the studio shows beside the size."""
        return self.peak if self.tight or not self.cpu else self.held + int(self.tensors * ALLOCATOR_SLACK)

    @property
    def tiled(self) -> bool:
        return any(s.tiled for s in self.scales)


def free_memory(device: torch.device) -> int:
    """Bytes the device can still give: CUDA's free memory plus what torch's cache holds unused;
    on the CPU, the kernel's MemAvailable (the physical memory where that cannot be read)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    available = proc_bytes("/proc/meminfo", "MemAvailable")
    return available if available is not None else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _tight(cpu: bool, held: int, tensors: int, budget: int) -> bool:
    return cpu and held + tensors * ALLOCATOR_SLACK > budget


# Runs that may use one device at once in this process (a shared server's NST_MAX_RUNS_PER_DEVICE,
# set by :func:`share_among`): the Auto budget is split among them.
_runs_per_device = 1


def share_among(runs: int) -> None:
    """Split the Auto budget among ``runs`` runs that may use a device at once (see default_budget)."""
    global _runs_per_device
    _runs_per_device = max(1, int(runs))


def default_budget(device: torch.device) -> int:
    """The Auto budget of one run (the rule, one place): a share of the device's free memory, half on
    the CPU (other programs, the allocator's slack, the other sessions of a shared server: their
    uploads, results and previews) and 80 % on a GPU (cuDNN's workspaces), divided among the runs
    that may use the device at once (:func:`share_among`), so that each of them still fits when
    they all run."""
    share = CPU_SHARE if device.type == "cpu" else GPU_SHARE
    return int(free_memory(device) * share / _runs_per_device)


class _Model:
    """The memory model of one run: sizes of its inputs, dtype, layers."""

    def __init__(self, settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
                 dtype: torch.dtype, cpu: bool = True) -> None:
        self.s, self.dtype, self.e = settings, dtype, element_size(dtype)
        width, height = content_size
        self.full = shape_for(settings.size, width, height)
        self.style_sizes = list(style_sizes)
        content, style = _layers(settings)
        self.content_layers, self.style_layers = content, style
        self.halo, self.align = halo_for(set(content) | set(style))
        # Held through the whole run: the weights and the Gram targets (N × N, one set per style
        # and the scale's own); through all scales but the last, the content and styles at the
        # output size, from which each scale's are made.
        grams = (len(style_sizes) + 1) * sum(4 * CHANNELS[layer] ** 2 for layer in style)
        sides = scale_sides(settings.size, settings)
        self.fixed = weights_bytes(settings, dtype) + RUNTIME + KERNELS * len(sides) + grams
        self.inputs = PIXEL * (_area(self.full) + sum(map(_area, self._styles(settings.size))))
        self.painting = 0  # the fast painting's transients, before the first scale
        vgg_loaded, fast_loaded = _loaded()
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

    def _styles(self, side: int) -> list[tuple[int, int]]:
        """(height, width) of each style image at the scale of max side ``side``."""
        style_side = max(1, round(side * self.s.style_scale))
        return [shape_for(style_side, w, h) for w, h in self.style_sizes]

    def _maps(self, shape: tuple[int, int]) -> int:
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
        kept = self.fixed + self._maps(shape) + (2 * PIXEL + 3) * area
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
        at_scale = (area if shape != self.full else 0) + sum(map(_area, self._styles(max(shape)))) + area // 4
        return max(self.fixed + self.inputs + PIXEL * at_scale + self._maps(shape) + self.targets(shape, tile),
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
            peak = pass_bytes(*self._last(shape, tile), self.s, self.dtype, core=core) + KERNELS
        if self.s.tv_weight > 0:
            peak += 3 * PIXEL * _area(shape)
        if self.styled:
            layers = layer_shapes(*(shape if tile is None else self._last(shape, tile)), depth(set(self.style_layers)))
            peak += self.styled * self.e * sum(CHANNELS[name] * h * w for name, h, w in layers
                                               if name in self.style_layers)
        return peak

    def targets(self, shape: tuple[int, int], tile: tuple[int, int] | None) -> int:
        """Peak of the passes without gradients that make the targets (content and styles)."""
        shapes = [shape] + self._styles(max(shape))
        if tile is not None:
            shapes = [self._last((h, w), tile) for h, w in shapes]
        return max(pass_bytes(h, w, self.s, self.dtype, grad=False) for h, w in shapes)

    def _last(self, shape: tuple[int, int], tile: tuple[int, int]) -> tuple[int, int]:
        """The largest tile over an image of ``shape``: the last along an axis ends at the image's
        edge, up to ``align`` − 1 pixels longer than the others (see nst.model.tiles.make_grid)."""
        return tuple(length if length <= side else min(length, side + self.align - 1)  # type: ignore[return-value]
                     for length, side in zip(shape, tile))

    def work(self, shape: tuple[int, int], tile: tuple[int, int]) -> int:
        """Pixels a pass over ``shape`` in tiles of at most ``tile`` computes: halos included."""
        return make_grid(*shape, tile, self.halo, self.align).pixels

    def best_tile(self, shape: tuple[int, int], room: int, grad: bool) -> tuple[int, int] | None:
        """The tile (rows, cols) on the alignment whose pass fits in ``room`` bytes and computes
        the fewest pixels over the image (the larger of equals), or None when not even the
        smallest (the halo on both sides of one aligned core) fits."""
        side, best, least = 2 * self.halo + self.align, None, math.inf
        while True:
            tile = (min(side, shape[0]), min(side, shape[1]))
            cost = self.step(shape, tile) if grad else self.targets(shape, tile)
            if cost > room:
                return best
            work = self.work(shape, tile)
            if work <= least:
                best, least = tile, work
            if tile == shape:
                return best
            side += self.align * max(1, side // (8 * self.align))  # coarse steps past a few hundred px

    def scale(self, side: int, steps: int, budget: int) -> ScaleBudget | None:
        """The first plan that fits: untiled while L-BFGS keeps at least MIN_UNTILED_HISTORY pairs
        (a tiled step costs about twice as much), then tiled with a core of at least GOOD_CORE
        pixels, then untiled or tiled with any history; None when nothing fits."""
        shape = shape_for(side, self.full[1], self.full[0])
        # A scale of n steps stores at most n pairs: a longer history would be memory never used.
        histories = (0,) if self.s.optimizer == "adam" else \
            tuple(sorted({min(h, max(1, steps)) for h in HISTORIES}, reverse=True))
        for history in histories:
            if history >= MIN_UNTILED_HISTORY or history == histories[-1]:
                plan = self._untiled(shape, side, steps, history, budget)
                if plan is not None:
                    return plan
        for history in histories:
            plan = self._tiled(shape, side, steps, history, budget, good=history != histories[-1])
            if plan is not None:
                return plan
        return None

    def least(self, side: int) -> int:
        """The smallest budget the scale of max side ``side`` can run in: the smallest tile, and the
        fewest L-BFGS pairs."""
        shape = shape_for(side, self.full[1], self.full[0])
        smallest = (2 * self.halo + self.align,) * 2
        return self._peak(shape, 0 if self.s.optimizer == "adam" else HISTORIES[-1], smallest, smallest)

    def _peak(self, shape: tuple[int, int], history: int, tile: tuple[int, int] | None,
              targets_tile: tuple[int, int] | None) -> int:
        finish = self.fixed + RESULT_PIXEL * _area(shape) if shape == self.full else 0
        return max(self.state(shape, history) + max(self.step(shape, tile), self.between_steps(shape),
                                                     self.targets(shape, targets_tile)),
                   self.setup(shape, targets_tile), finish)

    def _untiled(self, shape: tuple[int, int], side: int, steps: int, history: int, budget: int) -> ScaleBudget | None:
        peak = self._peak(shape, history, None, None)
        return ScaleBudget(shape, steps, side, None, None, history, peak) if peak <= budget else None

    def _tiled(self, shape: tuple[int, int], side: int, steps: int, history: int, budget: int,
               good: bool) -> ScaleBudget | None:
        state = self.state(shape, history)
        if state + self.between_steps(shape) > budget:
            return None
        tile = self.best_tile(shape, budget - state, grad=True)
        if tile is None or (good and min(tile) - 2 * self.halo < GOOD_CORE):
            return None
        # The passes without gradients (targets, the tiled loss) take the largest tiles that fit
        # both beside the scale's state and during its set-up.
        setup_room = budget - self.setup(shape, None) + self.targets(shape, None)
        targets_tile = self.best_tile(shape, min(budget - state, setup_room), grad=False)
        if targets_tile is None:
            return None
        peak = self._peak(shape, history, tile, targets_tile)
        return ScaleBudget(shape, steps, side, tile, targets_tile, history, peak) if peak <= budget else None


def _loaded() -> tuple[bool, bool]:
    """(the VGG19, the fast networks) already loaded in this process, so in its resident memory."""
    from nst.model import vgg

    runtime = sys.modules.get("nst.model.fast.runtime")  # not imported: not loaded (importing it loads onnx)
    return (vgg._load_cached.cache_info().currsize > 0,
            runtime is not None and runtime._build.cache_info().currsize > 0)


def _area(shape: tuple[int, int]) -> int:
    return shape[0] * shape[1]


def _model(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
           device: torch.device) -> _Model:
    return _Model(settings, content_size, style_sizes, resolve_dtype(settings.precision, device),
                  cpu=device.type == "cpu")


# Resident memory is counted in these steps, so that two plans a moment apart agree although the
# process's memory moves by a few pages between them.
HELD_GRAIN = 8 * 2**20


def held_memory(device: torch.device) -> int:
    """What the process holds before a run on ``device``: on the CPU its resident memory (rounded
    up to HELD_GRAIN), which the budget includes; on a GPU 0, its budget being the GPU's memory."""
    if device.type != "cpu":
        return 0
    # Freed heap that glibc keeps (an earlier run's tensors) is not held: handed back first, it
    # neither counts twice (the run would reuse it) nor makes a second plan of the same recipe
    # differ from the first (measured: 752 MiB resident after a 384 px run, 640 MiB trimmed, and
    # 640 MiB after every later run).
    trim()
    return -(-resident() // HELD_GRAIN) * HELD_GRAIN


def _auto_words(device: torch.device) -> str:
    """The Auto budget's rule in words, for the messages that name it."""
    shared = f", shared by {_runs_per_device} runs" if _runs_per_device > 1 else ""
    return f"{'half' if device.type == 'cpu' else '80 %'} of the free memory{shared}"


def _budgets(settings: Settings, device: torch.device, held: int) -> tuple[int, int]:
    """(the budget, the run's share of it): ``max_memory`` bounds the whole process on the CPU;
    without it the run may take a share of the free memory on top of what the process holds."""
    if settings.max_memory is None:
        share = default_budget(device)
        return held + share, share
    return settings.max_memory, settings.max_memory - held


def plan_run(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]] = (),
             device: torch.device | None = None, held: int | None = None) -> RunPlan:
    """How a run of ``settings`` on a content of ``content_size`` (width, height) and styles of
    ``style_sizes`` keeps within its memory budget: per scale, tiled or not, and the estimated
    peak. ``held``: what the process holds already (default: :func:`held_memory`, measured now).
    BudgetError when a scale cannot fit, before anything is computed."""
    device = device if device is not None else resolve_device(settings.device)
    held = held_memory(device) if held is None else held
    budget, room = _budgets(settings, device, held)
    model = _model(settings, content_size, style_sizes, device)
    sides = scale_sides(settings.size, settings)
    scales = tuple(model.scale(side, n, room) for side, n in zip(sides, scale_steps(settings)))
    if None in scales:
        parts = f"tiles of {2 * model.halo + model.align} px"
        if settings.max_memory is not None:  # the whole process's: what it holds already, and the run
            least = least_budget(settings, content_size, style_sizes, device, held)
            which = "max_memory is"
            before = f"the {format_bytes(held)} this process holds before the run, " if held else ""
        else:  # the run's share of the free memory
            least, before = least_budget(settings, content_size, style_sizes, device, 0), ""
            which = f"the budget ({_auto_words(device)}) is"
        raise BudgetError(f"A {model.full[1]}×{model.full[0]} result needs at least {format_bytes(least)} of memory"
                          f" ({before}its images, the optimiser's state and {parts}), but {which}"
                          f" {format_bytes(settings.max_memory if settings.max_memory is not None else room)};"
                          " raise max_memory or lower the size.")
    return RunPlan(budget, model.halo, model.align, scales, held, device.type == "cpu")  # type: ignore[arg-type]


def _fast_bytes(settings: Settings, shape: tuple[int, int], painted: tuple[int, int], cpu: bool) -> int:
    """Peak bytes of a fast-method run at output ``shape`` painting at ``painted`` (see FAST_*): the
    content tensor made, the painting beside the content (and its copy at the painted size), and the
    result enlarged and quantised; the networks where they are still to be loaded."""
    out, area = _area(shape), _area(painted)
    painting = (FAST_PIXEL + (PIXEL if painted != shape else 0)) * area
    if settings.mask is not None and settings.regions:  # the composed picture, one style's, the masks
        painting += (2 * PIXEL + 4 * (len(settings.regions) + 1)) * area
    loads = FAST_NETWORKS if cpu and not _loaded()[1] else 0
    return loads + max(FAST_INPUT_PIXEL * out, PIXEL * out + painting, FAST_OUTPUT_PIXEL * out, RESULT_PIXEL * out)


def plan_fast(settings: Settings, content_size: tuple[int, int], device: torch.device | None = None,
              held: int | None = None) -> FastPlan:
    """How a fast-method run of ``settings`` on a content of ``content_size`` (width, height) keeps
    within its budget (the same budget as :func:`plan_run`'s): painted at the output size where it
    fits, else at the largest side that fits and enlarged. BudgetError, naming the least budget,
    where not even a FAST_MIN_SIDE painting fits."""
    device = device if device is not None else resolve_device(settings.device)
    held = held_memory(device) if held is None else held
    budget, room = _budgets(settings, device, held)
    width, height = content_size
    shape = shape_for(settings.size, width, height)
    cpu = device.type == "cpu"

    def cost(side: int) -> int:
        return _fast_bytes(settings, shape, shape_for(side, shape[1], shape[0]), cpu)

    low, high = min(settings.size, FAST_MIN_SIDE), settings.size
    if cost(low) > room:
        least = least_fast_budget(settings, content_size, device, held)
        which = "max_memory is" if settings.max_memory is not None else f"the budget ({_auto_words(device)}) is"
        before = f"the {format_bytes(held)} this process holds before the run, " if held else ""
        raise BudgetError(f"A {shape[1]}×{shape[0]} fast result needs at least {format_bytes(least)} of memory"
                          f" ({before}the picture at that size and the network's painting at {low} px), but {which}"
                          f" {format_bytes(settings.max_memory if settings.max_memory is not None else room)};"
                          " raise max_memory or lower the size.")
    while low < high:  # the largest side whose run fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= room else (low, middle - 1)
    painted = shape_for(low, shape[1], shape[0])
    return FastPlan(budget, shape, painted, cost(low), held, cpu)


def least_fast_budget(settings: Settings, content_size: tuple[int, int], device: torch.device | None = None,
                      held: int | None = None) -> int:
    """The smallest ``max_memory`` a fast-method run can have (painted at FAST_MIN_SIDE), with what
    the process holds (``held``, default measured now, on the CPU): what its BudgetError names."""
    device = device if device is not None else resolve_device(settings.device)
    held = held_memory(device) if held is None else held
    shape = shape_for(settings.size, *content_size)
    painted = shape_for(min(settings.size, FAST_MIN_SIDE), shape[1], shape[0])
    return held + _fast_bytes(settings, shape, painted, device.type == "cpu")


def estimate_peak(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]] = (),
                  device: torch.device | None = None) -> int:
    """Estimated peak bytes of a run, the process included on the CPU (see :func:`plan_run`): for
    the studio's size widget."""
    return plan_run(settings, content_size, style_sizes, device).peak


def least_budget(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]] = (),
                 device: torch.device | None = None, held: int | None = None) -> int:
    """The smallest ``max_memory`` a run of ``settings`` can have (its finest scales in the
    smallest tiles, L-BFGS with one pair), with what the process holds (``held``, default
    measured now, on the CPU): what BudgetError names."""
    device = device if device is not None else resolve_device(settings.device)
    held = held_memory(device) if held is None else held
    model = _model(settings, content_size, style_sizes, device)
    return held + max(model.least(side) for side in scale_sides(settings.size, settings))
