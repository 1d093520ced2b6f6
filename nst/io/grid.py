"""One picture of several results side by side: the gallery's grid download and the variant grid."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image

from nst.core.errors import ImageError
from nst.io.images import MAX_PIXELS, to_image

MAX_TILES = 100


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles: ``columns`` if given, else as square as possible."""
    columns = columns or math.ceil(math.sqrt(count))
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def grid_image(images: Sequence[Image.Image | np.ndarray], *, columns: int | None = None, tile: int = 512,
               gap: int = 8, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """The images, in order and row by row, each scaled (aspect kept) to fit a ``tile``-pixel square
    cell and centred in it, with ``gap`` pixels of ``background`` between and around the cells.

    The tile shrinks when the grid would pass the engine's pixel limit. ImageError for no images
    or more than MAX_TILES.
    """
    if not images:
        raise ImageError("Choose at least one result for the grid.")
    if len(images) > MAX_TILES:
        raise ImageError(f"A grid holds at most {MAX_TILES} results; {len(images)} were chosen.")
    if tile < 1 or gap < 0:
        raise ValueError(f"tile must be >= 1 and gap >= 0, got {tile} and {gap}")
    rows, cols = grid_shape(len(images), columns)
    # The largest tile that keeps the whole picture within MAX_PIXELS.
    while tile > 16 and (cols * (tile + gap) + gap) * (rows * (tile + gap) + gap) > MAX_PIXELS:
        tile = int(tile * 0.9)
    sheet = Image.new("RGB", (cols * (tile + gap) + gap, rows * (tile + gap) + gap), background)
    for index, image in enumerate(images):
        picture = to_image(image) if isinstance(image, np.ndarray) else image.convert("RGB")
        scale = tile / max(picture.size)
        size = (max(1, round(picture.size[0] * scale)), max(1, round(picture.size[1] * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS) if picture.size != size else picture
        row, col = divmod(index, cols)
        left = gap + col * (tile + gap) + (tile - size[0]) // 2
        top = gap + row * (tile + gap) + (tile - size[1]) // 2
        sheet.paste(picture, (left, top))
    return sheet
