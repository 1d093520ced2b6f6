"""The recipe: everything needed to repeat a run, embedded in result PNGs and saved as JSON."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

import numpy as np
import PIL
import torch

from nst.settings import Settings, SettingsError

RECIPE_FORMAT = "nst-recipe/1"


def make_recipe(settings: Settings, **extra: Any) -> dict[str, Any]:
    """A JSON-ready recipe: settings (seed and weights source included) plus versions."""
    from nst import __version__  # late: nst/__init__ imports this module's users

    return {
        "format": RECIPE_FORMAT,
        "settings": settings.to_dict(),
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
    """Validated settings from a recipe dict (as read by :func:`nst.images.read_recipe`)."""
    if not isinstance(recipe, Mapping) or recipe.get("format") != RECIPE_FORMAT:
        raise SettingsError(f"Invalid settings: not a recipe made by this tool (expected format {RECIPE_FORMAT!r})")
    return Settings.from_dict(recipe.get("settings", {}))
