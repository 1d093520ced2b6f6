"""Loading a recipe (a result PNG or settings JSON) into the form, refusing what the studio must not run."""

from __future__ import annotations

import streamlit as st

from nst.errors import NSTError, SettingsError
from nst.recipe import read_recipe, settings_from_recipe
from nst.settings import Settings
from studio import state

RECIPE = "recipe_file"
_MESSAGE = "_recipe_message"


def load_recipe_bytes(data: bytes, name: str) -> Settings:
    """Settings from a PNG or JSON recipe; RecipeError (unreadable) or SettingsError (invalid, or
    not allowed in the studio)."""
    settings = settings_from_recipe(read_recipe(data, name=name))
    found = state.problems(state.widget_values(settings))
    if found:
        raise SettingsError({field: f"{name}: {message}" for field, message in found.items()})
    return settings


def _apply_recipe() -> None:
    file = st.session_state.get(RECIPE)
    if file is None:
        return
    try:
        settings = load_recipe_bytes(file.getvalue(), file.name)
    except NSTError as exc:
        st.session_state[_MESSAGE] = ("error", str(exc))
        return
    state.write_settings(settings)
    blends = len(settings.style_blend or ())
    note = f" Upload its {blends} style images in the same order to use its blend weights." if blends > 1 else ""
    st.session_state[_MESSAGE] = ("success", f"Loaded every setting from {file.name}.{note}")


def recipe_loader() -> None:
    """The "Load recipe" uploader and the outcome of the last load."""
    st.file_uploader("Load recipe", type=["png", "json"], key=RECIPE, on_change=_apply_recipe,
                     help="A result PNG or settings JSON saved by this studio or the CLI; every setting is restored.")
    message = st.session_state.get(_MESSAGE)
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
