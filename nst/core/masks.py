"""Region masks: a picture whose colours mark regions, and what each colour gets.

A region list (``Settings.regions``) is a tuple of ``'COLOUR=TARGET'`` items: COLOUR is
``#rrggbb``; TARGET is the 1-based index of a style image (that region takes that style) or
``photo`` (the region keeps the photo: content loss only, no style loss).

The mask (``Settings.mask``) travels in settings and recipes as a small PNG in base64: palette
mode, at most :data:`MAX_MASK_SIDE` pixels a side, every pixel exactly one of the listed
colours. :func:`encode_mask` makes that form from whatever a person painted:

* it is scaled down (nearest neighbour, so no new colours) to at most 512 px a side;
* a pixel with alpha below 128 is *unpainted* and counts as the ``unpainted`` colour (white by
  default, the paper a mask is painted on);
* every other pixel takes the nearest listed colour. Antialiased strokes are expected: a pixel
  within :data:`TOLERANCE` of a listed colour, or of the straight line between two listed
  colours (a blend at an edge), is accepted. If more than :data:`MAX_STRAY_SHARE` of the pixels
  are far from every listed colour, the mask uses a colour the list lacks: a clear error.

This module needs only numpy and Pillow, so the rule table can validate masks without torch.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
from PIL import Image

from nst.core.errors import SettingsError

PHOTO = "photo"
MAX_REGIONS = 16
MAX_MASK_SIDE = 512
MAX_MASK_CHARS = 512 * 1024  # base64 characters; a 512 px palette PNG of noise needs ~350 k
TOLERANCE = 60.0  # RGB distance (0..441) within which a pixel counts as a listed colour
ALPHA_PAINTED = 128  # alpha at or above which a pixel is painted
MAX_STRAY_SHARE = 0.001  # share of far-off pixels tolerated (specks, three-colour junctions)
UNPAINTED = "#ffffff"
_ITEM = re.compile(r"(#[0-9a-f]{6})=(photo|[1-9][0-9]?)", re.IGNORECASE)


def parse_region(item: str) -> tuple[str, int | None]:
    """'#FF0000=2' -> ('#ff0000', 1): the colour and the 0-based style index (None for photo)."""
    match = _ITEM.fullmatch(item) if isinstance(item, str) else None
    if match is None:
        raise SettingsError({"regions": f"a region must read COLOUR=N or COLOUR=photo with COLOUR #rrggbb,"
                                        f" got {item!r}"})
    colour, target = match.group(1).lower(), match.group(2).lower()
    return colour, None if target == PHOTO else int(target) - 1


def regions_valid(value: Any) -> bool:
    """A non-empty list of at most MAX_REGIONS well-formed items with distinct colours."""
    if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_REGIONS:
        return False
    if not all(isinstance(v, str) and _ITEM.fullmatch(v) for v in value):
        return False
    return len({v.split("=")[0].lower() for v in value}) == len(value)


def rgb(colour: str) -> tuple[int, int, int]:
    """'#ff8000' -> (255, 128, 0)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def hex_colour(pixel: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in pixel[:3])


def region_colours(regions: Sequence[str]) -> list[str]:
    return [parse_region(item)[0] for item in regions]


def region_styles(regions: Sequence[str]) -> list[int | None]:
    """Each region's 0-based style index, None for a photo region, in list order."""
    return [parse_region(item)[1] for item in regions]


@lru_cache(maxsize=16)
def mask_pixels(mask: str) -> np.ndarray:
    """The RGB pixels (H, W, 3) of a base64 PNG mask, read-only; ValueError when it is not one.

    Cached: settings are validated on every copy, and the studio copies them on every rerun.
    """
    if len(mask) > MAX_MASK_CHARS:
        raise ValueError("mask too large")
    try:
        data = base64.b64decode(mask, validate=True)
        with Image.open(io.BytesIO(data), formats=("PNG",)) as png:
            if max(png.size) > MAX_MASK_SIDE:  # from the header, before any pixel is decoded
                raise ValueError("mask too large")
            pixels = np.asarray(png.convert("RGB"))
    except ValueError:  # binascii.Error is one
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, DecompressionBombError, ...
        raise ValueError("not a base64 PNG") from exc
    pixels.setflags(write=False)
    return pixels


def mask_valid(value: Any) -> bool:
    """A base64 PNG of at most MAX_MASK_SIDE pixels a side."""
    if not isinstance(value, str) or not value:
        return False
    try:
        mask_pixels(value)
    except ValueError:
        return False
    return True


def mask_labels(mask: str, regions: Sequence[str]) -> np.ndarray:
    """(H, W) int array, read-only: each pixel's index in ``regions``. SettingsError if a colour is
    unlisted. Cached like :func:`mask_pixels`, since every validation of settings asks."""
    return _labels(mask, tuple(regions))


@lru_cache(maxsize=16)
def _labels(mask: str, regions: tuple[str, ...]) -> np.ndarray:
    pixels = mask_pixels(mask)
    codes = _codes(pixels)
    labels = np.full(codes.shape, -1, dtype=np.int64)
    for index, colour in enumerate(region_colours(regions)):
        labels[codes == _codes(np.array(rgb(colour)))] = index
    if (labels < 0).any():
        raise SettingsError({"regions": unmapped_message(pixels[labels < 0], labels.size)})
    labels.setflags(write=False)
    return labels


def unmapped_message(stray: np.ndarray, total: int) -> str:
    """The error for (n, 3) pixels of ``total`` whose colour no region names; it names the commonest."""
    colours, counts = np.unique(stray, axis=0, return_counts=True)
    top = hex_colour(colours[counts.argmax()])
    others = " and others" if len(colours) > 1 else ""
    return (f"the mask has pixels of colour {top}{others} ({len(stray) / total:.1%} of it) that no region names;"
            f" map {top} to a style or to photo")


def _codes(pixels: np.ndarray) -> np.ndarray:
    """One integer per RGB pixel, for exact colour comparison."""
    p = pixels.astype(np.int64)
    return (p[..., 0] << 16) | (p[..., 1] << 8) | p[..., 2]


def mask_shape_fits(mask_hw: tuple[int, int], content_wh: tuple[int, int]) -> bool:
    """True when a mask of (H, W) is the content's (W, H), or that scaled to the mask's longer side
    with the rounding :func:`nst.io.images.resize_max_side` uses (how masks are stored)."""
    width, height = content_wh
    scale = max(mask_hw) / max(width, height)
    return mask_hw == (max(1, round(height * scale)), max(1, round(width * scale)))


def fit_mask(image: Image.Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The painted image resized to ``size`` (W, H) by nearest neighbour, as an RGBA array: how
    the studio brings a canvas drawn at screen size to the content's size."""
    picture = _as_rgba_image(image)
    if picture.size != tuple(size):
        picture = picture.resize(tuple(size), Image.Resampling.NEAREST)
    return np.asarray(picture)


def encode_mask(image: Image.Image | np.ndarray, regions: Sequence[str], *,
                size: tuple[int, int] | None = None, unpainted: str = UNPAINTED) -> str:
    """The base64 PNG that ``Settings.mask`` holds, from a painted RGB(A) image (see the module
    docstring for the colour rules). ``size``: the content's (W, H), which the mask must match.

    SettingsError (field ``mask`` or ``regions``) for a wrong size or a colour ``regions`` lacks.
    """
    if not regions_valid(regions):
        raise SettingsError({"regions": "give at least one region as COLOUR=N or COLOUR=photo (distinct colours,"
                                        f" at most {MAX_REGIONS})"})
    picture = _as_rgba_image(image)
    if size is not None and picture.size != tuple(size):
        raise SettingsError({"mask": f"the mask is {picture.size[0]}×{picture.size[1]} pixels but the content is"
                                     f" {size[0]}×{size[1]}; paint it at the content's size"})
    labels = snap(np.asarray(_stored_size(picture)), region_colours(regions), unpainted)
    return _palette_png(labels, region_colours(regions))


def labels_mask(labels: np.ndarray, regions: Sequence[str]) -> str:
    """The base64 PNG that ``Settings.mask`` holds for (H, W) region indices into ``regions`` (a
    clip's regions moved by its flow), scaled down by nearest neighbour as :func:`encode_mask` does."""
    picture = _stored_size(Image.fromarray(np.asarray(labels, dtype=np.uint8)))
    return _palette_png(np.asarray(picture), region_colours(regions))


def _stored_size(picture: Image.Image) -> Image.Image:
    """``picture`` at most MAX_MASK_SIDE a side, by nearest neighbour (no blended colours or labels)."""
    if max(picture.size) <= MAX_MASK_SIDE:
        return picture
    scale = MAX_MASK_SIDE / max(picture.size)
    return picture.resize(tuple(max(1, round(side * scale)) for side in picture.size), Image.Resampling.NEAREST)


def snap(rgba: np.ndarray, colours: Sequence[str], unpainted: str = UNPAINTED) -> np.ndarray:
    """(H, W) labels: each pixel's nearest colour in ``colours``; SettingsError for stray colours."""
    pixels = rgba[..., :3].reshape(-1, 3).astype(np.float32)
    painted = rgba[..., 3].reshape(-1) >= ALPHA_PAINTED
    pixels[~painted] = rgb(unpainted)
    palette = np.array([rgb(c) for c in colours], dtype=np.float32)
    distance = np.sqrt(((pixels[:, None, :] - palette[None]) ** 2).sum(-1))  # (P, K)
    labels = distance.argmin(1)
    stray = distance.min(1) > TOLERANCE
    if stray.any():
        stray[stray] = ~_on_a_blend(pixels[stray], palette)
    if stray.mean() > MAX_STRAY_SHARE:
        message = unmapped_message(pixels[stray].astype(np.uint8), len(pixels))
        if (~painted & stray).any():
            message += f" (unpainted, transparent pixels count as {unpainted})"
        raise SettingsError({"regions": message})
    return labels.reshape(rgba.shape[:2])


def _on_a_blend(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """True for each pixel within TOLERANCE of the segment between two palette colours: the
    antialiased edge of a stroke of one colour over another."""
    near = np.zeros(len(pixels), dtype=bool)
    for i in range(len(palette)):
        for j in range(i + 1, len(palette)):
            a, b = palette[i], palette[j]
            t = np.clip((pixels - a) @ (b - a) / max(float((b - a) @ (b - a)), 1e-9), 0, 1)
            gap = np.sqrt(((pixels - (a + t[:, None] * (b - a))) ** 2).sum(-1))
            near |= gap <= TOLERANCE
    return near


def _palette_png(labels: np.ndarray, colours: Sequence[str]) -> str:
    """Labels as a palette PNG in base64: a byte per pixel before compression, colours exact."""
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([channel for colour in colours for channel in rgb(colour)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _as_rgba_image(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise SettingsError({"mask": f"a mask must be an RGB or RGBA uint8 picture, got an array of shape"
                                         f" {image.shape} and type {image.dtype}"})
        image = Image.fromarray(np.ascontiguousarray(image))
    return image.convert("RGBA")
