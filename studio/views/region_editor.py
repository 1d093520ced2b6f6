"""The regions editor on the Stylize page: paint over the photo, say what each colour gets.

It keeps the form's ``mask`` and ``regions`` (widget keys ``set_mask``, ``set_regions``) equal
to what the painting and its choices stand for (:func:`studio.services.painted_regions.painted_regions`), so
Start runs them and the recipe carries them. The editor opens in a large dialog (the inputs
column is too narrow to paint in, and the live view keeps its place); the page shows a line
about the regions the next run uses. The painting, its Fabric drawing and the choices are kept
in the session, so they survive the dialog closing and visits to other pages (a remounted canvas
is given its drawing back). Regions loaded with a recipe are shown as such, over the photo,
until cleared; loading a recipe replaces the painting.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from PIL import Image

from nst.core import masks
from nst.core.errors import SettingsError
from nst.core.settings import Settings
from studio.services import painted_regions
from studio.session import state, text
from studio.session.state import KEY
from studio.session.uploads import Upload

LABEL = "Regions: paint where each style goes"
OPEN = "_regions_open"  # the dialog is open (drawn again on every full run until closed)
ORIGIN = "_regions_origin"  # "recipe" while the form holds regions loaded with a recipe
# Widget keys: the paint tool, brush size, what the unpainted rest gets, and the Apply toggle.
TOOL, BRUSH, REST, APPLY = "region_tool", "region_brush", "region_unpainted", "region_apply"
PAINT = "_region_paint"  # the painting the canvas sent last: RGBA at canvas size
_DRAWING, _INITIAL, _MOUNT, _MEMO = "_region_drawing", "_region_initial", "_region_mount", "_region_memo"
CANVAS_SIDE = 600  # px: the longer side of the canvas (the dialog's left part at 1280 px)
BRUSH_DEFAULT = 32


def target_key(colour: str) -> str:
    return f"region_target_{colour[1:]}"


_WIDGETS = (TOOL, BRUSH, REST, APPLY, *(target_key(colour) for colour in painted_regions.PALETTE.values()))


def _forget_painting() -> None:
    for key in (ORIGIN, PAINT, _DRAWING, _INITIAL, _MEMO):
        st.session_state.pop(key, None)
    st.session_state[_MOUNT] = st.session_state.get(_MOUNT, 0) + 1  # a new, empty canvas


def loaded(settings: Settings) -> None:
    """After a recipe filled the form: its regions replace the painting, shown as the recipe's."""
    _forget_painting()
    if settings.mask is not None:
        st.session_state[ORIGIN] = "recipe"


def clear() -> None:
    """Forget the painting and the form's regions (a button's callback)."""
    _forget_painting()
    _set_form(None, None)


def _set_form(mask: str | None, items: tuple[str, ...] | None) -> None:
    if st.session_state.get(KEY["mask"]) != mask or st.session_state.get(KEY["regions"]) != items:
        st.session_state[KEY["mask"]], st.session_state[KEY["regions"]] = mask, items
        state.remember()


def summary(style_names: list[str]) -> str | None:
    """One line about the regions the next run uses, or None without regions."""
    items = st.session_state.get(KEY["regions"])
    if not items:
        return None
    origin = " (from the recipe)" if st.session_state.get(ORIGIN) == "recipe" else ""
    mask = st.session_state.get(KEY["mask"])
    absent = painted_regions.absent_note(mask, items) if mask else None  # a recipe's colours its mask lacks
    line = f"Regions{origin}: " + "; ".join(painted_regions.region_lines(items, style_names))
    return f"{line} · {absent}" if absent else line


def region_editor(content: Upload | None, styles: list[Upload], button: DeltaGenerator | None = None) -> None:
    """The Regions button (drawn in ``button``, a container) that opens the editor's dialog, and a
    line saying what regions the next run uses. Keeps the form's mask and regions in step with the
    painting (and the photo) on every run."""
    problem = _apply(content, len(styles))
    (button or st).button("Regions", key="regions_edit", on_click=_open, icon=":material/format_paint:",
                          width="stretch", help="Paint over the photo where each style goes (or where the photo stays).")
    st.caption(summary([s.name for s in styles]) or "No regions: the whole picture takes the style.")
    if problem:
        text.say("error", problem)
    if st.session_state.get(OPEN):
        _dialog(content, styles)


def _open() -> None:
    st.session_state[OPEN] = True
    # A new canvas key: the dialog's canvas is drawn afresh in the browser, so it is given its drawing back.
    st.session_state[_MOUNT] = st.session_state.get(_MOUNT, 0) + 1


def _close() -> None:
    st.session_state.pop(OPEN, None)


def _done() -> None:
    _close()
    st.rerun()  # closes the dialog; the page shows the regions' summary


@st.dialog(LABEL, width="large", on_dismiss=_close)
def _dialog(content: Upload | None, styles: list[Upload]) -> None:
    names = [s.name for s in styles]
    if _from_recipe():
        _recipe_regions(content, names)
    elif content is None:
        st.info("Upload a content image first: you paint the regions over it.")
    else:
        _painter(content, len(styles), names)
        problem = _apply(content, len(styles))
        if problem:
            text.say("error", problem)
    if st.button("Done", key="regions_done", type="primary", icon=":material/check:"):
        _done()


def _from_recipe() -> bool:
    return st.session_state.get(ORIGIN) == "recipe" and bool(st.session_state.get(KEY["mask"]))


def _recipe_regions(content: Upload | None, names: list[str]) -> None:
    mask, items = st.session_state[KEY["mask"]], st.session_state[KEY["regions"]]
    st.caption("From the loaded recipe: these regions apply to the next run. Clear them to paint your own.")
    problem = painted_regions.region_problem(mask, items, content.image.size, len(names)) if content else None
    fits = content is not None and masks.mask_shape_fits(masks.mask_pixels(mask).shape[:2], content.image.size)
    st.image(painted_regions.overlay(content.image, mask) if fits else painted_regions.mask_image(mask), width=CANVAS_SIDE)
    st.markdown("  \n".join(painted_regions.region_lines(items, names)))
    if problem:
        text.say("warning", problem)
    st.button("Clear regions", key="regions_clear_recipe", on_click=clear, icon=":material/delete:")


_backgrounds: OrderedDict[tuple[str, tuple[int, int]], bytes] = OrderedDict()


def _background(content: Upload, size: tuple[int, int]) -> bytes:
    """The photo at canvas size as PNG bytes, made once per photo (the canvas caches its data URL by
    their hash; given the full photo it would encode it on every rerun)."""
    key = (content.digest, size)
    if key not in _backgrounds:
        buffer = io.BytesIO()
        content.image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG")
        _backgrounds[key] = buffer.getvalue()
        while len(_backgrounds) > 8:
            _backgrounds.popitem(last=False)
    return _backgrounds[key]


def _painter(content: Upload, n_styles: int, names: list[str]) -> None:
    """The canvas over the photo, with the palette and each painted colour's choice beside it."""
    # Imported here: declaring the component needs Streamlit's runtime, which a bare import lacks.
    from streamlit_drawable_canvas import st_canvas

    state.restore_widgets(*_WIDGETS)
    st.session_state.setdefault(TOOL, next(iter(painted_regions.PALETTE)))
    st.session_state.setdefault(BRUSH, BRUSH_DEFAULT)
    st.session_state.setdefault(APPLY, True)
    canvas_column, controls = st.columns([3, 2], gap="medium")
    with controls:
        tool = st.radio("Paint with", [*painted_regions.PALETTE, painted_regions.ERASER], key=TOOL, format_func=painted_regions.tool_name,
                        horizontal=True, help="Each colour you paint is a region. The eraser gives an area back to"
                                              " the unpainted part.")
        brush = st.slider("Brush size", 4, 80, key=BRUSH)
    with canvas_column:
        size = painted_regions.canvas_size(content.image.size, CANVAS_SIDE)
        canvas_key = f"region_canvas_{st.session_state.get(_MOUNT, 0)}"
        if canvas_key not in st.session_state:  # a fresh canvas: its drawing back
            st.session_state[_INITIAL] = st.session_state.get(_DRAWING)
        drawn = st_canvas(background_image=_background(content, size), drawing_mode="freedraw",
                          stroke_color=painted_regions.stroke_colour(tool), stroke_width=brush, width=size[0],
                          height=size[1], return_image_data=True, initial_drawing=st.session_state.get(_INITIAL),
                          key=canvas_key)
        if drawn.image_data is not None:  # None until the canvas sends its first drawing
            st.session_state[PAINT] = np.asarray(drawn.image_data)
            st.session_state[_DRAWING] = drawn.json_data
        st.caption("Hover over the picture for its toolbar: undo, redo, start over.")
    with controls:
        _choices(painted_regions.painted_colours(st.session_state.get(PAINT)), n_styles, names)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.toggle("Apply the regions", key=APPLY, help="Off: no regions, the whole picture takes the style"
                                                           " (the painting is kept).")
            st.button("Clear", key="regions_clear", on_click=clear, icon=":material/delete:",
                      help="Forget the painting.")
    state.keep_widgets(*_WIDGETS)


def _choices(colours: list[str], n_styles: int, names: list[str]) -> None:
    """A choice of style (or the photo) for each painted colour and for the unpainted rest."""
    if not colours:
        st.caption("Paint over the photo: each colour becomes a region. Nothing painted: the whole picture takes"
                   " the style.")
        return
    options = painted_regions.targets(n_styles)

    def label(target: str) -> str:
        return painted_regions.target_label(target, names)

    palette = list(painted_regions.PALETTE.values())
    for colour in colours:
        key = target_key(colour)
        if st.session_state.get(key) not in options:
            st.session_state[key] = painted_regions.default_target(palette.index(colour), n_styles)
        st.selectbox(f"{painted_regions.colour_name(colour)} gets", options, key=key, format_func=label)
    if st.session_state.get(REST) not in options:
        st.session_state[REST] = painted_regions.PHOTO
    st.selectbox(f"{painted_regions.colour_name(masks.UNPAINTED)} gets", options, key=REST, format_func=label,
                 help="Everything not painted (or erased). Keep the photo to style only what you paint.")
    if not n_styles:
        st.caption("Upload style images to give a region a style.")


def _apply(content: Upload | None, n_styles: int) -> str | None:
    """Set the form's mask and regions from the kept painting and choices (a recipe's regions are
    left as they are); returns why the painting cannot be used, if it cannot."""
    if _from_recipe():
        return None
    st.session_state.pop(ORIGIN, None)
    paint = st.session_state.get(PAINT)
    if content is None or paint is None or not state.widget_value(APPLY, True):
        _set_form(None, None)
        return None
    options = painted_regions.targets(n_styles)
    chosen = {}
    for index, colour in enumerate(painted_regions.PALETTE.values()):
        target = state.widget_value(target_key(colour))
        chosen[colour] = target if target in options else painted_regions.default_target(index, n_styles)
    unpainted = state.widget_value(REST, painted_regions.PHOTO)
    unpainted = unpainted if unpainted in options else painted_regions.PHOTO
    digest = hashlib.blake2b(np.ascontiguousarray(paint).tobytes(), digest_size=16).hexdigest()
    memo_key = (digest, content.image.size, tuple(sorted(chosen.items())), unpainted)
    memo = st.session_state.get(_MEMO)
    if memo is None or memo[0] != memo_key:  # the painting is encoded once per change, not per rerun
        try:
            memo = (memo_key, painted_regions.painted_regions(paint, content.image.size, chosen, unpainted), None)
        except SettingsError as exc:
            memo = (memo_key, (None, None), str(exc))
        st.session_state[_MEMO] = memo
    _set_form(*memo[1])
    return memo[2]
