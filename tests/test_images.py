"""Tests for nst.io.images: hostile inputs, colour-mode normalisation, export and recipes."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from nst.io import files, images
from nst.core.errors import RecipeError
from nst.io.images import RECIPE_KEY
from nst.io.recipe import read_recipe
from nst.io.images import (
    ImageError,
    jpeg_bytes,
    load_image,
    png_bytes,
    resize_max_side,
    save_image,
    to_array,
    to_image,
)
from tests.hostile import BLUE, EXPECTED_OK, RED, corpus

pytestmark = pytest.mark.unit

BAD = sorted(set(corpus()) - EXPECTED_OK)
WHITE = (255, 255, 255)


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


# --- hostile corpus -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_OK))
def test_good_entries_load_as_rgb(name):
    image = load_image(corpus()[name], name=name)
    assert image.mode == "RGB"
    assert to_array(image).shape == (image.height, image.width, 3)


@pytest.mark.parametrize("name", BAD)
def test_bad_entries_raise_one_clear_sentence(name):
    with pytest.raises(ImageError) as caught:
        load_image(corpus()[name], name=name)
    message = str(caught.value)
    assert name in message
    assert "Traceback" not in message and "\n" not in message


def test_bad_entries_from_disk_are_named_by_basename(tmp_path):
    for name in BAD:
        path = tmp_path / name
        path.write_bytes(corpus()[name])
        with pytest.raises(ImageError, match=name):
            load_image(path)


def test_specific_messages():
    data = corpus()
    with pytest.raises(ImageError, match=r"^empty\.png is empty\.$"):
        load_image(data["empty.png"], name="empty.png")
    for name in ("truncated.jpg", "truncated.png"):
        with pytest.raises(ImageError, match="truncated or corrupt"):
            load_image(data[name], name=name)
    for name in ("html_as.png", "text.txt"):
        with pytest.raises(ImageError, match="is not an image file"):
            load_image(data[name], name=name)
    with pytest.raises(ImageError, match="40 megapixels"):
        load_image(data["bomb.png"], name="bomb.png")


def test_sixteen_bit_scales_to_eight_bit():
    pixels = to_array(load_image(corpus()["sixteen_bit.png"]))
    assert pixels.shape == (64, 256, 3)
    expected = np.arange(256, dtype=np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(pixels[0, :, channel], expected)


def test_sixteen_bit_rounds_between_levels():
    values = np.array([[0, 128, 129, 386, 65535]], dtype=np.uint16)  # 128/257 < .5 < 129/257
    grey = to_array(load_image(_encode(Image.fromarray(values), "PNG")))[0, :, 0]
    np.testing.assert_array_equal(grey, [0, 0, 1, 2, 255])


def test_cmyk_red_stays_red():
    assert _close(load_image(corpus()["cmyk.jpg"]).getpixel((16, 16)), RED, tolerance=12)


def test_palette_transparency_composited_on_white():
    image = load_image(corpus()["palette_alpha.png"])
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((15, 15)) == BLUE


def test_animated_gif_gives_first_frame():
    image = load_image(corpus()["animated.gif"])
    assert image.size == (16, 16)
    assert image.getpixel((8, 8)) == RED


def test_exif_orientation_is_applied():
    image = load_image(corpus()["exif_rotated.jpg"])
    assert image.size == (20, 40)  # stored as 40×20
    assert _close(image.getpixel((10, 5)), RED)
    assert _close(image.getpixel((10, 35)), BLUE)


def test_tiny_and_extreme_aspect_are_valid():
    assert load_image(corpus()["one_pixel.png"]).getpixel((0, 0)) == (10, 20, 30)
    assert load_image(corpus()["extreme_aspect.png"]).size == (4000, 8)


def test_huge_style_downscales_to_max_side():
    image = load_image(corpus()["huge_style.jpg"], max_side=512)
    assert image.size == (512, 341)


# --- colour modes and formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("1", (4, 4), 1), WHITE),
        (Image.new("L", (4, 4), 100), (100, 100, 100)),
        (Image.new("LA", (4, 4), (0, 0)), WHITE),
        (Image.new("LA", (4, 4), (0, 255)), (0, 0, 0)),
        (Image.new("RGBA", (4, 4), (255, 0, 0, 0)), WHITE),
        (Image.new("RGBA", (4, 4), (0, 0, 0, 128)), (127, 127, 127)),
        (Image.new("I", (4, 4), 65535), WHITE),
    ],
    ids=["1", "L", "LA-clear", "LA-opaque", "RGBA-clear", "RGBA-half", "I"],
)
def test_modes_normalise_to_rgb(image, expected):
    fmt = "TIFF" if image.mode == "I" else "PNG"
    loaded = load_image(_encode(image, fmt))
    assert loaded.mode == "RGB"
    assert _close(loaded.getpixel((1, 1)), expected, tolerance=1)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_png_and_webp_give_first_frame(fmt):
    first, second = Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(first, fmt, save_all=True, append_images=[second], duration=100, **params)
    assert load_image(data).getpixel((4, 4)) == RED


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP", "GIF"])
def test_supported_formats_load(fmt):
    assert load_image(_encode(Image.new("RGB", (5, 3), BLUE), fmt)).size == (5, 3)


def test_unsupported_format_is_named():
    with pytest.raises(ImageError, match="photo.ppm is a PPM image, which is not a supported image format"):
        load_image(_encode(Image.new("RGB", (4, 4)), "PPM"), name="photo.ppm")


# --- limits and sources ---------------------------------------------------------------------


def test_pixel_limit_is_checked_from_the_header(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(ImageError, match=r"^big\.png is 20×10 pixels; the limit is 0\.0001 megapixels\.$"):
        load_image(_encode(Image.new("RGB", (20, 10)), "PNG"), name="big.png")


def test_pillow_bomb_warning_becomes_error_locally(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60)  # 64 px: Pillow warns, it does not raise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak out as a warning either
        with pytest.raises(ImageError, match="limit of 40 megapixels"):
            load_image(_encode(Image.new("RGB", (8, 8)), "PNG"), name="x.png")


def test_pillow_globals_are_untouched():
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    for data in corpus().values():
        try:
            load_image(data)
        except ImageError:
            pass
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == limit
    assert warnings.filters == filters


def test_byte_limit(monkeypatch):
    data = corpus()["one_pixel.png"]
    monkeypatch.setattr(files, "MAX_BYTES", len(data) - 1)
    with pytest.raises(ImageError, match="too.png is larger than"):
        load_image(data, name="too.png")
    monkeypatch.setattr(files, "MAX_BYTES", len(data))
    assert load_image(data).size == (1, 1)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageError, match=r"^nope/photo\.png does not exist\.$"):
        load_image("nope/photo.png")  # the path as given, not its base name
    with pytest.raises(ImageError, match=f"^{tmp_path}/photo\\.png does not exist\\.$"):
        load_image(tmp_path / "photo.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_stream_sources_use_their_name():
    stream = io.BytesIO(corpus()["text.txt"])
    stream.name = "/uploads/notes.txt"
    with pytest.raises(ImageError, match=r"^notes\.txt is not an image file\.$"):
        load_image(stream)
    assert load_image(io.BytesIO(corpus()["one_pixel.png"])).size == (1, 1)


def test_explicit_name_wins_and_default_is_generic(tmp_path):
    path = tmp_path / "tmp123.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="^upload.png is empty"):
        load_image(path, name="upload.png")
    with pytest.raises(ImageError, match="^The file is empty"):
        load_image(b"")


# --- resizing and arrays --------------------------------------------------------------------


def test_resize_max_side_keeps_each_side_at_least_one():
    image = resize_max_side(Image.new("RGB", (4000, 8)), 100)
    assert image.size == (100, 1)


def test_resize_max_side_upscales_exactly():
    assert resize_max_side(Image.new("RGB", (10, 5)), 40).size == (40, 20)
    assert resize_max_side(Image.new("RGB", (5, 10)), 7).size == (4, 7)


def test_resize_max_side_rejects_zero():
    with pytest.raises(ValueError):
        resize_max_side(Image.new("RGB", (4, 4)), 0)


def test_load_never_upscales():
    assert load_image(corpus()["one_pixel.png"], max_side=512).size == (1, 1)
    assert load_image(corpus()["extreme_aspect.png"], max_side=4000).size == (4000, 8)
    assert load_image(corpus()["extreme_aspect.png"], max_side=400).size == (400, 1)


def test_array_round_trip():
    pixels = np.random.default_rng(1).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    image = to_image(pixels)
    assert image.mode == "RGB" and image.size == (5, 3)
    back = to_array(image)
    assert back.dtype == np.uint8 and back.flags.writeable
    np.testing.assert_array_equal(back, pixels)


def test_to_image_from_float_clips_and_rounds():
    floats = np.array([[[-1.0, 0.5, 2.0], [np.nan, 1.0, 0.0]]])
    np.testing.assert_array_equal(to_array(to_image(floats)), [[[0, 128, 255], [0, 255, 0]]])


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.zeros((4, 4, 3), dtype=np.int64)])
def test_to_image_rejects_bad_arrays(bad):
    with pytest.raises(ValueError):
        to_image(bad)


def test_to_array_converts_other_modes():
    assert to_array(Image.new("L", (2, 2), 7)).shape == (2, 2, 3)


# --- export and recipes ---------------------------------------------------------------------

RECIPE = {"style_weight": 1e6, "layers": ["conv1_1", "conv2_1"], "note": "Ünïcödé ✓", "seed": None}


def test_png_recipe_round_trip():
    pixels = np.random.default_rng(2).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    data = png_bytes(pixels, RECIPE)
    assert read_recipe(data) == RECIPE
    np.testing.assert_array_equal(to_array(load_image(data)), pixels)
    with Image.open(io.BytesIO(data)) as png:
        assert json.loads(png.info[RECIPE_KEY]) == RECIPE


def test_png_without_recipe_argument_has_no_chunk():
    data = png_bytes(Image.new("RGB", (2, 2)))
    with pytest.raises(RecipeError, match="^art.png has no recipe"):
        read_recipe(data, name="art.png")


def test_json_recipe_from_bytes_path_and_stream(tmp_path):
    text = json.dumps(RECIPE).encode()
    assert read_recipe(text) == RECIPE
    path = tmp_path / "recipe.json"
    path.write_bytes(b"\xef\xbb\xbf" + text)  # with a UTF-8 BOM
    assert read_recipe(path) == RECIPE
    assert read_recipe(io.BytesIO(text)) == RECIPE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b"42", "expected a JSON object"),
        (b"", "is empty"),
        (b"[" * 100_000, "nested too deeply"),
        (b" " * (1024 * 1024 + 1), "too large for a recipe"),
        (b"\xff\xd8\xff\xe0 binary", "has no recipe"),
    ],
    ids=["invalid", "array", "number", "empty", "deep", "big", "binary"],
)
def test_read_recipe_errors(data, message):
    with pytest.raises(RecipeError, match=message) as caught:
        read_recipe(data, name="r.json")
    assert str(caught.value).startswith("r.json ")


def test_read_recipe_names_missing_path(tmp_path):
    with pytest.raises(RecipeError, match=f"^{tmp_path}/gone.json does not exist"):
        read_recipe(tmp_path / "gone.json")


def test_read_recipe_from_a_jpeg_has_no_recipe():
    with pytest.raises(RecipeError, match="has no recipe"):
        read_recipe(jpeg_bytes(Image.new("RGB", (4, 4))))


def test_jpeg_bytes_decodes():
    data = jpeg_bytes(to_image(np.full((6, 9, 3), 0.5)), quality=90)
    with Image.open(io.BytesIO(data)) as jpeg:
        assert jpeg.format == "JPEG" and jpeg.size == (9, 6)
        assert _close(jpeg.convert("RGB").getpixel((4, 3)), (128, 128, 128), tolerance=2)
    assert load_image(jpeg_bytes(Image.new("RGBA", (3, 3)))).size == (3, 3)
    with pytest.raises(ValueError):
        jpeg_bytes(Image.new("RGB", (3, 3)), quality=0)


def test_save_image_by_suffix(tmp_path):
    image = Image.new("RGB", (7, 5), RED)
    save_image(image, tmp_path / "out.png", RECIPE)
    assert read_recipe(tmp_path / "out.png") == RECIPE
    assert load_image(tmp_path / "out.png").getpixel((3, 3)) == RED
    for name in ("out.jpg", "OUT.JPEG"):
        save_image(image, tmp_path / name, RECIPE)
        with Image.open(tmp_path / name) as jpeg:
            assert jpeg.format == "JPEG" and jpeg.size == (7, 5)
        assert read_recipe(tmp_path / name) == RECIPE  # in a JPEG comment
    with pytest.raises(ImageError, match="out.gif has an unsupported extension"):
        save_image(image, tmp_path / "out.gif")
    assert not (tmp_path / "out.gif").exists()
