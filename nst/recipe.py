"""The recipe: everything needed to repeat a run, embedded in result PNGs and saved as JSON."""

from __future__ import annotations

import io
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

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
    """Read a recipe from a PNG written with one (see :func:`nst.images.png_bytes`) or from JSON."""
    data, label = read_source(source, name, RecipeError)
    if data.startswith(_PNG_SIGNATURE):
        return _parse(_png_text(data, label), label)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{label} is too large for a recipe; the limit is 1 MB.")
    try:
        text = data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{label} has no recipe; expected a PNG saved by this app or a JSON file.") from exc
    return _parse(text, label)


def _png_text(data: bytes, label: str) -> str:
    """The recipe chunk of a PNG, read without decoding its pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as png:
            text = png.info.get(RECIPE_KEY)
    except Exception as exc:  # corrupt chunks, oversized text chunks, decompression bombs
        raise RecipeError(f"{label} is not a readable PNG (truncated or corrupt file).") from exc
    if not isinstance(text, str):
        raise RecipeError(f"{label} has no recipe.")
    return text


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
