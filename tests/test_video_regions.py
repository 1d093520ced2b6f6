"""Regions that follow a clip's motion (nst.video.frame_regions): a mask drawn for the first frame
of a moving square marks the square for a style and the rest for the photo; frames later the style
is where the square has moved, for the fast method and the optimiser alike."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst.core.errors import SettingsError
from nst.core.masks import encode_mask
from nst.core.settings import Settings
from nst.video import VideoOptions, stylize_video
from tests.support.clips import moving_square, read_back, texture, write_clip

pytestmark = pytest.mark.unit

WIDTH, HEIGHT, SIDE, STEP, FRAMES = 96, 64, 16, 3, 8
REGIONS = ("#ff0000=1", "#ffffff=photo")
EDGE = 6  # px: the soft masks' edge (region_blur 0.02 of 96 px: σ ≈ 2 px, 3σ) and the flow's smear of the square's edge


def _square(t: int) -> tuple[slice, slice]:
    """Rows and columns of the square in frame ``t`` (tests.support.clips.moving_square's layout)."""
    left = (4 + t * STEP) % (WIDTH - SIDE)
    return slice(HEIGHT // 2 - SIDE // 2, HEIGHT // 2 + SIDE // 2), slice(left, left + SIDE)


def _mask() -> str:
    """The first frame's square red (style 1), the rest white (photo)."""
    picture = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    picture[_square(0)] = (255, 0, 0)
    return encode_mask(picture, REGIONS, size=(WIDTH, HEIGHT))


def _inside_and_outside(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t``'s pixels well inside its square, and well outside it (EDGE px from its edge)."""
    rows, cols = _square(t)
    inside = np.zeros((HEIGHT, WIDTH), bool)
    inside[rows.start + EDGE // 2: rows.stop - EDGE // 2, cols.start + EDGE // 2: cols.stop - EDGE // 2] = True
    near = np.zeros((HEIGHT, WIDTH), bool)
    near[max(rows.start - EDGE, 0): rows.stop + EDGE, max(cols.start - EDGE, 0): cols.stop + EDGE] = True
    return inside, ~near


def _check_styled_where_the_square_went(tmp_path, settings: Settings, frames: int) -> None:
    source = write_clip(tmp_path / "square.mp4", moving_square(WIDTH, HEIGHT, side=SIDE, step=STEP), frames, 10)
    style = Image.fromarray(texture(64, 64, seed=7)[:, ::-1].copy())
    records = list(stylize_video(source, [style], settings.replace(mask=_mask(), regions=REGIONS),
                                 tmp_path / "out.mp4", VideoOptions()))[:-1]
    inputs = read_back(source)["images"]
    last = frames - 1
    assert _square(last)[1].start - _square(0)[1].stop >= 0  # the square has left where the mask was drawn
    inside, outside = _inside_and_outside(last)
    change = np.abs(records[last].image.astype(np.float32) - inputs[last].astype(np.float32)).mean(-1)
    assert change[inside].mean() > 30  # styled where the square is now (the yellow painted over)
    # and the photo everywhere else, where the square was drawn too (frames are uint8: rounding, ≤ 1)
    assert change[outside].mean() < 1.0 and np.percentile(change[outside], 99) <= 2


def test_fast_regions_follow_the_moving_square(tmp_path):
    _check_styled_where_the_square_went(tmp_path, Settings(method="fast", size=WIDTH, device="cpu"), FRAMES)


@pytest.mark.slow
def test_optimised_regions_follow_the_moving_square(tmp_path):
    settings = Settings(method="gatys", size=WIDTH, steps=6, device="cpu", multiscale="off", init="fast")
    _check_styled_where_the_square_went(tmp_path, settings, FRAMES)


def test_a_mask_of_another_shape_than_the_clip_is_refused_before_any_frame(tmp_path):
    source = write_clip(tmp_path / "square.mp4", moving_square(WIDTH, HEIGHT, side=SIDE, step=STEP), 2, 10)
    square_mask = encode_mask(np.full((64, 64, 3), 255, np.uint8), REGIONS)
    settings = Settings(method="fast", size=WIDTH, device="cpu", mask=square_mask, regions=REGIONS)
    with pytest.raises(SettingsError, match="the mask is 64×64 pixels but the content is 96×64"):
        next(stylize_video(source, [Image.new("RGB", (32, 32))], settings, tmp_path / "out.mp4"))
    assert not (tmp_path / "out.mp4").exists()
