"""The recipe: everything needed to repeat a run, embedded in results (PNG, TIFF, JPEG) and saved
as JSON."""

from __future__ import annotations

import io
import json
import platform
import struct
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Mapping

import numpy as np
import PIL
import torch
from PIL import Image

from nst.adjust import Adjustments
from nst.errors import RecipeError
from nst.files import Source, read_source
from nst.settings import Settings

RECIPE_FORMAT = "nst-recipe/1"
RECIPE_KEY = "nst-recipe"  # the PNG iTXt chunk that holds a recipe
ADJUSTMENTS = "adjustments"  # the recipe key of the post-run adjustments (nst.adjust)
MAX_RECIPE_BYTES = 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Where each image format holds a recipe (see nst.images): its signature, Pillow's format name,
# and how to find the text in the opened file without decoding its pixels.
_TIFF_DESCRIPTION = 270
_IMAGE_RECIPES = {
    _PNG_SIGNATURE: ("PNG", lambda image: image.info.get(RECIPE_KEY)),
    b"II*\0": ("TIFF", lambda image: image.tag_v2.get(_TIFF_DESCRIPTION)),
    b"MM\0*": ("TIFF", lambda image: image.tag_v2.get(_TIFF_DESCRIPTION)),
    b"\xff\xd8\xff": ("JPEG", lambda image: image.info.get("comment")),
}


def make_recipe(settings: Settings, adjustments: Adjustments | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-ready recipe: settings (seed, weights source and region mask included), the post-run
    adjustments when given, plus versions."""
    from nst import __version__  # late: nst/__init__ imports this module's users

    return {
        "format": RECIPE_FORMAT,
        "settings": settings.to_dict(),
        **({ADJUSTMENTS: adjustments.to_dict()} if adjustments is not None else {}),
        "versions": {
            "nst": __version__,
            "torch": torch.__version__,
            "torchvision": _version("torchvision"),
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        **extra,
    }


def _version(package: str) -> str:
    # Read from metadata: importing torchvision only for its version costs ~160 MB of memory.
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def settings_from_recipe(recipe: Mapping[str, Any]) -> Settings:
    """Validated settings from a recipe dict (as read by :func:`read_recipe`)."""
    if not isinstance(recipe, Mapping) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"This is not a recipe made by this tool (expected format {RECIPE_FORMAT!r}).")
    return Settings.from_dict(recipe.get("settings", {}))


def adjustments_from_recipe(recipe: Mapping[str, Any]) -> Adjustments:
    """The post-run adjustments a recipe records; none recorded (older recipes) means none applied."""
    return Adjustments.from_dict(recipe.get(ADJUSTMENTS, {}) if isinstance(recipe, Mapping) else {})


def read_recipe(source: Source, *, name: str | None = None) -> dict:
    """Read a recipe from a PNG, TIFF or JPEG written with one (see :func:`nst.images.save_image`)
    or from JSON."""
    data, label = read_source(source, name, RecipeError)
    for signature, (kind, find) in _IMAGE_RECIPES.items():
        if data.startswith(signature):
            return _parse(_image_text(data, label, kind, find), label)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{label} is too large for a recipe; the limit is 1 MB.")
    try:
        text = data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{label} has no recipe; expected a PNG saved by this app or a JSON file.") from exc
    return _parse(text, label)


def _image_text(data: bytes, label: str, kind: str, find: Callable[[Image.Image], Any]) -> str:
    """The recipe text of a PNG, TIFF or JPEG, read without decoding its pixels."""
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


def _parse(text: str, label: str) -> dict:
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    except RecursionError as exc:  # absurdly nested input; json gives up rather than erroring cleanly
        raise RecipeError(f"{label} is not a usable recipe (nested too deeply).") from exc
    if not isinstance(recipe, dict):
        raise RecipeError(f"{label} does not hold a recipe (expected a JSON object).")
    return recipe
