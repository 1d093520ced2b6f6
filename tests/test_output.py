"""Result files: 16-bit PNG and TIFF, the sRGB profile and the recipe in every format.

Pillow reads 16-bit RGB files only as 8 bits, so the 16-bit pixels are read back here from the
files' own structure (PNG: the IDAT stream and its row filters; TIFF: the IFD and its strips);
Pillow still opens every file, which checks its chunks, tags and compressed data."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.support.synthetic import scene, stripes
from nst.cli.main import main
from nst.core.errors import ImageError
from nst.io.images import jpeg_bytes, load_image, png_bytes, save_image, srgb_profile, tiff_bytes
from nst.io.recipe import read_recipe

pytestmark = pytest.mark.unit

RECIPE = {"format": "nst-recipe/1", "note": "Ünïcödé ✓", "settings": {"size": 64}}
PIXELS16 = np.random.default_rng(5).integers(0, 65536, (23, 31, 3), dtype=np.uint16)


def png16_pixels(data: bytes) -> np.ndarray:
    """The pixels of a 16-bit RGB PNG: its IHDR, its IDAT stream inflated, each row unfiltered."""
    chunks, at = {}, 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks[kind] = chunks.get(kind, b"") + data[at + 8:at + 8 + length]
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (16, 2)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + width * 6)
    rows = np.zeros((height, width * 6), np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        assert kind in (0, 2)  # None or Up
        rows[y] = line + (rows[y - 1] if kind == 2 and y else 0)
    return rows.view(">u2").reshape(height, width, 3).astype(np.uint16)


def tiff_pixels(data: bytes) -> np.ndarray:
    """The pixels of a little-endian RGB TIFF with deflate strips, from its first IFD."""
    assert data[:4] == b"II*\0"
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd:ifd + 2])
    tags = {}
    for k in range(count):
        tag, kind, n, value = struct.unpack("<HHII", data[ifd + 2 + 12 * k:ifd + 14 + 12 * k])
        size = {3: 2, 4: 4}.get(kind, 1) * n
        raw = data[ifd + 10 + 12 * k:ifd + 14 + 12 * k] if size <= 4 else data[value:value + size]
        tags[tag] = struct.unpack(f"<{n}{'H' if kind == 3 else 'I'}", raw[:size]) if kind in (3, 4) else raw
    assert tags[259] == (8,) and tags[262] == (2,)
    width, height, bits = tags[256][0], tags[257][0], tags[258][0]
    body = b"".join(zlib.decompress(data[o:o + n]) for o, n in zip(tags[273], tags[279]))
    return np.frombuffer(body, f"<u{bits // 8}").reshape(height, width, 3)


def test_16_bit_png_keeps_every_bit_with_profile_and_recipe():
    data = png_bytes(PIXELS16, RECIPE)
    np.testing.assert_array_equal(png16_pixels(data), PIXELS16)
    with Image.open(io.BytesIO(data)) as png:
        png.load()
        assert png.size == (31, 23) and png.info["icc_profile"] == srgb_profile()
        np.testing.assert_array_equal(np.asarray(png.convert("RGB")), PIXELS16 >> 8)  # Pillow keeps 8 bits
    assert read_recipe(data) == RECIPE
    assert load_image(data).size == (31, 23)


@pytest.mark.parametrize("pixels", [PIXELS16, (PIXELS16 >> 8).astype(np.uint8)], ids=["16-bit", "8-bit"])
def test_tiff_keeps_every_bit_with_profile_and_recipe(pixels):
    data = tiff_bytes(pixels, RECIPE)
    np.testing.assert_array_equal(tiff_pixels(data), pixels)
    with Image.open(io.BytesIO(data)) as tiff:
        tiff.load()
        assert tiff.size == (31, 23) and tiff.info["icc_profile"] == srgb_profile()
        np.testing.assert_array_equal(np.asarray(tiff.convert("RGB")), PIXELS16 >> 8)
    assert read_recipe(data) == RECIPE  # ImageDescription is ASCII: the recipe's JSON escapes the rest


def test_jpeg_quality_profile_and_recipe():
    image = scene(96, 64)
    low, high = jpeg_bytes(image, 30, RECIPE), jpeg_bytes(image, 95, RECIPE)
    assert len(low) < len(high)
    for data in (low, high):
        with Image.open(io.BytesIO(data)) as jpeg:
            assert jpeg.info["icc_profile"] == srgb_profile()
        assert read_recipe(data) == RECIPE
    with pytest.raises(ImageError, match="JPEG holds 8 bits"):
        jpeg_bytes(PIXELS16)


def test_8_bit_png_carries_the_profile():
    with Image.open(io.BytesIO(png_bytes(scene(8, 8), RECIPE))) as png:
        assert png.info["icc_profile"] == srgb_profile() and json.loads(png.info["nst-recipe"]) == RECIPE


def test_save_image_writes_each_format_by_suffix(tmp_path):
    for name, kind in (("a.png", "PNG"), ("a.tif", "TIFF"), ("a.TIFF", "TIFF"), ("a.jpeg", "JPEG")):
        save_image(PIXELS16 if kind != "JPEG" else (PIXELS16 >> 8).astype(np.uint8), tmp_path / name, RECIPE,
                   quality=80)
        with Image.open(tmp_path / name) as image:
            assert image.format == kind
        assert read_recipe(tmp_path / name) == RECIPE
    with pytest.raises(ImageError, match="JPEG holds 8 bits"):
        save_image(PIXELS16, tmp_path / "b.jpg")
    assert not (tmp_path / "b.jpg").exists()


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_cli_writes_16_bit_png_and_tiff_from_the_float_result(tmp_path, capsys):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    scene(64, 48).save(content)
    stripes(64).save(style)
    common = [str(content), str(style), "--size", "48", "--steps", "3", "--multiscale", "off", "--quiet"]
    assert main([*common, "-o", str(tmp_path / "r.png"), "--bit-depth", "16"]) == 0
    assert main([*common, "-o", str(tmp_path / "r.tif"), "--bit-depth", "16"]) == 0
    png = png16_pixels((tmp_path / "r.png").read_bytes())
    np.testing.assert_array_equal(tiff_pixels((tmp_path / "r.tif").read_bytes()), png)
    assert (png % 257 != 0).mean() > 0.5  # rounded from the float image, not 8 bits scaled up
    for name in ("r.png", "r.tif"):
        assert read_recipe(tmp_path / name)["settings"]["size"] == 48
    assert main([*common, "-o", str(tmp_path / "r.jpg"), "--jpeg-quality", "70"]) == 0
    assert read_recipe(tmp_path / "r.jpg")["settings"]["steps"] == 3
    assert main([*common, "-o", str(tmp_path / "x.jpg"), "--bit-depth", "16"]) == 2
    with pytest.raises(SystemExit) as usage:
        main([*common, "-o", str(tmp_path / "x.jpg"), "--jpeg-quality", "0"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "for --bit-depth 16 write a .png or .tif" in err and "expected a whole number from 1 to 100" in err
    assert not (tmp_path / "x.jpg").exists()
