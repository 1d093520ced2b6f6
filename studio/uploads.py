"""Decoding uploads once: the working image, a thumbnail and a digest per uploaded file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from nst.errors import ImageError
from nst.images import load_image
from nst.settings import MAX_SIZE

# Every format nst.images decodes (its FORMATS); a type missing here is refused before the loader sees it.
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]
THUMB_SIDE = 256


@dataclass(frozen=True)
class Upload:
    """A decoded upload. ``image`` is RGB with max side at most MAX_SIZE (the largest output)."""

    name: str
    digest: str  # sha256 of the file's bytes, for cache keys
    image: Image.Image
    thumb: Image.Image


@st.cache_resource(max_entries=16, show_spinner=False)
def _decode(data: bytes, name: str) -> Upload:
    image = load_image(data, max_side=MAX_SIZE, name=name)
    return Upload(name, hashlib.sha256(data).hexdigest(), image, thumbnail(image))


def thumbnail(image: Image.Image) -> Image.Image:
    """A copy of ``image`` no larger than THUMB_SIDE on either side."""
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return thumb


def shown_width(image: Image.Image, width: int) -> int | str:
    """``width`` for ``st.image``, or "content" where shrinking to it would leave no row of pixels.

    Streamlit resizes to ``width`` server side and fails on a zero height (a 4000×8 strip at 96 px).
    """
    return width if image.height * width >= image.width else "content"


def read_upload(file: UploadedFile | None) -> Upload | None:
    """Decode an uploaded file, or show the reason it is unusable as ``st.error`` and return None."""
    if file is None:
        return None
    try:
        return _decode(file.getvalue(), file.name)
    except ImageError as exc:
        st.error(str(exc))
        return None
