"""Painted regions -> ``Settings.mask`` and ``Settings.regions``: pure functions, tested without a browser.

The editor (:mod:`studio.views.region_editor`) paints on a canvas over the photo with the colours of
:data:`PALETTE`; each colour found in the painting is a region and gets a target: a style image
(its 1-based place among the uploads, as a string) or ``"photo"`` (keep the photo there). What
is left unpainted (or painted with the eraser, which paints :data:`nst.core.masks.UNPAINTED`) is one
more region with its own target, the photo by default: paint where the style goes.

Strokes are drawn at :data:`STROKE_ALPHA`, so the photo shows through them; the canvas gives
them back at full colour with that alpha, which :mod:`nst.core.masks` counts as painted (alpha ≥ 128).
The palette is corners of the RGB cube: each is at least 180 away from the blend of any two
others (and of white), so an overlap or an antialiased edge never reads as a third colour.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from nst.core import masks
from nst.core.errors import SettingsError
from nst.model.regions import UNUSED_WITH_REGIONS
from nst.plan.preflight import region_problems
from studio.services.labels import labels
from studio.services.literal import literal

PALETTE: dict[str, str] = {"Red": "#ff0000", "Blue": "#0000ff", "Green": "#00ff00", "Yellow": "#ffff00",
                           "Magenta": "#ff00ff"}
# Markdown swatches in the strokes' own colours; the unpainted one is an outline.
SWATCH: dict[str, str] = {**{colour: f':color[■]{{foreground="{colour}"}}' for colour in PALETTE.values()},
                          masks.UNPAINTED: ":gray[□]"}
ERASER = "Eraser"  # paints the unpainted colour: that area goes back to what the unpainted area gets
STROKE_ALPHA = 0.65  # 166 of 255: seen through, and painted by nst.core.masks' rule
MIN_SHARE = 0.0005  # a colour covering less of the canvas is an edge's blend, not a region
PHOTO = masks.PHOTO
OVERLAY_ALPHA = 0.55  # how strongly a mask's colours are laid over the photo when shown


def tool_name(tool: str) -> str:
    """A palette name or the eraser with its swatch (Markdown)."""
    return f"{SWATCH[masks.UNPAINTED]} Eraser" if tool == ERASER else colour_name(PALETTE[tool])


def stroke_colour(tool: str) -> str:
    """The canvas stroke colour of a palette name or the eraser, as CSS rgba()."""
    red, green, blue = masks.rgb(masks.UNPAINTED if tool == ERASER else PALETTE[tool])
    return f"rgba({red}, {green}, {blue}, {STROKE_ALPHA})"


def colour_name(colour: str) -> str:
    """'#ff0000' -> ':red[■] Red' (Markdown); the unpainted colour is the unpainted area; other
    colours (a recipe's) as their hex."""
    if colour == masks.UNPAINTED:
        return f"{SWATCH[colour]} Unpainted area"
    names = {hex_: name for name, hex_ in PALETTE.items()}
    return f"{SWATCH[colour]} {names[colour]}" if colour in names else f"`{colour}`"


def _labels(paint: np.ndarray) -> np.ndarray:
    """Each pixel's index in PALETTE's colours, or len(PALETTE) for unpainted (or erased) pixels."""
    colours = [*PALETTE.values(), masks.UNPAINTED]
    pixels = paint[..., :3].reshape(-1, 3).astype(np.float32)
    painted = paint[..., 3].reshape(-1) >= masks.ALPHA_PAINTED
    palette = np.array([masks.rgb(c) for c in colours], dtype=np.float32)
    nearest = ((pixels[:, None, :] - palette[None]) ** 2).sum(-1).argmin(1)
    nearest[~painted] = len(PALETTE)
    return nearest


def painted_colours(paint: np.ndarray | None) -> list[str]:
    """The palette colours (hex, palette order) that cover at least MIN_SHARE of an RGBA painting."""
    if paint is None or paint.ndim != 3 or paint.shape[2] != 4 or paint.size == 0:
        return []
    counts = np.bincount(_labels(paint), minlength=len(PALETTE) + 1)
    least = max(1, MIN_SHARE * paint.shape[0] * paint.shape[1])
    return [colour for colour, count in zip(PALETTE.values(), counts) if count >= least]


def mask_size(content_size: tuple[int, int]) -> tuple[int, int]:
    """The (W, H) a mask of this content is stored at: the content's, scaled down (as encode_mask
    scales it) to at most MAX_MASK_SIDE a side."""
    width, height = content_size
    if max(width, height) <= masks.MAX_MASK_SIDE:
        return width, height
    scale = masks.MAX_MASK_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def canvas_size(content_size: tuple[int, int], side: int) -> tuple[int, int]:
    """(W, H) of a canvas with the photo's shape and its longer side ``side``."""
    width, height = content_size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def targets(n_styles: int) -> list[str]:
    """A region's choices: each uploaded style ('1', '2', …), then the photo."""
    return [str(i) for i in range(1, n_styles + 1)] + [PHOTO]


def default_target(index: int, n_styles: int) -> str:
    """The k-th painted colour takes the k-th style (round the uploads), or the photo without styles."""
    return str(index % n_styles + 1) if n_styles else PHOTO


def target_label(target: str, style_names: Sequence[str]) -> str:
    """'photo' -> 'Keep the photo'; '2' -> 'Style 2 · waves.jpg' (just 'Style 2' when not uploaded)."""
    if target == PHOTO:
        return "Keep the photo"
    index = int(target) - 1
    return f"Style {target} · {style_names[index]}" if 0 <= index < len(style_names) else f"Style {target}"


def painted_regions(paint: np.ndarray | None, content_size: tuple[int, int], chosen: Mapping[str, str],
                    unpainted: str) -> tuple[str | None, tuple[str, ...] | None]:
    """``(Settings.mask, Settings.regions)`` for an RGBA painting of any size over a content of
    ``content_size`` (W, H); ``chosen`` maps each painted colour to its target, ``unpainted`` is the
    target of the rest. (None, None) when nothing is painted. SettingsError for a colour no target
    is chosen for.

    The painting is brought to the content's shape by nearest neighbour (``nst.core.masks.fit_mask``),
    at the size the mask is stored at (see :func:`mask_size`; the content's own size when it is
    at most 512 px) rather than at a large content's full size, which would only be scaled down again.
    """
    colours = painted_colours(paint)
    if not colours:
        return None, None
    fitted = masks.fit_mask(paint, mask_size(content_size))
    present = set(np.unique(_labels(fitted)).tolist())
    items = [f"{colour}={chosen[colour]}" for index, colour in enumerate(PALETTE.values())
             if colour in colours and index in present]
    if len(PALETTE) in present:
        items.append(f"{masks.UNPAINTED}={unpainted}")
    regions = tuple(items)
    return masks.encode_mask(fitted, regions), regions


def mask_image(mask: str) -> Image.Image:
    """A stored mask as an RGB picture."""
    return Image.fromarray(np.array(masks.mask_pixels(mask)))


def overlay(content: Image.Image, mask: str) -> Image.Image:
    """The mask's colours laid over the photo (its unpainted white left out), at the mask's size."""
    picture = mask_image(mask)
    photo = content.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS)
    pixels = np.asarray(picture)
    painted = np.any(pixels != masks.rgb(masks.UNPAINTED), axis=-1, keepdims=True)
    mixed = np.where(painted, np.asarray(photo) * (1 - OVERLAY_ALPHA) + pixels * OVERLAY_ALPHA, np.asarray(photo))
    return Image.fromarray(mixed.round().astype(np.uint8))


def region_lines(regions: Sequence[str], style_names: Sequence[str]) -> list[str]:
    """One line per region (Markdown, the style's file name literal): ':red[■] Red → Style 1 · waves.jpg'."""
    return [f"{colour_name(colour)} → {literal(target_label(target, style_names))}"
            for colour, target in (item.split("=", 1) for item in regions)]


def absent_colours(mask: str, regions: Sequence[str]) -> list[str]:
    """The colours ``regions`` name that no pixel of ``mask`` has (a recipe's: a painting's regions are
    the colours it holds): such a region gets nothing."""
    try:
        present = set(np.unique(masks.mask_labels(mask, regions)).tolist())
    except (SettingsError, ValueError):  # a mask and regions that do not go together: refused at Start
        return []
    return [colour for index, colour in enumerate(masks.region_colours(regions)) if index not in present]


def absent_note(mask: str, regions: Sequence[str]) -> str | None:
    """What the regions line says of colours the mask lacks, or None."""
    absent = absent_colours(mask, regions)
    if not absent:
        return None
    one = len(absent) == 1
    return (f"{' and '.join(absent)} {'is' if one else 'are'} not in its mask: no pixel takes"
            f" {'that region' if one else 'those regions'}")


def unused_note(raw: Mapping[str, Any]) -> str | None:
    """Before Start, with regions: the settings the form holds (``raw``, :func:`studio.session.state.raw_settings`)
    that regions leave unused (:data:`nst.model.regions.UNUSED_WITH_REGIONS`), or None."""
    if not raw.get("regions"):
        return None
    unused = [name for name in UNUSED_WITH_REGIONS if raw.get(name) not in (None, (), [])]
    if not unused:
        return None
    one = len(unused) == 1
    return (f"With regions each region takes its own style, so {labels(unused)} {'is' if one else 'are'} not"
            f" used; the result's recipe leaves {'it' if one else 'them'} out.")


def region_problem(mask: str, regions: Sequence[str], content_size: tuple[int, int], n_styles: int) -> str | None:
    """Why a mask and regions (a recipe's) cannot run on this content with ``n_styles`` style images,
    or None: the run's preflight's words (:func:`nst.plan.preflight.region_problems`)."""
    found = region_problems(mask, regions, content_size, n_styles)
    return str(SettingsError(found)) if found else None
