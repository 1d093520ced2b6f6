"""The image pair a benchmark runs on: the shared photographs by default, given files, or
synthetic images; and the pair sized as our engine sizes it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from nst.core.errors import ImageError
from nst.core.settings import Settings
from nst.io.images import load_image, resize_max_side
from tests.support.synthetic import scene, stripes

# The test photographs beside the checkout (not part of the repository).
SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
DEFAULT_CONTENT = SHARED_IMAGES / "tubingen.jpg"
DEFAULT_STYLE = SHARED_IMAGES / "starry_night.jpg"


def synthetic_pair(size: int) -> tuple[Image.Image, Image.Image]:
    """A deterministic content (a scene) and style (colour stripes) pair from tests.support.synthetic."""
    return scene(size, round(size * 0.75)), stripes(size)


def input_pair(args: argparse.Namespace) -> tuple[Image.Image, Image.Image]:
    """Content and style images from the flags (``content``, ``style``, ``synthetic``, ``size``),
    the shared defaults, or synthetic at ``size``."""
    if args.synthetic:
        return synthetic_pair(args.size)
    paths = []
    for flag, given, default in (("--content", args.content, DEFAULT_CONTENT),
                                 ("--style", args.style, DEFAULT_STYLE)):
        path = Path(given) if given else default
        if not given and not default.exists():
            sys.exit(f"error: no {flag} given and the default {default} does not exist;"
                     f" pass {flag} PATH, or --synthetic for generated images")
        paths.append(path)
    try:
        return load_image(paths[0]), load_image(paths[1])
    except ImageError as exc:
        sys.exit(f"error: {exc}")


def style_side(settings: Settings, size: int | None = None) -> int:
    """Max side our engine gives the style image for an output of max side ``size``."""
    return max(1, round((size or settings.size) * settings.style_scale))


def prepare_inputs(content: Image.Image, style: Image.Image, settings: Settings,
                   folder: Path) -> tuple[Path, Path]:
    """Resize as our engine does and save as PNG, so both tools start from identical pixels
    (pastiche's own BILINEAR resize then leaves them unchanged)."""
    content_path, style_path = folder / "content.png", folder / "style.png"
    resize_max_side(content, settings.size).save(content_path)
    resize_max_side(style, style_side(settings)).save(style_path)
    return content_path, style_path
