"""The recipe: everything needed to repeat a run, embedded in results (PNG, TIFF, JPEG) and saved
as JSON."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

import numpy as np
import PIL
import torch

from nst.io.adjust import Adjustments
from nst.core.errors import RecipeError
from nst.io.files import Source, read_source
from nst.io.images import embedded_recipe
from nst.core.version import __version__
from nst.core.settings import Settings

RECIPE_FORMAT = "nst-recipe/1"
ADJUSTMENTS_KEY = "adjustments"  # the recipe key of the post-run adjustments (nst.io.adjust)
MAX_RECIPE_BYTES = 1024 * 1024



def make_recipe(settings: Settings, adjustments: Adjustments | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-ready recipe: settings (seed, weights source and region mask included), the post-run
    adjustments when given, plus versions."""
    return {
        "format": RECIPE_FORMAT,
        "settings": settings.to_dict(),
        **({ADJUSTMENTS_KEY: adjustments.to_dict()} if adjustments is not None else {}),
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
    return Adjustments.from_dict(recipe.get(ADJUSTMENTS_KEY, {}) if isinstance(recipe, Mapping) else {})


def read_recipe(source: Source, *, name: str | None = None) -> dict:
    """Read a recipe from a PNG, TIFF or JPEG written with one (see :func:`nst.io.images.save_image`)
    or from JSON."""
    data, label = read_source(source, name, RecipeError)
    text = embedded_recipe(data, label)
    if text is not None:
        return _parse(text, label)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{label} is too large for a recipe; the limit is 1 MB.")
    try:
        text = data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{label} has no recipe; expected a PNG saved by this app or a JSON file.") from exc
    return _parse(text, label)


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
