"""The style library beside the uploaders: example paintings and the fast method's built-in styles,
and the example photos; each becomes an input like an upload of the user's own."""

from __future__ import annotations

import hashlib

import streamlit as st
from PIL import Image

from nst.model.fast import builtin_styles, swatch
from studio.services import examples
from studio.session.uploads import Upload, thumbnail

SWATCH_SIDE = 96


def as_upload(name: str, image: Image.Image) -> Upload:
    """An example picture as the pages hold an upload (its digest from its pixels)."""
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    return Upload(name, digest, image, thumbnail(image))


@st.cache_resource(show_spinner=False)
def painting(name: str) -> Upload:
    return as_upload(name, examples.painting(name))


@st.cache_resource(show_spinner=False)
def example_photo(name: str) -> Upload:
    return as_upload(name, examples.CONTENTS[name]())


@st.cache_resource(show_spinner="Painting the built-in styles …")
def swatches() -> dict[int, Image.Image]:
    """Every built-in style as the 26-style network paints it (once per process)."""
    return {style.index: swatch(style.index, side=SWATCH_SIDE) for style in builtin_styles()}


def builtin_name(index: int) -> str:
    return next(style.name for style in builtin_styles() if style.index == index)
