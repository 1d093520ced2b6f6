"""Uploads: decoded once, kept in the session so they survive visits to other pages.

Streamlit forgets a file uploader's files when its page is left. Each uploader here copies what
it receives (the decoded image, or the reason it is unusable) into a plain session key when the
user changes it; the page works from that copy, so coming back finds the same inputs.
"""

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
_KEPT = "_kept_"  # + the uploader's key: what it last received, decoded


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


def decode(file: UploadedFile) -> Upload | str:
    """The decoded upload, or the one-sentence reason it cannot be used."""
    try:
        return _decode(file.getvalue(), file.name)
    except ImageError as exc:
        return str(exc)


def _keep(key: str, stale: tuple[str, ...]) -> None:
    for note in stale:  # notes about the files that were there before
        st.session_state.pop(note, None)
    value = st.session_state.get(key)
    files = value if isinstance(value, list) else [] if value is None else [value]
    st.session_state[_KEPT + key] = [decode(file) for file in files]


def _forget(key: str) -> None:
    st.session_state[_KEPT + key] = []


def kept_uploads(label: str, key: str, *, multiple: bool = False, help: str | None = None,
                 stale: tuple[str, ...] = ()) -> list[Upload]:
    """A file uploader whose decoded files outlive its page; shows why a file is refused. A change
    of files drops the session keys in ``stale`` (notes that were about the old files).

    Files kept from an earlier visit (or an example chosen instead) are named under the empty uploader,
    with a Clear button.
    """
    st.file_uploader(label, type=IMAGE_TYPES, key=key, accept_multiple_files=multiple, on_change=_keep,
                     args=(key, stale), help=help)
    kept = st.session_state.get(_KEPT + key, [])
    for item in kept:
        if isinstance(item, str):
            st.error(item)
    uploads = [item for item in kept if isinstance(item, Upload)]
    if uploads and not st.session_state.get(key):
        names = ", ".join(u.name for u in uploads)
        note, clear = st.columns([4, 1])
        note.caption(f"In use: {names}")
        clear.button("Clear", key=f"clear_{key}", on_click=_forget, args=(key,), help="Forget these files.")
    return uploads


def keep(key: str, uploads: list[Upload]) -> None:
    """Make ``uploads`` what the uploader ``key`` holds for the page (an example picked instead of a file)."""
    st.session_state[_KEPT + key] = list(uploads)


def kept(key: str) -> list[Upload]:
    """The usable uploads the uploader ``key`` holds for the page."""
    return [item for item in st.session_state.get(_KEPT + key, []) if isinstance(item, Upload)]
