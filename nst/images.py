"""Pillow-based image I/O: safe loading of untrusted files, PNG/JPEG export, recipes in PNGs."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from nst.errors import ImageError
from nst.files import Source, read_source
from nst.recipe import RECIPE_KEY

MAX_PIXELS: int = 40_000_000
# Shortest side an image may have, before and after it is resized for a run: VGG19's four poolings
# leave the deepest style layer (conv5_1, stride 16) one feature per 16 pixels.
MIN_SIDE = 16

# Decoders we trust with user uploads; every other Pillow plugin stays out of the attack surface.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")

def load_image(source: Source, max_side: int | None = None, *, name: str | None = None) -> Image.Image:
    """Open, validate and normalise to an RGB image; optionally downscale so max(w,h) <= max_side.

    Downscaling keeps the aspect ratio, uses LANCZOS and never upscales. ``name`` labels
    error messages (defaults to the path as given or a stream's ``name``).
    """
    data, label = read_source(source, name, ImageError)
    image = _decode(data, label)
    if max_side is not None and max(image.size) > max_side:
        image = resize_max_side(image, max_side)
    return image


def load_rgba(source: Source, *, name: str | None = None) -> np.ndarray:
    """An image file as an RGBA uint8 array (H, W, 4), transparency kept: how a region mask is read
    (see :mod:`nst.masks`). Same checks and EXIF orientation as :func:`load_image`."""
    data, label = read_source(source, name, ImageError)
    return np.asarray(_decode(data, label, alpha=True))


def resize_max_side(image: Image.Image, max_side: int) -> Image.Image:
    """Resize (up or down) so the longer side is exactly ``max_side``; aspect kept, each side >= 1."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    width, height = image.size
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def side_problem(size: tuple[int, int], max_side: int, label: str) -> str | None:
    """Why an image of ``size`` (width, height) cannot be used at ``max_side`` px, or None.

    Refused: a side under MIN_SIDE in the file itself (a 1×1 picture holds no content), or a short
    side under MIN_SIDE once the long side is ``max_side`` (a 4000×8 strip becomes 512×1).
    """
    width, height = size
    if min(width, height) < MIN_SIDE:
        return f"{label} is {width}×{height} px; images need at least {MIN_SIDE} px on each side."
    short = round(min(width, height) * max_side / max(width, height))
    if short < MIN_SIDE:
        return (f"{label} is {width}×{height} px: at {max_side} px its short side would be {short} px, under the"
                f" minimum of {MIN_SIDE} px. Crop it closer to square or choose a larger size.")
    return None


def fit_problems(content: tuple[int, int], styles: list[tuple[int, int]], size: int, style_scale: float,
                 labels: list[str] | None = None) -> list[str]:
    """:func:`side_problem` for a run's content (at ``size``) and styles (at size × style_scale), sizes
    given as (width, height); ``labels`` name them (content first), by default in words."""
    if labels is None:
        labels = ["The content image"] + ([f"Style image {i}" for i in range(1, len(styles) + 1)]
                                          if len(styles) > 1 else ["The style image"] * len(styles))
    style_side = max(1, round(size * style_scale))
    found = [side_problem(content, size, labels[0])]
    found += [side_problem(s, style_side, label) for s, label in zip(styles, labels[1:])]
    return [p for p in found if p]


def to_array(image: Image.Image) -> np.ndarray:
    """Return a writable RGB uint8 array of shape (H, W, 3)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)


def to_image(array: np.ndarray) -> Image.Image:
    """Build an RGB image from an (H, W, 3) array: uint8 as is, floats in 0..1 clipped and rounded."""
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        # A diverged optimisation can produce NaN; show it as black rather than undefined bytes.
        array = np.rint(np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 or float array, got {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def png_bytes(image: Image.Image | np.ndarray, recipe: Mapping[str, Any] | None = None) -> bytes:
    """Encode as PNG, embedding ``recipe`` as JSON in an iTXt chunk under RECIPE_KEY."""
    image = _as_image(image)
    info = None
    if recipe is not None:
        info = PngImagePlugin.PngInfo()
        # iTXt rather than tEXt: tEXt is Latin-1 only and recipes may hold any file name.
        info.add_itxt(RECIPE_KEY, json.dumps(dict(recipe), ensure_ascii=False))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image | np.ndarray, quality: int = 95) -> bytes:
    """Encode as JPEG at ``quality`` (1..100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, got {quality}")
    image = _as_image(image)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    # No chroma subsampling: stylised output is full of fine coloured detail that 4:2:0 smears.
    image.save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def save_image(
    image: Image.Image | np.ndarray, path: str | os.PathLike, recipe: Mapping[str, Any] | None = None
) -> None:
    """Write a .png (with ``recipe``) or .jpg/.jpeg (quality 95, recipe dropped) chosen by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = png_bytes(image, recipe)
    elif suffix in (".jpg", ".jpeg"):
        data = jpeg_bytes(image)
    else:
        raise ImageError(f"{path} has an unsupported extension; use .png, .jpg or .jpeg.")
    path.write_bytes(data)


def _decode(data: bytes, label: str, *, alpha: bool = False) -> Image.Image:
    """Decode the first frame as RGB (RGBA with ``alpha``) with EXIF orientation applied; every
    failure becomes ImageError."""
    with warnings.catch_warnings():
        # Pillow only warns between its own limits; turn that into an error here, not globally.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
                _check_pixels(opened.size, label)
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                return upright.convert("RGBA") if alpha else _to_rgb(upright)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{label} is larger than the limit of {_megapixels()} megapixels.") from exc
        except UnidentifiedImageError as exc:
            raise ImageError(_unidentified_message(data, label)) from exc
        except Exception as exc:  # Pillow decoders raise OSError, SyntaxError, ValueError, struct.error, ...
            raise ImageError(f"{label} is not a readable image (truncated or corrupt file).") from exc


def _check_pixels(size: tuple[int, int], label: str) -> None:
    """Refuse oversized images from the header alone, before any pixel is decoded."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{label} is {width}×{height} pixels; the limit is {_megapixels()} megapixels.")


def _megapixels() -> str:
    return f"{MAX_PIXELS / 1_000_000:g}"


def _unidentified_message(data: bytes, label: str) -> str:
    """Tell "an image in a format we refuse" apart from "not an image at all"."""
    try:
        # Identification only reads the header; the image is closed without being decoded.
        with Image.open(io.BytesIO(data)) as other:
            kind = other.format
    except Exception:  # any failure just means Pillow does not recognise it either
        return f"{label} is not an image file."
    return (
        f"{label} is a {kind} image, which is not a supported image format "
        "(use JPEG, PNG, WebP, BMP, TIFF or GIF)."
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB; transparency is composited on white."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own conversion to L clips at 255 instead of scaling 0..65535 down to 0..255.
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64) / 257.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _as_image(image: Image.Image | np.ndarray) -> Image.Image:
    return to_image(image) if isinstance(image, np.ndarray) else image
