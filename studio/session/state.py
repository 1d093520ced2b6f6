"""The settings form's state: widget keys <-> :class:`nst.Settings`, and its life in the session.

The mapping (:func:`widget_values`, :func:`settings_from_widgets`, :func:`problems`) is pure: it
reads any mapping of widget values, so it is tested without Streamlit. Bounds and choices come
from ``nst.core.settings.RULES``; the only rules kept here are the studio's own (:data:`WIDGET_RULES`).

``mask`` and ``regions`` have keys (``set_mask``, ``set_regions``) but no widget: the regions
editor (:mod:`studio.views.region_editor`) sets them from the painting, or a loaded recipe does.

Values are mirrored into a plain (non-widget) dict after each run so they survive visits to
other pages, where Streamlit drops the state of widgets it did not draw.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import streamlit as st

from nst.model.weights import NAMED_SOURCES
from nst.core.errors import SettingsError
from nst.core.vgg_layers import CONV_LAYERS
from nst.core.settings import BYTES, CHOICE, FLOAT, FLOATS, INT, INTS, LAYERS, MASK, REGIONS, RULES, Settings, preset

# Composite fields have several widgets each (see BETA1, layer_weight_key, blend_key).
FIELDS = [name for name, r in RULES.items() if r.kind != FLOATS]
KEY: dict[str, str] = {name: f"set_{name}" for name in FIELDS}
BETA1, BETA2, CUSTOM_LAYER_WEIGHTS, PRESET = "set_beta1", "set_beta2", "set_custom_lw", "preset"
_STORE, REJECTED = "_settings_store", "_rejected_settings"

# The studio's own rules, on top of the engine's. A browser number input holds integers exactly
# only up to 2**53 - 1; the studio runs the bundled or torchvision VGG19, never a file path.
BROWSER_MAX_SEED = 2**53 - 1
WEIGHT_SOURCES = NAMED_SOURCES  # never a path: a recipe must not make the server read its files
WIDGET_RULES = {
    "seed": (lambda v: not isinstance(v, int) or v <= BROWSER_MAX_SEED, f"seed must be at most {BROWSER_MAX_SEED} in the studio"),
    "weights": (lambda v: v in WEIGHT_SOURCES, "weights cannot be {value!r}: the studio runs the bundled VGG19"
                " or torchvision's, never a file path"),
}


# Fields drawn as sliders: a slider cannot hold a value outside its range, so such a value is not shown.
SLIDERS = ("region_blur",)


def layer_weight_key(layer: str) -> str:
    return f"set_lw_{layer}"


def blend_key(index: int) -> str:
    return f"set_blend_{index}"


def widget_values(settings: Settings, n_blends: int = 0) -> dict[str, Any]:
    """Session-state values that make the form show ``settings``."""
    values = {KEY[name]: getattr(settings, name) for name in FIELDS}
    for name in FIELDS:  # multiselects hold lists
        if RULES[name].kind in (LAYERS, INTS):
            values[KEY[name]] = list(getattr(settings, name))
    values[BETA1], values[BETA2] = settings.betas
    values[CUSTOM_LAYER_WEIGHTS] = settings.style_layer_weights is not None
    for layer in CONV_LAYERS:
        values[layer_weight_key(layer)] = 1.0
    for layer, weight in zip(settings.style_layers, settings.style_layer_weights or ()):
        values[layer_weight_key(layer)] = weight
    blends = settings.style_blend or ()
    for index in range(max(n_blends, len(blends))):
        values[blend_key(index)] = blends[index] if index < len(blends) else 1.0
    return values


def raw_settings(values: Mapping[str, Any], n_styles: int) -> dict[str, Any]:
    """The Settings fields the widget ``values`` stand for, unchecked."""
    # One style needs no blend (its weight is normalised to 1), so a stale or raced slider
    # value cannot refuse the start.
    blend = tuple(values.get(blend_key(i), 1.0) for i in range(n_styles)) if n_styles > 1 else ()
    style_layers = values.get(KEY["style_layers"], ())
    raw = {name: values[KEY[name]] for name in FIELDS if KEY[name] in values}
    raw.update(
        betas=(values.get(BETA1), values.get(BETA2)),
        content_layers=_tuple(values.get(KEY["content_layers"], ())),
        style_layers=_tuple(style_layers),
        style_layer_weights=tuple(values.get(layer_weight_key(layer), 1.0) for layer in style_layers)
        if values.get(CUSTOM_LAYER_WEIGHTS) and isinstance(style_layers, (list, tuple)) else None,
        style_blend=None if all(b == 1.0 for b in blend) else blend,
    )
    return raw


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def problems(values: Mapping[str, Any], n_styles: int = 0) -> dict[str, str]:
    """{field: message} for every widget value that cannot run: the engine's rules, then the studio's."""
    raw = raw_settings(values, n_styles)
    found = Settings.problems(raw)
    for name, (ok, message) in WIDGET_RULES.items():
        if name not in found and name in raw and not ok(raw[name]):
            found[name] = message.format(value=raw[name])
    return found


def settings_from_widgets(values: Mapping[str, Any], n_styles: int) -> Settings:
    """Settings from the form and the blend slider of each of the ``n_styles`` style images;
    SettingsError with every problem when they cannot run."""
    found = problems(values, n_styles)
    if found:
        raise SettingsError(found)
    return Settings(**raw_settings(values, n_styles))


def showable(key: str, value: Any) -> bool:
    """Whether the widget behind ``key`` can display ``value`` (Streamlit would otherwise swap in a
    default, or fail drawing it). Out-of-range numbers are shown, and refused by :func:`problems`."""
    if key.startswith(("set_lw_", "set_blend_")):
        return _real(value) and value >= 0
    if key in (BETA1, BETA2):
        return _real(value)
    if key == CUSTOM_LAYER_WEIGHTS:
        return isinstance(value, bool)
    name = key.removeprefix("set_")
    r = RULES.get(name)
    if r is None or key != KEY.get(name):
        return True
    if value is None:
        return r.optional
    if name in WIDGET_RULES and not WIDGET_RULES[name][0](value):
        return False
    if r.kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if r.kind == FLOAT:
        return r.accepts(value) if name in SLIDERS else _real(value)
    if r.kind in (CHOICE, LAYERS, INTS, MASK, REGIONS, BYTES):
        return r.accepts(value)
    return isinstance(value, str) and bool(value)


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- the session -------------------------------------------------------------------------------
def default_values() -> dict[str, Any]:
    from studio.session.resources import default_device  # late: resources loads torch's device probes

    return widget_values(preset("fast", device=default_device()))


def ensure_state() -> None:
    """Give every widget key a value: the stored one from an earlier page visit, else the defaults.
    Then put back a good value where one cannot be shown (see :func:`guard_state`)."""
    stored = {**default_values(), **st.session_state.get(_STORE, {})}
    for key, value in stored.items():
        if key not in st.session_state:
            st.session_state[key] = value
    st.session_state.setdefault(PRESET, "fast")
    guard_state()


def remember() -> None:
    """Save the form's values so they survive a visit to another page; call after the widgets."""
    # Merged, not replaced: a widget Streamlit has already dropped (another page was shown) keeps
    # the value it had.
    st.session_state.setdefault(_STORE, {}).update(
        {k: v for k, v in st.session_state.items() if str(k).startswith("set_")})


def write_settings(settings: Settings) -> None:
    """Show ``settings`` in the form (call from a callback or before the widgets are drawn)."""
    n_blends = sum(1 for key in st.session_state if str(key).startswith("set_blend_"))
    for key, value in widget_values(settings, n_blends=n_blends).items():
        st.session_state[key] = value
    remember()


def guard_state() -> None:
    """Put back the last good value of every widget holding one it cannot show, and keep the
    reason: the next Start shows it instead of running."""
    s = st.session_state
    bad = [key for key in list(s) if str(key).startswith("set_") and not showable(str(key), s[key])]
    if not bad:
        return
    found = problems(s)
    messages = [found.get(key.removeprefix("set_"), f"{key.removeprefix('set_')} cannot be {s[key]!r}") for key in bad]
    s[REJECTED] = SettingsError.PREFIX + "; ".join(dict.fromkeys(messages)) + ". The form shows the last valid values again."
    stored = s.get(_STORE) or {}
    defaults = default_values()
    for key in bad:
        previous = stored.get(key)
        s[key] = previous if showable(key, previous) else defaults.get(key, 1.0)


def session_settings(n_styles: int) -> Settings:
    """The settings the form shows, for Start; SettingsError with the message to show otherwise
    (including a value that was refused by :func:`guard_state` since the last Start)."""
    rejected = st.session_state.pop(REJECTED, None)
    if rejected:
        raise SettingsError(rejected.removeprefix(SettingsError.PREFIX))
    return settings_from_widgets(st.session_state, n_styles)


_KEPT_WIDGETS = "_kept_widgets"


def restore_widgets(*keys: str) -> None:
    """Give back the values these widgets had when their page was last drawn (call before them):
    Streamlit forgets a widget's state when its page is left."""
    kept = st.session_state.get(_KEPT_WIDGETS, {})
    for key in keys:
        if key not in st.session_state and key in kept:
            st.session_state[key] = kept[key]


def keep_widgets(*keys: str) -> None:
    """Remember these widgets' values for :func:`restore_widgets` (call after them)."""
    kept = st.session_state.setdefault(_KEPT_WIDGETS, {})
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})


def widget_value(key: str, default: Any = None) -> Any:
    """A widget's value, or the one kept when it was last drawn (it may not be drawn on this run)."""
    if key in st.session_state:
        return st.session_state[key]
    return st.session_state.get(_KEPT_WIDGETS, {}).get(key, default)
