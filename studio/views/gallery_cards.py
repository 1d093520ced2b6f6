"""The gallery's parts: one result (thumbnail, what made it, star, delete, downloads) and the grid
picture of chosen results."""

from __future__ import annotations

import streamlit as st

from nst.io.grid import MAX_TILES, grid_image
from nst.io.images import png_bytes
from studio.session import text
from studio.views.charts import loss_chart
from studio.views.clip_view import clip_downloads, clip_player, clip_summary, flicker_chart
from studio.session.results import Result, download_buttons
from studio.services.store import shared_store


GRID_CHOICE = "gallery_grid"


def grid_png(chosen: list[Result]) -> bytes:
    """One PNG with the chosen results side by side, in the order given."""
    return png_bytes(grid_image([result.image for result in chosen]))


def grid_download(found: list[Result]) -> None:
    """Choose results, download them as one grid picture."""
    by_number = {result.number: result for result in found}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        numbers = st.multiselect("Results for a grid picture", list(by_number), key=GRID_CHOICE,
                                 format_func=lambda n: by_number[n].title if n in by_number else f"#{n}",
                                 placeholder="Choose results", max_selections=MAX_TILES, width=480)
        chosen = [by_number[n] for n in numbers if n in by_number]
        st.download_button("Download grid (PNG)", lambda: grid_png(chosen), file_name="nst-grid.png",
                           mime="image/png", disabled=not chosen, on_click="ignore", icon=":material/grid_on:",
                           help="The chosen results in one picture, in the order chosen, each in a square cell.")


def _star(owner: str, number: int, starred: bool) -> None:
    shared_store().star(owner, number, starred)


DELETED = "_gallery_deleted"  # the number of this session's last deleted result, until undone
UNDO_FAILED = "_gallery_undo_failed"  # the number an Undo could not bring back (the store's bound took it)


def _delete(owner: str, number: int) -> None:
    shared_store().delete(owner, number)  # undoable until this browser's next delete
    st.session_state[DELETED] = number


def _undelete(owner: str, number: int) -> None:
    st.session_state.pop(DELETED, None)
    if not shared_store().undelete(owner, number):
        st.session_state[UNDO_FAILED] = number


def undo_bar(owner: str) -> None:
    """After a Delete: which result went, and a button that brings it back."""
    gone = st.session_state.pop(UNDO_FAILED, None)
    if gone is not None:
        st.warning(f"Result #{gone} could not be brought back: the store needed its room.")
    number = st.session_state.get(DELETED)
    if number is None:
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"Result #{number} deleted.")
        st.button("Undo delete", key="undo_delete", icon=":material/undo:", on_click=_undelete, args=(owner, number),
                  help="Brings the result back, as it was (until the next Delete).")


def result_card(owner: str, result: Result) -> None:
    with st.container(border=True):
        thumb, info = st.columns([1, 3])
        thumb.image(result.thumb, caption=f"#{result.number}")
        with info:
            star = "★ " if result.stored.starred else ""
            text.say_markdown("markdown", "**{}{}**  \nStyles: {}", star, result.title,
                              ", ".join(result.meta["style_names"]) or "none")
            if result.clip_path is not None:
                _clip_details(result)
            else:
                _picture_details(result)
            with st.container(horizontal=True):
                starred = result.stored.starred
                st.button("Unstar" if starred else "Star", key=f"star-{result.number}", on_click=_star,
                          args=(owner, result.number, not starred),
                          help="Starred results are the last to go when the store is full.")
                st.button("Delete", key=f"delete-{result.number}", on_click=_delete, args=(owner, result.number),
                          help="Takes the result out of the gallery; Undo brings it back until the next Delete.")


def _picture_details(result: Result) -> None:
    """What made a picture: its settings, final losses, loss curve and downloads."""
    s = result.settings
    st.caption(f"{s.size} px · {s.steps} steps · {s.optimizer} · α={s.content_weight:g} β={s.style_weight:g}"
               f" γ={s.tv_weight:g} · init {s.init} · colour {s.preserve_color} · seed {s.seed}"
               f" · {result.meta['elapsed']:.1f} s")
    st.markdown("Final losses: " + ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items()))
    with st.expander("Loss curve"):
        loss_chart(result.rows, height=200)
    download_buttons(result, key=f"gallery-{result.number}")


def _clip_details(result: Result) -> None:
    """A clip: played here, with how it was made and its downloads."""
    st.caption(clip_summary(result))
    clip_player(result, width=480)  # a gallery of clips stays a list, not a wall of players
    with st.expander("Flicker per frame"):
        flicker_chart(result.meta.get("flicker", []))
    clip_downloads(result, key=f"gallery-{result.number}")
