"""The memory plan of a run: how it keeps within a budget (``Settings.max_memory``, or a share of the
device's free memory), searched over the bytes that :mod:`nst.plan.footprint` counts. The plan is
the run's one description, built once: its scales, their steps, tiles (with the grids the engine
cuts them by) and bytes; :mod:`nst.plan.estimate` prices it in seconds.

On the CPU the budget is the whole process's: the plan starts from what the process already holds
when it plans (its resident memory: Python, torch, the inputs, whatever is loaded).

Where a scale does not fit, the plan tiles it (see :mod:`nst.model.tiles`): of the tiles whose pass
fits beside the scale's state, the one that computes the fewest pixels, halos included. L-BFGS
keeps 10 curvature pairs, each two image-sized vectors (at 4096 px more than the whole tiled
pass); where they leave too little for tiles with cores of ``GOOD_CORE`` pixels, the plan keeps
fewer, down to one.

The fast method has its own plan (:func:`plan_fast`): the network paints at the output size where
that fits, else at the largest size that does and the result is enlarged, else it is refused with
the figure. Without ``max_memory`` the budget is :func:`default_budget`, shared among the runs that
may use a device at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import torch

from nst.core.errors import BudgetError
from nst.core.memory import ALLOCATOR_SLACK, proc_bytes, resident, trim
from nst.core.settings import Settings, format_bytes
from nst.model.tiles import TileGrid, make_grid, whole
from nst.plan.device import resolve_device, resolve_dtype
from nst.plan.footprint import Footprint, fast_bytes
from nst.plan.schedule import ScalePlan, scale_sides, scale_steps, shape_for

LBFGS_HISTORY = 10  # curvature pairs kept where the budget allows
HISTORIES = (LBFGS_HISTORY, 5, 2, 1)  # tried in turn where the budget is short
MIN_UNTILED_HISTORY = 2  # fewer pairs than this: tiles with more, before an untiled pass with fewer
GOOD_CORE = 512  # a smaller core spends more on its halo (80 px each side for conv5_1) than on itself
CPU_SHARE, GPU_SHARE = 0.5, 0.8  # of the free memory, when max_memory is not set
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



@dataclass(frozen=True)
class ScaleBudget(ScalePlan):
    """How one scale runs within the budget: besides its shape and steps, its side, tile (None:
    untiled) and L-BFGS history, and the grids its passes are cut by."""

    side: int
    tile: tuple[int, int] | None  # (rows, cols) of the largest tile of a step; None: one pass
    targets_tile: tuple[int, int] | None  # tile of the passes without gradients (targets)
    history: int  # L-BFGS curvature pairs (0 for Adam)
    peak: int  # estimated bytes at this scale's peak
    # A step's tiles, unshifted (the engine moves their inner edges at random each step: the same
    # tiles, number and pixels); None: one pass.
    grid: TileGrid | None
    forward: TileGrid  # the passes without gradients over the scale's image: its targets, the tiled loss

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


def _footprint(settings: Settings, content_size: tuple[int, int], style_sizes: Sequence[tuple[int, int]],
               device: torch.device) -> Footprint:
    return Footprint(settings, content_size, style_sizes, resolve_dtype(settings.precision, device),
                     cpu=device.type == "cpu")


def pass_grid(shape: tuple[int, int], tile: tuple[int, int] | None, halo: int, align: int) -> TileGrid:
    """The grid of a pass without gradients over an image of ``shape``: one pass when it fits in
    ``tile``, else unshifted tiles."""
    if tile is None or (shape[0] <= tile[0] and shape[1] <= tile[1]):
        return whole(*shape)
    return make_grid(*shape, tile, halo, align)


def _best_tile(fp: Footprint, shape: tuple[int, int], room: int, grad: bool) -> tuple[int, int] | None:
    """The tile (rows, cols) on the alignment whose pass fits in ``room`` bytes and computes the
    fewest pixels over the image, halos included (the larger of equals), or None when not even the
    smallest (the halo on both sides of one aligned core) fits."""
    side, best, least = 2 * fp.halo + fp.align, None, math.inf
    while True:
        tile = (min(side, shape[0]), min(side, shape[1]))
        cost = fp.step(shape, tile) if grad else fp.targets(shape, tile)
        if cost > room:
            return best
        work = make_grid(*shape, tile, fp.halo, fp.align).pixels
        if work <= least:
            best, least = tile, work
        if tile == shape:
            return best
        side += fp.align * max(1, side // (8 * fp.align))  # coarse steps past a few hundred px


def _scale(fp: Footprint, side: int, steps: int, budget: int) -> ScaleBudget | None:
    """The first plan of a scale that fits: untiled while L-BFGS keeps at least MIN_UNTILED_HISTORY
    pairs (a tiled step costs about twice as much), then tiled with a core of at least GOOD_CORE
    pixels, then untiled or tiled with any history; None when nothing fits."""
    shape = shape_for(side, fp.full[1], fp.full[0])
    # A scale of n steps stores at most n pairs: a longer history would be memory never used.
    histories = (0,) if fp.s.optimizer == "adam" else \
        tuple(sorted({min(h, max(1, steps)) for h in HISTORIES}, reverse=True))
    for history in histories:
        if history >= MIN_UNTILED_HISTORY or history == histories[-1]:
            plan = _untiled(fp, shape, side, steps, history, budget)
            if plan is not None:
                return plan
    for history in histories:
        plan = _tiled(fp, shape, side, steps, history, budget, good=history != histories[-1])
        if plan is not None:
            return plan
    return None


def _least(fp: Footprint, side: int) -> int:
    """The smallest budget the scale of max side ``side`` can run in: the smallest tile, and the
    fewest L-BFGS pairs."""
    shape = shape_for(side, fp.full[1], fp.full[0])
    smallest = (2 * fp.halo + fp.align,) * 2
    return fp.peak(shape, 0 if fp.s.optimizer == "adam" else HISTORIES[-1], smallest, smallest)


def _untiled(fp: Footprint, shape: tuple[int, int], side: int, steps: int, history: int,
             budget: int) -> ScaleBudget | None:
    peak = fp.peak(shape, history, None, None)
    return ScaleBudget(shape, steps, side, None, None, history, peak, None, whole(*shape)) if peak <= budget else None


def _tiled(fp: Footprint, shape: tuple[int, int], side: int, steps: int, history: int, budget: int,
           good: bool) -> ScaleBudget | None:
    state = fp.state(shape, history)
    if state + fp.between_steps(shape) > budget:
        return None
    tile = _best_tile(fp, shape, budget - state, grad=True)
    if tile is None or (good and min(tile) - 2 * fp.halo < GOOD_CORE):
        return None
    # The passes without gradients (targets, the tiled loss) take the largest tiles that fit
    # both beside the scale's state and during its set-up.
    setup_room = budget - fp.setup(shape, None) + fp.targets(shape, None)
    targets_tile = _best_tile(fp, shape, min(budget - state, setup_room), grad=False)
    if targets_tile is None:
        return None
    peak = fp.peak(shape, history, tile, targets_tile)
    if peak > budget:
        return None
    return ScaleBudget(shape, steps, side, tile, targets_tile, history, peak,
                       make_grid(*shape, tile, fp.halo, fp.align), pass_grid(shape, targets_tile, fp.halo, fp.align))

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
    footprint = _footprint(settings, content_size, style_sizes, device)
    sides = scale_sides(settings.size, settings)
    scales = tuple(_scale(footprint, side, n, room) for side, n in zip(sides, scale_steps(settings)))
    if None in scales:
        parts = f"tiles of {2 * footprint.halo + footprint.align} px"
        if settings.max_memory is not None:  # the whole process's: what it holds already, and the run
            least = least_budget(settings, content_size, style_sizes, device, held)
            which = "max_memory is"
            before = f"the {format_bytes(held)} this process holds before the run, " if held else ""
        else:  # the run's share of the free memory
            least, before = least_budget(settings, content_size, style_sizes, device, 0), ""
            which = f"the budget ({_auto_words(device)}) is"
        height, width = footprint.full
        raise BudgetError(f"A {width}×{height} result needs at least {format_bytes(least)} of memory"
                          f" ({before}its images, the optimiser's state and {parts}), but {which}"
                          f" {format_bytes(settings.max_memory if settings.max_memory is not None else room)};"
                          " raise max_memory or lower the size.")
    return RunPlan(budget, footprint.halo, footprint.align, scales,  # type: ignore[arg-type]
                   held, device.type == "cpu")

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
        return fast_bytes(settings, shape, shape_for(side, shape[1], shape[0]), cpu)

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
    return held + fast_bytes(settings, shape, painted, device.type == "cpu")


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
    footprint = _footprint(settings, content_size, style_sizes, device)
    return held + max(_least(footprint, side) for side in scale_sides(settings.size, settings))
