"""The variant grid on the Stylize page: its options, the Variants button's action, and the grid
that fills in live. Clicking a tile copies its settings into the form; "Render full size" runs
the chosen tile's sweep on the form's settings (so at the form's size)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nst.core.errors import SettingsError
from nst.io.grid import grid_image
from nst.io.images import png_bytes
from nst.io.variants import MAX_VARIANTS, PREVIEW, ROWS
from studio.views import inputs, runs
from studio.session import state, text
from studio.services import browser_runs, variant_grids
from studio.services.jobs import Snapshot
from studio.session.uploads import Upload

COUNT, SWEEP = "variants_count", "variants_rows"
SWEEP_LABELS = {"auto": "Auto: seeds for a noise start, else colour modes", "seed": "Seeds", "color": "Colour modes"}
COLUMNS = 3


def variant_options() -> None:
    """How many variants, and what changes down the grid's rows (the style weight changes across)."""
    with st.expander("Variants: how many, what they sweep", icon=":material/grid_view:"):
        state.restore_widgets(COUNT, SWEEP)
        st.session_state.setdefault(COUNT, MAX_VARIANTS)
        st.session_state.setdefault(SWEEP, "auto")
        st.slider("How many variants", 1, MAX_VARIANTS, key=COUNT,
                  help="Small, quick runs of the settings in the form (256 px and 60 steps at most). Across a"
                       " row the style weight is ×¼, ×1, ×4.")
        st.radio("Down the rows", ROWS, key=SWEEP, format_func=SWEEP_LABELS.get,
                 help="Seeds change only runs initialised from noise.")
        state.keep_widgets(COUNT, SWEEP)


def start_variants(owner: str) -> None:
    """Start this browser's grid from the inputs and the form's settings (the Variants button's
    callback); a refusal goes to the run note."""
    content, styles = inputs.chosen()
    try:
        base = state.session_settings(inputs.source_count(styles))
        photo = content.image if content else None  # without one, the refusal below says so
        grid = variant_grids.Grid(base, photo, [s.image for s in styles],  # type: ignore[arg-type]
                             state.widget_value(COUNT, MAX_VARIANTS), state.widget_value(SWEEP, "auto"),
                             # A preview never runs longer than the run it previews.
                             overrides={"steps": min(PREVIEW["steps"], base.steps)}, keepalive=runs.session_alive())
    except SettingsError as exc:
        runs.say("error", str(exc))
        return
    refused = runs.refusal(content, styles, grid.tiles[0].variant.settings)
    if refused:
        runs.say("error", refused)
        return
    runs.clear_notes()
    browser_runs.start_grid(owner, grid)


def _choose(owner: str, grid_id: int, index: int) -> None:
    grid = browser_runs.grid(owner)
    if grid is not None and grid.id == grid_id:
        grid.chosen = index
        state.write_settings(grid.tiles[index].variant.full(grid.base))


def _render(owner: str, content: Upload | None, styles: list[Upload]) -> None:
    grid = browser_runs.grid(owner)
    if grid is None or grid.chosen is None:
        return
    try:
        settings = grid.tiles[grid.chosen].variant.full(state.session_settings(inputs.source_count(styles)))
    except SettingsError as exc:
        runs.say("error", str(exc))
        return
    state.write_settings(settings)
    runs.start(owner, content, styles, settings)


def _placeholder(content: Upload | None) -> np.ndarray:
    """A blank tile of the photo's shape, so the grid does not jump as tiles fill in."""
    width, height = content.image.size if content else (4, 3)
    return np.full((max(1, round(96 * height / width)), 96, 3), 238, dtype=np.uint8)


def variant_grid(owner: str, content: Upload | None, styles: list[Upload]) -> None:
    """This browser's grid, if it has one (call from the stage's polling fragment)."""
    grid = browser_runs.grid(owner)
    if grid is None:
        return
    grid.heartbeat()
    if grid.finished and not grid.collected:
        grid.collected = True
        st.rerun()  # the whole page: polling stops, buttons are redrawn
    small = grid.tiles[0].variant.settings
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**Variants** · {grid.done} of {len(grid.tiles)} done · {small.size} px, {small.steps} steps"
                    " each · click one to use its settings")
        if not grid.finished:
            st.button("Stop variants", key=f"variants-stop-{grid.id}", on_click=grid.stop, icon=":material/stop:")
        if grid.images():
            st.download_button("Download grid", lambda: png_bytes(grid_image(grid.images(), columns=COLUMNS, tile=256)),
                               file_name="nst-variants.png", mime="image/png", key=f"variants-png-{grid.id}",
                               on_click="ignore", icon=":material/download:")
        if st.button("Close", key=f"variants-close-{grid.id}", on_click=browser_runs.close_grid, args=(owner,),
                     icon=":material/close:"):
            st.rerun()  # the whole page: nothing left to poll
    live = grid.live()
    for first in range(0, len(grid.tiles), COLUMNS):
        st.caption(grid.tiles[first].variant.label.partition(" · ")[2])  # what this row shares: its seed or colour
        columns = st.columns(COLUMNS)
        for index in range(first, min(first + COLUMNS, len(grid.tiles))):
            with columns[index - first]:
                _tile(owner, grid, index, live, content)
    if grid.chosen is not None:
        label = grid.tiles[grid.chosen].variant.label
        size = st.session_state.get(state.KEY["size"])
        if st.button(f"Render full size ({size} px): {label}", key=f"variants-render-{grid.id}", type="primary",
                     on_click=_render, args=(owner, content, styles), icon=":material/play_arrow:"):
            st.rerun()


def _tile(owner: str, grid: variant_grids.Grid, index: int, live: tuple[int, Snapshot] | None,
          content: Upload | None) -> None:
    tile = grid.tiles[index]
    picture, note = tile.image, tile.status
    if picture is None and live is not None and live[0] == index:
        snap = live[1]
        picture = snap.preview
        note = f"step {snap.step} of {snap.total_steps}" if snap.step else "waiting for the device"
    st.image(picture if picture is not None else _placeholder(content), width="stretch")
    chosen = grid.chosen == index
    across = tile.variant.label.partition(" · ")[0]  # what changes across the row: the style weight
    if st.button(("✓ " if chosen else "") + across, key=f"variant-{grid.id}-{index}", width="stretch",
                 type="primary" if chosen else "secondary", disabled=tile.image is None, on_click=_choose,
                 args=(owner, grid.id, index), help=f"{tile.variant.label}: copy these settings into the form."):
        st.rerun()  # the whole page, so the form shows them
    if tile.image is None or tile.status != "done":
        text.say("caption", tile.message or note)
