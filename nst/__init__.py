"""Neural style transfer (Gatys et al. 2015) on VGG19: the engine behind the studio and the CLI."""

from nst.engine import run, stylize
from nst.core.errors import (BudgetError, DeviceError, ImageError, ModelError, NSTError, RecipeError, SettingsError,
                        WeightsError)
from nst.io.images import load_image, save_image
from nst.records import StepRecord
from nst.core.settings import PRESETS, Settings, preset
from nst.model.vgg import load_model

from nst.core.version import __version__

__all__ = [
    "BudgetError", "DeviceError", "ImageError", "ModelError", "NSTError", "PRESETS", "RecipeError", "Settings",
    "SettingsError",
    "StepRecord", "WeightsError", "load_image", "load_model", "preset", "run", "save_image", "stylize", "__version__",
]
