"""Pillow-based image I/O: safe loading of untrusted files; PNG, TIFF and JPEG export (8 or 16
bits, sRGB profile embedded, the recipe in every format: a PNG iTXt chunk, the TIFF
ImageDescription, a JPEG comment)."""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from nst.core.errors import ImageError, RecipeError
from nst.io.files import Source, read_source

MAX_PIXELS: int = 40_000_000
# The sizes a run can use (at least MIN_SIDE a side) are the preflight's: nst.plan.preflight.

# Decoders we trust with user uploads; every other Pillow plugin stays out of the attack surface.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
RECIPE_KEY = "nst-recipe"  # the PNG iTXt chunk that holds a recipe
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Where each format writes a recipe (png_bytes, tiff_bytes, jpeg_bytes): its signature, Pillow's
# format name, and how to find the text in the opened file without decoding its pixels.
_TIFF_DESCRIPTION = 270
_IMAGE_RECIPES: dict[bytes, tuple[str, Callable[[Image.Image], Any]]] = {
    _PNG_SIGNATURE: ("PNG", lambda image: image.info.get(RECIPE_KEY)),
    b"II*\0": ("TIFF", lambda image: image.tag_v2.get(_TIFF_DESCRIPTION)),
    b"MM\0*": ("TIFF", lambda image: image.tag_v2.get(_TIFF_DESCRIPTION)),
    b"\xff\xd8\xff": ("JPEG", lambda image: image.info.get("comment")),
}


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
    (see :mod:`nst.core.masks`). Same checks and EXIF orientation as :func:`load_image`."""
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


def to_array(image: Image.Image) -> np.ndarray:
    """Return a writable RGB uint8 array of shape (H, W, 3)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """The sRGB ICC profile (LittleCMS's), embedded in every file written here."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _recipe_text(recipe: Mapping[str, Any] | None, ascii_only: bool = False) -> str | None:
    return None if recipe is None else json.dumps(dict(recipe), ensure_ascii=ascii_only)


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
    """Encode as PNG with the sRGB profile, embedding ``recipe`` as JSON in an iTXt chunk under
    RECIPE_KEY. A uint16 (H, W, 3) array gives a 16-bit PNG."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint16:
        return _png16(_rgb16(image), _recipe_text(recipe))
    image = _as_image(image)
    info = None
    if recipe is not None:
        info = PngImagePlugin.PngInfo()
        # iTXt rather than tEXt: tEXt is Latin-1 only and recipes may hold any file name.
        info.add_itxt(RECIPE_KEY, _recipe_text(recipe))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, icc_profile=srgb_profile())
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16(array: np.ndarray, recipe: str | None) -> bytes:
    """A 16-bit RGB PNG written here (Pillow writes 16 bits for one channel only)."""
    height, width = array.shape[:2]
    rows = array.astype(">u2").view(np.uint8).reshape(height, width * 6)
    # Filter "Up" on every row: the byte difference to the row above, which a smooth image
    # turns into small numbers that compress well.
    filtered = np.empty((height, width * 6 + 1), np.uint8)
    filtered[:, 0] = 2
    filtered[:, 1:] = rows
    filtered[1:, 1:] -= rows[:-1]
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)),
              _png_chunk(b"iCCP", b"sRGB\0\0" + zlib.compress(srgb_profile()))]
    if recipe is not None:
        chunks.append(_png_chunk(b"iTXt", RECIPE_KEY.encode("latin-1") + b"\0\0\0\0\0" + recipe.encode()))
    chunks += [_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def tiff_bytes(image: Image.Image | np.ndarray, recipe: Mapping[str, Any] | None = None) -> bytes:
    """Encode as a deflate-compressed TIFF with the sRGB profile and ``recipe`` as JSON in its
    ImageDescription; 16 bits a channel for a uint16 (H, W, 3) array, else 8."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint16:
        array = _rgb16(image)
    else:
        array = to_array(_as_image(image))
    return _tiff(array, _recipe_text(recipe, ascii_only=True))


# TIFF field types: SHORT, LONG, RATIONAL, ASCII, UNDEFINED (byte count 2, 4, 8, 1, 1).
_SHORT, _LONG, _RATIONAL, _ASCII, _UNDEFINED = 3, 4, 5, 2, 7
_TIFF_SIZES = {_SHORT: 2, _LONG: 4, _RATIONAL: 8, _ASCII: 1, _UNDEFINED: 1}
_ROWS_PER_STRIP = 64


def _tiff(array: np.ndarray, description: str | None) -> bytes:
    """A little-endian baseline RGB TIFF (Pillow cannot write 16-bit RGB): deflate strips of
    _ROWS_PER_STRIP rows, the ICC profile (tag 34675) and an ASCII description (tag 270)."""
    height, width = array.shape[:2]
    bits = array.dtype.itemsize * 8
    rows = array.astype(f"<u{array.dtype.itemsize}").view(np.uint8).reshape(height, -1)
    strips = [zlib.compress(rows[top:top + _ROWS_PER_STRIP].tobytes(), 6) for top in range(0, height, _ROWS_PER_STRIP)]
    # Tag -> (type, values); values are numbers, or bytes for ASCII and UNDEFINED.
    tags: dict[int, tuple[int, Any]] = {
        256: (_LONG, [width]), 257: (_LONG, [height]), 258: (_SHORT, [bits] * 3), 259: (_SHORT, [8]),
        262: (_SHORT, [2]), 273: (_LONG, [0] * len(strips)), 277: (_SHORT, [3]), 278: (_LONG, [_ROWS_PER_STRIP]),
        279: (_LONG, [len(s) for s in strips]), 282: (_RATIONAL, [(72, 1)]), 283: (_RATIONAL, [(72, 1)]),
        284: (_SHORT, [1]), 296: (_SHORT, [2]), 34675: (_UNDEFINED, srgb_profile()),
    }
    if description is not None:
        tags[270] = (_ASCII, description.encode("ascii") + b"\0")
    ifd_at = 8
    data_at = ifd_at + 2 + 12 * len(tags) + 4
    # Values longer than 4 bytes go after the IFD; the strips after them.
    extra, entries = b"", []
    for tag in sorted(tags):
        kind, values = tags[tag]
        count = len(values)
        if kind == _RATIONAL:
            payload = b"".join(struct.pack("<II", *v) for v in values)
        elif kind in (_ASCII, _UNDEFINED):
            payload = values
        else:
            payload = struct.pack(f"<{count}{'H' if kind == _SHORT else 'I'}", *values)
        entries.append((tag, kind, count, payload))
        if len(payload) > 4:
            extra += payload + b"\0" * (len(payload) % 2)
    strips_at = data_at + len(extra)
    offsets = np.cumsum([strips_at] + [len(s) for s in strips[:-1]]).tolist()
    ifd, extra, at = [], b"", data_at
    for tag, kind, count, payload in entries:
        if tag == 273:
            payload = struct.pack(f"<{count}I", *offsets)
        if len(payload) > 4:
            ifd.append(struct.pack("<HHII", tag, kind, count, at))
            extra += payload + b"\0" * (len(payload) % 2)
            at += len(payload) + len(payload) % 2
        else:
            ifd.append(struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\0"))
    header = b"II" + struct.pack("<HI", 42, ifd_at)
    ifd_bytes = struct.pack("<H", len(ifd)) + b"".join(ifd) + struct.pack("<I", 0)
    return header + ifd_bytes + extra + b"".join(strips)


def jpeg_bytes(image: Image.Image | np.ndarray, quality: int = 95,
               recipe: Mapping[str, Any] | None = None) -> bytes:
    """Encode as JPEG at ``quality`` (1..100) with the sRGB profile and ``recipe`` as JSON in a
    comment (COM segment). JPEG holds 8 bits a channel only."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, got {quality}")
    if isinstance(image, np.ndarray) and image.dtype == np.uint16:
        raise ImageError("JPEG holds 8 bits a channel; save 16-bit results as .png or .tif.")
    image = _as_image(image)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    comment = _recipe_text(recipe)
    # No chroma subsampling: stylised output is full of fine coloured detail that 4:2:0 smears.
    image.save(buffer, format="JPEG", quality=quality, subsampling=0, icc_profile=srgb_profile(),
               **({"comment": comment.encode()} if comment is not None else {}))
    return buffer.getvalue()


WRITERS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}


def save_image(image: Image.Image | np.ndarray, path: str | os.PathLike,
               recipe: Mapping[str, Any] | None = None, *, quality: int = 95) -> None:
    """Write a .png, .tif/.tiff or .jpg/.jpeg (JPEG ``quality``) chosen by suffix, with the
    sRGB profile and ``recipe``. A uint16 array is written in 16 bits (PNG and TIFF only)."""
    path = Path(path)
    kind = WRITERS.get(path.suffix.lower())
    if kind == "PNG":
        data = png_bytes(image, recipe)
    elif kind == "TIFF":
        data = tiff_bytes(image, recipe)
    elif kind == "JPEG":
        data = jpeg_bytes(image, quality, recipe)
    else:
        raise ImageError(f"{path} has an unsupported extension; use .png, .tif, .tiff, .jpg or .jpeg.")
    path.write_bytes(data)


def _rgb16(array: np.ndarray) -> np.ndarray:
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {array.shape}")
    return array


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


def embedded_recipe(data: bytes, label: str) -> str | None:
    """The recipe text that :func:`png_bytes`, :func:`tiff_bytes` or :func:`jpeg_bytes` wrote into a
    file, read without decoding its pixels; None when the file is none of those formats."""
    found = next((found for signature, found in _IMAGE_RECIPES.items() if data.startswith(signature)), None)
    if found is None:
        return None
    kind, find = found
    try:
        with Image.open(io.BytesIO(data), formats=(kind,)) as image:
            text = find(image)
    except Image.DecompressionBombError as exc:  # a valid picture, over Pillow's limit: said as such
        raise RecipeError(_over_limit(data, label)) from exc
    except Exception as exc:  # corrupt chunks or tags, oversized text chunks
        raise RecipeError(f"{label} has no recipe: it is not a readable {kind} (truncated or corrupt file).") from exc
    if isinstance(text, bytes):  # a JPEG comment
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        raise RecipeError(f"{label} has no recipe.")
    return text


def _over_limit(data: bytes, label: str) -> str:
    """Why a picture too large for Pillow to open gives no recipe: its size (from a PNG's header) and
    the limit (Pillow refuses more than twice its MAX_IMAGE_PIXELS, as a decompression bomb)."""
    limit = f"{2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels"
    if data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return (f"{label} is {width}×{height} pixels, over the limit of {limit} for a picture, so its recipe is not"
                " read.")
    return f"{label} is over the limit of {limit} for a picture, so its recipe is not read."
