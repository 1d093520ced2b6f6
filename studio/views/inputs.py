"""The Stylize page's inputs: the method, the photo (uploaded or an example) and the styles
(uploaded, example paintings, or the fast method's built-in styles)."""

from __future__ import annotations

import streamlit as st

from nst.model.fast.builtins import NATIVE_SIDE
from studio.services import examples
from studio.views import library, runs
from studio.session import state, text
from studio.session.state import KEY
from studio.session.uploads import Upload, keep, kept, kept_uploads, shown_width

METHOD_LABELS = {"fast": "Fast · about a second", "gatys": "Optimise · VGG19, refines step by step"}
_EXAMPLE = "example_content"


def method_picker() -> str:
    """Fast (one pass of a trained network) or Optimise (Gatys); returns the choice."""
    st.radio("Method", list(METHOD_LABELS), key=KEY["method"], format_func=METHOD_LABELS.get, horizontal=True,
             help="Fast paints the photo in one pass of a trained network (Ghiasi et al. 2017). Optimise"
                  " changes the picture itself until VGG19 sees the photo's content and the painting's style"
                  " (Gatys et al.); Refine on a fast result does that starting from it.")
    return st.session_state[KEY["method"]]


def _use_example() -> None:
    name = st.session_state.get(_EXAMPLE)
    if name:
        keep("content_file", [library.example_photo(name)])
        for note in runs.NOTES:
            st.session_state.pop(note, None)


def content_input() -> Upload | None:
    """The content uploader and an example instead; the chosen photo."""
    contents = kept_uploads("Content image", "content_file", help="The picture whose layout the result keeps.",
                            stale=runs.NOTES)
    st.selectbox("Or an example photo", list(examples.CONTENTS), index=None, key=_EXAMPLE, on_change=_use_example,
                 placeholder="Example photo", label_visibility="collapsed",  # longer was cut at 1280 px
                 help="Scenes rendered in code for trying the studio without a photo of your own.")
    return contents[0] if contents else None


def content_preview(content: Upload | None) -> None:
    """The chosen photo's thumbnail (drawn under Start and Stop, which stay near the uploaders)."""
    if content is not None:
        width, height = content.image.size
        st.image(content.thumb, caption=text.markdown("{} · {}×{}", content.name, width, height),
                 width=shown_width(content.thumb, 140))


def _toggle_painting(name: str) -> None:
    current = [u for u in kept("style_files") if u.name != name]
    if st.session_state[f"library_{name}"]:
        current.append(library.painting(name))
    keep("style_files", current)


def style_input() -> list[Upload]:
    """The style uploader and the library: example paintings and the built-in styles."""
    styles = kept_uploads("Style images", "style_files", multiple=True, stale=runs.NOTES,
                          help="One or more paintings; with several, the blend weights mix them.")
    with st.popover("Style library", icon=":material/palette:", width="stretch"):
        st.caption("Public-domain paintings, downscaled (their sources are in the README):")
        names = {u.name for u in styles}
        for name in examples.PAINTINGS:
            st.session_state[f"library_{name}"] = name in names
            thumb, pick = st.columns([1, 3], vertical_alignment="center")
            thumb.image(library.painting(name).thumb, width=64)
            pick.checkbox(name, key=f"library_{name}", on_change=_toggle_painting, args=(name,))
        st.caption("Built-in styles of the fast method's 26-style network, as it paints them:")
        swatches = library.swatches()
        columns = st.columns(6)
        for index, picture in swatches.items():
            columns[index % 6].image(picture, caption=str(index), width="stretch")
        st.multiselect("Built-in styles", list(swatches), key=KEY["builtin_styles"],
                       format_func=library.builtin_name,
                       help="Used like style images, after any uploaded ones; with the fast method alone they"
                            " need no painting at all.")
    return styles


def chosen() -> tuple[Upload | None, list[Upload]]:
    """The photo and the style images the uploaders hold now, drawing nothing (for a button's
    callback, which runs before the page draws them)."""
    contents = kept("content_file")
    return (contents[0] if contents else None), kept("style_files")


def builtins() -> tuple[int, ...]:
    """The built-in styles the form holds."""
    return tuple(st.session_state.get(KEY["builtin_styles"], ()))


def style_sizes(styles: list[Upload]) -> list[tuple[int, int]]:
    """(width, height) of every style source: the style images, then the built-in styles' paintings."""
    return [s.image.size for s in styles] + [(NATIVE_SIDE, NATIVE_SIDE)] * len(builtins())


def source_count(styles: list[Upload]) -> int:
    """Style sources the blend weights cover: the style images, then the built-in styles."""
    return len(styles) + len(builtins())
