"""Uploads: decoded once, kept in the session so they survive visits to other pages, and with the
browser's token so they survive a reload.

Streamlit forgets a file uploader's files when its page is left. Each uploader here copies what
it receives (the decoded image, or the reason it is unusable) into a plain session key when the
user changes it; the page works from that copy, so coming back finds the same inputs. The usable
files' bytes also go to the results' store under this browser's token (:mod:`studio.services.store`,
bounded per browser and with the results), so a reload, a new session of the same browser, finds
them there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from nst.core.errors import ImageError
from nst.io.images import load_image, png_bytes
from nst.core.settings import MAX_SIZE
from studio.session import text
from studio.session.identity import browser_token
from studio.services.store import shared_store

# Every format nst.io.images decodes (its FORMATS); a type missing here is refused before the loader sees it.
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]
THUMB_SIDE = 256
_KEPT = "_kept_"  # + the uploader's key: what it last received, decoded
_UNSAVED = "_unsaved_"  # + the uploader's key: set while its files are too large to keep over a reload


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
    decoded = [decode(file) for file in files]
    st.session_state[_KEPT + key] = decoded
    _save(key, [(file.name, file.getvalue()) for file, item in zip(files, decoded) if isinstance(item, Upload)])


def _forget(key: str) -> None:
    st.session_state[_KEPT + key] = []
    _save(key, [])


def _save(key: str, files: list[tuple[str, bytes]]) -> None:
    """Keep ``files`` with this browser's token for a reload; mark the uploader when they are too large."""
    if shared_store().keep_uploads(browser_token(), key, files):
        st.session_state.pop(_UNSAVED + key, None)
    else:
        st.session_state[_UNSAVED + key] = True


def _restore(key: str) -> None:
    """A new session (a reload) starts from what the uploader ``key`` kept for this browser."""
    if _KEPT + key in st.session_state:
        return
    restored = []
    for name, data in shared_store().kept_uploads(browser_token(), key):
        try:
            restored.append(_decode(data, name))
        except ImageError:  # decoded once already; a limit lowered since may refuse it now
            continue
    st.session_state[_KEPT + key] = restored


def kept_uploads(label: str, key: str, *, multiple: bool = False, help: str | None = None,
                 stale: tuple[str, ...] = ()) -> list[Upload]:
    """A file uploader whose decoded files outlive its page; shows why a file is refused. A change
    of files drops the session keys in ``stale`` (notes that were about the old files).

    Files kept from an earlier visit (or an example chosen instead) are named under the empty uploader,
    with a Clear button.
    """
    _restore(key)
    st.file_uploader(label, type=IMAGE_TYPES, key=key, accept_multiple_files=multiple, on_change=_keep,
                     args=(key, stale), help=help)
    kept = st.session_state.get(_KEPT + key, [])
    if st.session_state.get(_UNSAVED + key):
        st.caption(f"Too large to keep over a reload (over {shared_store().upload_limit_bytes // 2**20} MB for"
                   " this browser): kept while this tab stays open.")
    for item in kept:
        if isinstance(item, str):
            text.say("error", item)
    uploads = [item for item in kept if isinstance(item, Upload)]
    if uploads and not st.session_state.get(key):
        names = ", ".join(u.name for u in uploads)
        # A row that wraps rather than squeezing the button to a blank square: its label says what it does.
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            text.say_markdown("caption", "In use: {}", names,
                              help="Kept for this browser from an earlier visit, a reload or an example chosen:"
                                   " the uploader above lists only the files dropped on this page.")
            st.button("Clear", key=f"clear_{key}", icon=":material/close:", type="tertiary", on_click=_forget,
                      args=(key,), help="Forget the kept files; the next run needs new ones.")
    return uploads


def keep(key: str, uploads: list[Upload]) -> None:
    """Make ``uploads`` what the uploader ``key`` holds for the page (an example picked instead of a
    file); kept for a reload as PNGs (examples are small)."""
    st.session_state[_KEPT + key] = list(uploads)
    _save(key, [(upload.name, png_bytes(upload.image)) for upload in uploads])


def kept(key: str) -> list[Upload]:
    """The usable uploads the uploader ``key`` holds for the page."""
    _restore(key)
    return [item for item in st.session_state.get(_KEPT + key, []) if isinstance(item, Upload)]
