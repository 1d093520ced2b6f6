"""Loading a recipe (a result PNG or settings JSON) into the form, refusing what the studio must not run."""

from __future__ import annotations

import streamlit as st

from nst.io.adjust import Adjustments
from nst.core.errors import NSTError, RecipeError, SettingsError
from nst.io.recipe import adjustments_from_recipe, read_recipe, settings_from_recipe
from nst.core.settings import RULES, Settings
from studio.views import region_editor
from studio.services import painted_regions
from studio.session import state, text
from studio.services.labels import labelled, labels

RECIPE = "recipe_file"
NOTE = "_recipe_message"  # (kind, text) of the last load; cleared when a run starts
# A loaded recipe's after-run adjustments: the next run takes them, and its result's controls start there.
PENDING_ADJUSTMENTS = "_recipe_adjustments"


def load_recipe_bytes(data: bytes, name: str) -> tuple[Settings, list[str], Adjustments]:
    """Settings from a PNG or JSON recipe, the names of the settings it gave (the rest keep their
    defaults) and its after-run adjustments; RecipeError (unreadable, or no settings at all) or
    SettingsError (invalid, or not allowed in the studio)."""
    recipe = read_recipe(data, name=name)
    try:
        settings = settings_from_recipe(recipe)
    except SettingsError as exc:
        raise _named(exc.problems, name) from exc
    given = recipe.get("settings")
    if not given:
        raise RecipeError(f"{name} holds no settings, so the form is left as it was.")
    found = state.problems(state.widget_values(settings))
    try:
        adjustments = adjustments_from_recipe(recipe)
    except SettingsError as exc:
        found.update(exc.problems)
    if found:
        raise _named(found, name)
    return settings, [field for field in RULES if field in given], adjustments


def _named(problems: dict[str, str], name: str) -> SettingsError:
    """A recipe's problems, each after its file's name and naming settings by their controls' labels."""
    return SettingsError({field: f"{name}: {labelled(message)}" for field, message in problems.items()})


def loaded_note(name: str, given: list[str]) -> str:
    """What a load did: every setting, or which ones it set and which it left at their defaults."""
    if len(given) == len(RULES):
        return f"Loaded every setting from {name}."
    left = [field for field in RULES if field not in given]
    return (f"Loaded {len(given)} of {len(RULES)} settings from {name} ({labels(given)}); the rest are at"
            f" their defaults: {labels(left)}.")


def _apply_recipe() -> None:
    file = st.session_state.get(RECIPE)
    if file is None:
        return
    try:
        settings, given, adjustments = load_recipe_bytes(file.getvalue(), file.name)
    except NSTError as exc:
        st.session_state[NOTE] = ("error", str(exc))
        return
    state.write_settings(settings)
    region_editor.loaded(settings)
    blends = len(settings.style_blend or ())
    note = f" Upload its {blends} style images in the same order to use its blend weights." if blends > 1 else ""
    if adjustments.identity:
        st.session_state.pop(PENDING_ADJUSTMENTS, None)
    else:
        st.session_state[PENDING_ADJUSTMENTS] = adjustments
        note += (f" Its after-run adjustments (strength {adjustments.mix:g}, colour {adjustments.recolor}) are"
                 " set on the next run's result.")
    absent = painted_regions.absent_note(settings.mask, settings.regions) if settings.mask and settings.regions else None
    if absent:
        note += f" Of its regions, {absent}."
    kind = "success" if len(given) == len(RULES) and not absent else "warning"
    st.session_state[NOTE] = (kind, loaded_note(file.name, given) + note)


def recipe_loader() -> None:
    """The "Load recipe" uploader and the outcome of the last load."""
    st.file_uploader("Load recipe", type=["png", "json"], key=RECIPE, on_change=_apply_recipe,
                     help="A result PNG or settings JSON saved by this studio or the CLI; every setting is restored.")
    message = st.session_state.get(NOTE)
    if message:
        text.say(*message)
