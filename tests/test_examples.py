"""The studio's example inputs (studio.services.examples): the shipped paintings open, and the two
photos rendered in code come out the same every time, at the size the studio offers them."""

from __future__ import annotations

import numpy as np
import pytest

from studio.services.examples import CONTENTS, HEIGHT, PAINTINGS, WIDTH, painting

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", PAINTINGS)
def test_each_painting_opens_as_rgb_within_512_px(name: str) -> None:
    image = painting(name)
    assert image.mode == "RGB" and max(image.size) <= 512 and min(image.size) >= 64


@pytest.mark.parametrize("name", CONTENTS)
def test_each_rendered_photo_is_the_same_picture_every_time(name: str) -> None:
    render = CONTENTS[name].__wrapped__  # past the cache: a fresh rendering
    first, second = np.asarray(render()), np.asarray(render())
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert first.std() > 20, "a rendered photo with no structure to stylise"
