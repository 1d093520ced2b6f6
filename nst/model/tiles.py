"""Tiled passes: a scale too large for the memory budget computed in overlapping tiles, with the
loss and gradient of one pass over the whole image.

Every position of every feature map belongs to exactly one tile's *core*; a tile is its core
widened on each side by the *halo*, the reach of the deepest layer used (70 px for conv5_1,
rounded up to 80, a multiple of its stride 16), and every edge lies on that stride. A core's
features then depend only on pixels inside its tile and meet the same pooling grid, so they are
the whole image's features: the zero padding at a tile's edge and its partial pooling windows
only touch the halo. Hence:

* Style (Gram) targets are sums over the cores: G = Σ (M_core / M) G_core, exactly; the style
  image's and the optimised image's alike.
* The content target of a tile is the content's feature map at its core.
* The loss of the whole image is computed in a first pass without gradients (the style error
  needs the whole image's Gram before any gradient: dE/dF = 2 D F / M with D = dE/dG).
* The gradient is assembled in a second pass: each tile back-propagates only its core's share of
  the loss (⟨D, G_core⟩ M_core / M for a style layer, the content error on the core) and adds the
  gradient on all of its pixels; the cores partition every feature map, so the sum is the whole
  image's gradient. Overlaps are blended by that partition of the features (halo pixels receive
  the gradient of the neighbouring cores' features), not by weighting pixels.

So L-BFGS sees one fixed objective and its exact gradient, and its curvature pairs stay valid
although the grid moves: the core edges are shifted at random (on the stride) at every step, so
that no edge stays put even where rounding differs between tiles. The price is the halo and the
extra forward pass: about 1.4–2× the arithmetic of an untiled step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import torch

from nst.core.vgg_layers import STRIDE, depth, reach
from nst.core.vgg_layers import CONV_LAYERS
from nst.model.losses import Region, content_loss, gram, gram_error
from nst.core.progress import NOT_WATCHED, Watch
from nst.model.vgg import VGG19Features

if TYPE_CHECKING:
    from nst.model.regions import RegionMasks

Box = tuple[int, int, int, int]  # top, bottom, left, right in pixels; ends exclusive
JITTER = 1  # steps of the alignment (16 px for conv5_1) by which each inner core edge moves


def halo_for(layers: Sequence[str] | set[str]) -> tuple[int, int]:
    """(halo, alignment) in pixels for passes reaching ``layers``: the deepest layer's reach
    rounded up to its stride, and that stride (every tile edge lies on it)."""
    deepest = CONV_LAYERS[depth(set(layers))]
    align = STRIDE[deepest]
    return math.ceil(reach(deepest) / align) * align, align


@dataclass(frozen=True)
class TileGrid:
    """How one pass cut a (height × width) image: the core edges along each axis, the halo, and
    the tile (rows, cols) every core is computed in."""

    height: int
    width: int
    rows: tuple[int, ...]  # core edges along the height: 0, …, height
    cols: tuple[int, ...]  # core edges along the width: 0, …, width
    halo: int
    tile: tuple[int, int]
    align: int

    @property
    def count(self) -> int:
        return (len(self.rows) - 1) * (len(self.cols) - 1)

    @property
    def pixels(self) -> int:
        """Pixels a pass over these tiles computes, halos included."""
        return sum((b - t) * (r - l) for _, (t, b, l, r) in self.tiles())

    def tiles(self) -> Iterator[tuple[Box, Box]]:
        """(core, tile) boxes, row by row."""
        for top, bottom in zip(self.rows, self.rows[1:]):
            rows = _window(top, bottom, self.height, self.tile[0], self.halo, self.align)
            for left, right in zip(self.cols, self.cols[1:]):
                cols = _window(left, right, self.width, self.tile[1], self.halo, self.align)
                yield (top, bottom, left, right), (*rows, *cols)


def _window(start: int, end: int, length: int, tile: int, halo: int, align: int) -> tuple[int, int]:
    """The tile along one axis around the core start:end: ``tile`` long from ``halo`` before the
    core, moved inwards at the image's edges; the last one ends at the edge (up to ``align`` − 1
    longer, so that it starts on the alignment). Tiles of a few fixed shapes, wherever the cores
    fall: a new shape costs oneDNN a new kernel (time, and memory its cache keeps)."""
    if length <= tile:
        return 0, length
    last = (length - tile) // align * align
    begin = min(max(0, start - halo), last)
    return begin, length if begin == last else begin + tile


def _edges(length: int, tile: int, halo: int, align: int, generator: torch.Generator | None
           ) -> tuple[tuple[int, ...], int]:
    """Core edges along one axis and the tile length they need. One core when a tile spans the
    axis; else the fewest evenly spaced cores of at most tile − 2·halo that leave each inner edge
    room to move, moved at random by up to JITTER steps of the alignment when ``generator`` is
    given. Tiles are only as long as the widest core so placed can be."""
    if length <= tile:
        return (0, length), length
    widest = tile - 2 * halo
    # An edge rounded to the alignment moves by up to half a step each way, the jitter by its steps.
    spread = widest - align * (1 + 2 * JITTER)
    cores = math.ceil(length / max(spread, 1))
    spacing = length / cores
    if spread < align or spacing < align * (2 + 2 * JITTER):
        # Tiles too small for their edges to move without two meeting: cores of ``widest``.
        return (0, *range(widest, length, widest), length), tile
    edges = [0]
    for k in range(1, cores):
        jitter = int(torch.randint(-JITTER, JITTER + 1, (), generator=generator)) if generator is not None else 0
        edges.append(round(k * spacing / align) * align + jitter * align)
    needed = math.ceil((spacing + align * (1 + 2 * JITTER)) / align) * align + 2 * halo
    return (*edges, length), min(tile, needed)


def make_grid(height: int, width: int, tile: tuple[int, int], halo: int, align: int,
              generator: torch.Generator | None = None) -> TileGrid:
    """The grid of tiles of at most ``tile`` (rows, cols) pixels (on the alignment) over a
    (height × width) image, its inner core edges moved at random on the alignment by
    ``generator`` (none: evenly spaced). The tiles at the far edges can be up to ``align`` − 1
    pixels longer; all others have one shape, whatever the draw."""
    rows, tile_rows = _edges(height, tile[0], halo, align, generator)
    cols, tile_cols = _edges(width, tile[1], halo, align, generator)
    return TileGrid(height, width, rows, cols, halo, (tile_rows, tile_cols), align)


def whole(height: int, width: int) -> TileGrid:
    """The grid of one tile: the whole image."""
    return TileGrid(height, width, (0, height), (0, width), 0, (height, width), 1)


def _region(core: Box, origin: Box, stride: int) -> Region:
    """Feature positions of ``core`` in the map of a crop starting at ``origin`` (top, _, left, _),
    at a layer of ``stride``; the crop's origin lies on the stride."""
    top, bottom, left, right = core
    return ((top - origin[0]) // stride, math.ceil((bottom - origin[0]) / stride),
            (left - origin[2]) // stride, math.ceil((right - origin[2]) / stride))


def _share(core: Box, height: int, width: int, stride: int) -> float:
    """The core's share M_core / M of the positions of a map at ``stride`` over the whole image."""
    t, b, l, r = _region(core, (0, 0, 0, 0), stride)
    return (b - t) * (r - l) / (math.ceil(height / stride) * math.ceil(width / stride))


def _crop(image: torch.Tensor, box: Box) -> torch.Tensor:
    return image[:, box[0]:box[1], box[2]:box[3]]


@dataclass
class Pass:
    """What a tiled pass needs besides the image: the network, how it is run, and the run's stop
    signal, checked before each tile and at each layer (:mod:`nst.core.progress`)."""

    model: VGG19Features
    pooling: str
    dtype: torch.dtype
    watch: Watch = NOT_WATCHED

    def features(self, crop: torch.Tensor, core: Box, box: Box, layers: set[str]
                 ) -> Iterator[tuple[str, torch.Tensor, Region | None]]:
        """The features of the tile ``box`` (``crop`` of the image) at ``layers`` as (layer, map,
        region of the core in that map; None for all of it), each yielded as the pass reaches it."""
        for layer, f in self.model.iter_features(crop[None], layers, pooling=self.pooling, dtype=self.dtype,
                                                 check=self.watch.check):
            yield layer, f, None if core == box else _region(core, box, STRIDE[layer])

    def tiles(self, grid: TileGrid, label: str = "") -> Iterator[tuple[Box, Box]]:
        """``grid``'s (core, tile) boxes, telling the run's watch as each tile begins (``label``:
        which pass of a step)."""
        for index, boxes in enumerate(grid.tiles(), 1):
            if grid.count > 1:
                self.watch.tile(label, index, grid.count)
            yield boxes

    def shares(self, image: torch.Tensor, grid: TileGrid, layers: set[str], label: str = ""
               ) -> Iterator[tuple[Box, str, torch.Tensor, Region | None, float]]:
        """Per tile of ``grid`` and layer: the core, the layer, the tile's map, the core's region in
        it, and the core's share M_core / M of the whole image's positions at that layer."""
        height, width = image.shape[-2:]
        for core, box in self.tiles(grid, label):
            for layer, f, region in self.features(_crop(image, box), core, box, layers):
                yield core, layer, f, region, _share(core, height, width, STRIDE[layer])

    @torch.no_grad()
    def grams(self, image: torch.Tensor, grid: TileGrid, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The whole image's Gram matrix G = F Fᵀ / M at each of ``layers``, summed over the cores."""
        out: dict[str, torch.Tensor] = {}
        for _, layer, f, region, share in self.shares(image, grid, set(layers)):
            out[layer] = out[layer] + gram(f, region) * share if layer in out else gram(f, region) * share
        return out

    @torch.no_grad()
    def feature_maps(self, image: torch.Tensor, grid: TileGrid, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The whole image's feature maps (1, N, H/stride, W/stride) at ``layers``, core by core."""
        height, width = image.shape[-2:]
        out: dict[str, torch.Tensor] = {}
        for core, layer, f, region, _ in self.shares(image, grid, set(layers)):
            if region is None:  # one tile: its maps are the whole image's
                out[layer] = f
                continue
            if layer not in out:
                s = STRIDE[layer]
                out[layer] = torch.empty(1, f.shape[1], math.ceil(height / s), math.ceil(width / s),
                                         dtype=f.dtype, device=f.device, memory_format=torch.channels_last)
            _at(out[layer], _region(core, (0, 0, 0, 0), STRIDE[layer])).copy_(_at(f, region))
        return out


@dataclass
class Targets:
    """The whole image's targets of a tiled scale."""

    content: Mapping[str, torch.Tensor]  # feature maps of the content at the content layers
    grams: Sequence[Mapping[str, torch.Tensor]]  # one set per style image
    blend: Sequence[float]
    style_layers: Sequence[str]  # in the order of the terms


class TiledTerms(torch.autograd.Function):
    """The raw loss terms of a whole image, [content, E_l for each style layer], computed over the
    tiles of ``forward`` (a pass without gradients, so its tiles can be larger); the backward
    returns their exact gradient, assembled over the tiles of ``grid`` (see the module's
    docstring). The optimiser differentiates the total as for an untiled pass. With ``regions``
    (:class:`nst.model.regions.RegionMasks`), each styled region's masked Gram is summed over the cores
    as the plain Gram is, and E_l is the regions' error."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, run: Pass, targets: Targets, forward: TileGrid,  # type: ignore[override]
                grid: TileGrid, regions: "RegionMasks | None" = None) -> torch.Tensor:
        layers = set(targets.content) | set(targets.style_layers)
        height, width = image.shape[-2:]
        grams: dict[tuple[str, int], torch.Tensor] = {}  # (layer, region or -1): the whole image's Gram
        content = image.new_zeros((), dtype=torch.float32)
        with torch.no_grad():
            for core, layer, f, region, share in run.shares(image, forward, layers, "loss pass"):
                if layer in targets.content:
                    content += content_loss(_at(f, region), _core_target(targets.content[layer], core, layer)) * share
                if layer in targets.style_layers:
                    for key, part in _gram_parts(f, layer, core, region, share, regions, height, width):
                        grams[key] = grams[key] + part if key in grams else part
        errors = [_layer_error(grams, targets, layer, regions) for layer in targets.style_layers]
        ctx.save_for_backward(image)
        ctx.run, ctx.targets, ctx.grid, ctx.grams, ctx.regions = run, targets, grid, grams, regions
        return torch.stack([content, *errors]).detach()

    @staticmethod
    def backward(ctx, weights: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None, None]:  # type: ignore[override]
        (image,) = ctx.saved_tensors
        run, targets, grid, regions = ctx.run, ctx.targets, ctx.grid, ctx.regions
        height, width = image.shape[-2:]
        # dE_l/dG at the whole image's Gram (each region's), scaled by the weight the total gives E_l.
        slopes: dict[tuple[str, int], torch.Tensor] = {}
        for layer, w in zip(targets.style_layers, weights[1:]):
            slopes.update({key: slope * w for key, slope in _slopes(ctx.grams, targets, layer, regions).items()})
        layers = set(targets.content) | {layer for layer, _ in slopes}
        grad = torch.zeros_like(image)
        with torch.enable_grad():
            for core, box in run.tiles(grid, "gradient pass"):
                x = _crop(image, box).detach().requires_grad_(True)
                share = x.new_zeros(())
                # Each layer's share is added as the pass reaches it, so its backward runs when the
                # backward gets there (see VGG19Features.iter_features).
                for layer, f, region in run.features(x, core, box, layers):
                    part = _share(core, height, width, STRIDE[layer])
                    if layer in targets.content:
                        target = _core_target(targets.content[layer], core, layer)
                        share = share + weights[0] * part * content_loss(_at(f, region), target)
                    if layer in targets.style_layers:
                        for key, g in _gram_parts(f, layer, core, region, part, regions, height, width):
                            share = share + (slopes[key] * g).sum()
                share.backward()
                _crop(grad, box).add_(x.grad)
        return grad, None, None, None, None, None


def _gram_parts(f: torch.Tensor, layer: str, core: Box, region: Region | None, share: float,
                regions: "RegionMasks | None", height: int, width: int) -> Iterator[tuple[tuple[str, int], torch.Tensor]]:
    """A core's share of the whole image's Gram at ``layer``: keyed (layer, -1) without regions,
    else (layer, r) for each styled region r, its masked Gram's share (see nst.model.regions)."""
    if regions is None:
        yield (layer, -1), gram(f, region) * share
        return
    stride = STRIDE[layer]
    # Where the tile's map starts in the whole image's map (the tile's edges lie on the stride).
    top, left = (core[0] // stride - region[0], core[2] // stride - region[2]) if region is not None else (0, 0)
    masks, norms = regions.tile((math.ceil(height / stride), math.ceil(width / stride)), (top, left),
                                tuple(f.shape[-2:]))
    for index in regions.styled:
        yield (layer, index), gram(f * masks[index].to(f.dtype), region) * (share * norms[index])


def _layer_error(grams: Mapping[tuple[str, int], torch.Tensor], targets: Targets, layer: str,
                 regions: "RegionMasks | None") -> torch.Tensor:
    """E_l from the whole image's Gram(s) at ``layer``."""
    if regions is None:
        return style_error(grams[(layer, -1)], targets, layer)
    return regions.error({index: grams[(layer, index)] for index in regions.styled},
                         [g[layer] for g in targets.grams])


def _slopes(grams: Mapping[tuple[str, int], torch.Tensor], targets: Targets, layer: str,
            regions: "RegionMasks | None") -> dict[tuple[str, int], torch.Tensor]:
    """D = dE_l/dG for each Gram at ``layer`` (N × N: small, so autograd on them costs nothing)."""
    keys = [key for key in grams if key[0] == layer]
    if not keys:  # only photo regions: no style term at this layer
        return {}
    with torch.enable_grad():
        leaves = {key: grams[key].detach().requires_grad_(True) for key in keys}
        error = _layer_error(leaves, targets, layer, regions)
        found = torch.autograd.grad(error, list(leaves.values()), allow_unused=True)
    return {key: torch.zeros_like(leaves[key]) if g is None else g for key, g in zip(keys, found)}


def _at(f: torch.Tensor, region: Region | None) -> torch.Tensor:
    if region is None:
        return f
    top, bottom, left, right = region
    return f[..., top:bottom, left:right]


def _core_target(target: torch.Tensor, core: Box, layer: str) -> torch.Tensor:
    return _at(target, _region(core, (0, 0, 0, 0), STRIDE[layer]))


def style_error(g: torch.Tensor, targets: Targets, layer: str) -> torch.Tensor:
    """E_l of the blend of styles for an image whose Gram at ``layer`` is ``g`` (tiled or not)."""
    return sum((b * gram_error(g, grams[layer]) for grams, b in zip(targets.grams, targets.blend)),
               g.new_zeros(()))
