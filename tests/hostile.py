"""A hostile-input corpus for image loading, built in memory so no binary files are committed."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)

EXPECTED_OK: set[str] = {
    "sixteen_bit.png",
    "cmyk.jpg",
    "palette_alpha.png",
    "animated.gif",
    "exif_rotated.jpg",
    "one_pixel.png",
    "extreme_aspect.png",
    "huge_style.jpg",
}
# Decode fine but are refused for a run: a side under nst.plan.preflight.MIN_SIDE, in the file or once resized.
TOO_SMALL: set[str] = {"one_pixel.png", "extreme_aspect.png"}


@functools.lru_cache(maxsize=None)
def corpus() -> dict[str, bytes]:
    """Name -> file bytes; names in EXPECTED_OK must load (those in TOO_SMALL are then refused for a
    run), every other one must be refused."""
    return {
        "empty.png": b"",
        "truncated.jpg": _truncated(_encode(_noise(64, 48), "JPEG")),
        "truncated.png": _truncated(_encode(_noise(64, 48), "PNG")),
        "html_as.png": b"<!DOCTYPE html>\n<html><body><h1>Not a picture</h1></body></html>\n",
        "text.txt": b"Just some text, definitely not pixels.\n",
        "sixteen_bit.png": _encode(Image.fromarray(sixteen_bit_gradient()), "PNG"),
        "cmyk.jpg": _encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95),
        "palette_alpha.png": _palette_alpha(),
        "animated.gif": _animated_gif(),
        "exif_rotated.jpg": _exif_rotated(),
        "bomb.png": _png_header_only(30_000, 30_000),
        "one_pixel.png": _encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"),
        "extreme_aspect.png": _encode(Image.new("RGB", (4000, 8), BLUE), "PNG"),
        "huge_style.jpg": _encode(_gradient(6000, 4000), "JPEG", quality=80),
    }


def sixteen_bit_gradient() -> np.ndarray:
    """A 64×256 uint16 ramp whose column x holds x*257, i.e. exactly 8-bit value x once scaled."""
    return np.tile(np.arange(256, dtype=np.uint16) * 257, (64, 1))


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _truncated(data: bytes) -> bytes:
    """Cut the file in half: the header survives, the pixel data does not."""
    return data[: len(data) // 2]


def _noise(width: int, height: int) -> Image.Image:
    # Noise does not compress, so half the file really is half the pixel data.
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))


def _gradient(width: int, height: int) -> Image.Image:
    """A smooth RGB ramp: cheap to build and compresses well even at 24 MP."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    pixels[..., 2] = 128
    return Image.fromarray(pixels)


def _palette_alpha() -> bytes:
    """16×16 palette image: left half index 0 (fully transparent), right half index 1 (blue)."""
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, *BLUE])
    image.paste(1, (8, 0, 16, 16))
    return _encode(image, "PNG", transparency=0)


def _animated_gif() -> bytes:
    first, second = Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), GREEN)
    return _encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def _exif_rotated() -> bytes:
    """40×20 JPEG, left half red and right half blue, tagged Orientation=6 (rotate 90° clockwise).

    Displayed correctly it is 20×40 with red on top and blue at the bottom.
    """
    image = Image.new("RGB", (40, 20), BLUE)
    image.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    return _encode(image, "JPEG", quality=95, exif=exif.tobytes())


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR declares width×height 1-bit pixels, with a token IDAT.

    Encoding the real thing would take gigabytes; a loader must refuse it from the header.
    """

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale, no interlace
    idat = zlib.compress(b"\0" * 64)  # nowhere near enough data: only the header is meant to be read
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- hostile text: names and keys that Streamlit's Markdown would turn into something else ----------
# Every URL holds LEAK: a browser test fails if any request for one leaves the page. Port 9 (discard)
# serves nothing; what counts is that no fetch is attempted.
LEAK = "leak-21"
HOSTILE_TEXT: dict[str, str] = {
    "image": f"![tracking pixel](http://127.0.0.1:9/{LEAK}/pixel.png?leak=1)",
    "link": f"[**Click here to fix your settings**](http://127.0.0.1:9/{LEAK}/phish)",
    "dunder": "__class__",
    "bold_link": "**BOLD** [link](http:evil)",
    "html": f'<img src="http://127.0.0.1:9/{LEAK}/img.png"> <a href="http://127.0.0.1:9/{LEAK}/a">here</a> <b>b</b>',
    "latex": "$x^2$ and $$\\frac{a}{b}$$",
    "emoji": ":smile: :+1: :-1:",
    "material": ":material/home: :material_home:",
    "colour": ":red[red] :blue-background[blue] :rainbow[all] :green-badge[ok]",
    "autolinks": (f"www.{LEAK}.example http://127.0.0.1:9/{LEAK}/bare mail@{LEAK}.example"
                  f" <http://127.0.0.1:9/{LEAK}/angle>"),
    "blocks": "# heading\n- item\n> quote\n1. one\n===\n\n    indented",
    "inline": "`code` ~~strike~~ *em* _em_ | a | b |",
    "reference": f"[x][y] [^1]\n\n[y]: http://127.0.0.1:9/{LEAK}/ref",
    "entities": "&amp; &lt;b&gt; &#58; &copy;",
    "backslashes": "a\\b\\\\c\\*d\\",
    "braces": "{0} {name} %s {{x}}",
    "long": (f"**B** [l](http://127.0.0.1:9/{LEAK}/long) $x$ :smile: " * 200)[:10_000],
}
# Hostile names for uploaded files (no '/', which a browser drops from a file's name).
HOSTILE_FILE_NAMES: list[str] = [
    f"**BOLD** [link](http:evil) ![p](http:{LEAK}) $x$ :smile: __c__ <img src=http:{LEAK}>.png",
    f"www.{LEAK}.example :red[x] `c` #1.png",
]
