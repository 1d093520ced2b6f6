"""The settings form: widgets <-> :class:`nst.Settings`, presets and recipe loading.

Every setting has a widget whose session-state key is ``KEY[field]``. Values are mirrored into
a plain (non-widget) dict after each run so they survive visits to other pages, where Streamlit
drops the state of widgets it did not draw.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import streamlit as st

from nst import PRESETS, Settings, SettingsError, preset
from nst.images import ImageError, read_recipe
from nst.layers import CONV_LAYERS
from nst.recipe import settings_from_recipe
from nst.settings import (COLOR_MODES, DEFAULT_LR, INITS, MAX_SIZE, MAX_STEPS, MULTISCALE, OPTIMIZERS, POOLINGS,
                          PRECISIONS)
from studio.resources import WEIGHT_SOURCES, accelerator, cpu_name, torchvision_usable

_FIELDS = [f for f in Settings.__dataclass_fields__ if f not in ("betas", "style_layer_weights", "style_blend")]
KEY: dict[str, str] = {name: f"set_{name}" for name in _FIELDS}
BETA1, BETA2, CUSTOM_LAYER_WEIGHTS, PRESET, RECIPE = "set_beta1", "set_beta2", "set_custom_lw", "preset", "recipe_file"
_STORE, _RECIPE_MESSAGE, _REJECTED = "_settings_store", "_recipe_message", "_rejected_settings"
MAX_SEED = 2**53 - 1  # the largest integer a browser number input holds exactly

LABELS = {
    "lbfgs": "L-BFGS", "adam": "Adam",
    "content": "Content image", "noise": "Noise", "style": "Style image",
    "none": "Off", "luminance": "Luminance only", "histogram": "Match colour histogram",
    "auto": "Auto", "on": "On", "off": "Off",
    "max": "Max", "avg": "Average",
    "bundled": "Bundled VGG19 (Caffe, offline)", "torchvision": "torchvision VGG19 (ImageNet)",
    "fp32": "fp32", "bf16": "bf16", "fp16": "fp16",
    "fast": "fast: L-BFGS, coarse-to-fine (default)", "seed": "seed: the original recipe (Adam 0.01, 1000 steps)",
}


def layer_weight_key(layer: str) -> str:
    return f"set_lw_{layer}"


def blend_key(index: int) -> str:
    return f"set_blend_{index}"


def _log_grid(low: int, high: int) -> list[float]:
    """0, then 1-2-5 steps per decade from 10**low to 10**high."""
    grid = [float(f"{m}e{e}") for e in range(low, high) for m in (1, 2, 5)]
    return [0.0, *grid, float(f"1e{high}")]


LOG_GRIDS = {"content_weight": _log_grid(-3, 3), "style_weight": _log_grid(-8, 0), "tv_weight": _log_grid(-2, 6)}


def format_weight(value: float) -> str:
    """Compact scientific form: 0 (off), 1e-4, 3.3e-5, 1e0."""
    if value == 0:
        return "0 (off)"
    mantissa, exponent = f"{value:.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def default_device() -> str:
    gpu = accelerator()
    return gpu[0] if gpu else "cpu"


def widget_values(settings: Settings, n_blends: int = 0) -> dict[str, Any]:
    """Session-state values that make the form show ``settings``."""
    values = {KEY[name]: getattr(settings, name) for name in _FIELDS}
    values[KEY["content_layers"]] = list(settings.content_layers)
    values[KEY["style_layers"]] = list(settings.style_layers)
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


def write_settings(settings: Settings) -> None:
    """Show ``settings`` in the form (call from a callback or before the widgets are drawn)."""
    for key, value in widget_values(settings, n_blends=_blend_count()).items():
        st.session_state[key] = value
    _store()


def _blend_count() -> int:
    return sum(1 for key in st.session_state if str(key).startswith("set_blend_"))


def _store() -> None:
    st.session_state[_STORE] = {k: v for k, v in st.session_state.items() if str(k).startswith("set_")}


def ensure_state() -> None:
    """Give every widget key a value: the stored one from an earlier page visit, else the defaults."""
    stored = st.session_state.get(_STORE)
    if stored is None:
        stored = widget_values(preset("fast", device=default_device()))
    for key, value in stored.items():
        if key not in st.session_state:
            st.session_state[key] = value
    st.session_state.setdefault(PRESET, "fast")


def remember() -> None:
    """Save the form's values so they survive a visit to another page; call after the widgets."""
    _store()


def settings_from_widgets(n_styles: int) -> Settings:
    """Settings from the form and the blend slider of each of the ``n_styles`` style images.

    Raises SettingsError with the engine's message when the combination is invalid.
    """
    s = st.session_state
    rejected = s.pop(_REJECTED, None)
    if rejected:  # values set behind the widgets' back (see guard_state): refuse this start
        raise SettingsError(rejected)
    # One style needs no blend (its weight is normalised to 1), so a stale or raced slider
    # value cannot refuse the start.
    blend = tuple(float(s.get(blend_key(i), 1.0)) for i in range(n_styles)) if n_styles > 1 else ()
    style_layers = tuple(s[KEY["style_layers"]])
    values = {name: s[KEY[name]] for name in _FIELDS}
    values.update(
        betas=(float(s[BETA1]), float(s[BETA2])),
        content_layers=tuple(s[KEY["content_layers"]]),
        style_layers=style_layers,
        style_layer_weights=tuple(float(s[layer_weight_key(layer)]) for layer in style_layers)
        if s[CUSTOM_LAYER_WEIGHTS] else None,
        style_blend=None if all(b == 1.0 for b in blend) else blend,
    )
    return Settings(**values)


# -- values the widgets cannot show ------------------------------------------------------------
def _whole(low: int, high: int | None) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v and (high is None or v <= high)


def _real(low: float | None = None, high: float | None = None, none: bool = False) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        if v is None:
            return none
        return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (low is None or v >= low) and (high is None or v <= high))
    return ok


def _layers(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(x in CONV_LAYERS for x in v) and len(set(v)) == len(v)


# What each widget can hold. Anything else reached the session state without a widget (a script or
# a crafted request): Streamlit would silently swap it for a default or fail drawing the widget.
_WIDGET_OK: dict[str, Callable[[Any], bool]] = {
    KEY["size"]: _whole(16, MAX_SIZE), KEY["steps"]: _whole(1, MAX_STEPS), KEY["seed"]: _whole(0, MAX_SEED),
    KEY["min_scale"]: _whole(16, MAX_SIZE), KEY["preview_every"]: _whole(1, None),
    KEY["lr"]: _real(none=True), KEY["eps"]: _real(), BETA1: _real(), BETA2: _real(),
    KEY["style_scale"]: _real(0.1, 4.0), KEY["content_weight"]: _real(0.0), KEY["style_weight"]: _real(0.0),
    KEY["tv_weight"]: _real(0.0),
    KEY["optimizer"]: OPTIMIZERS.__contains__, KEY["init"]: INITS.__contains__,
    KEY["preserve_color"]: COLOR_MODES.__contains__, KEY["multiscale"]: MULTISCALE.__contains__,
    KEY["pooling"]: POOLINGS.__contains__, KEY["precision"]: PRECISIONS.__contains__,
    KEY["weights"]: lambda v: isinstance(v, str) and v in WEIGHT_SOURCES,  # never a file path
    KEY["device"]: lambda v: isinstance(v, str) and bool(v),
    KEY["content_layers"]: _layers, KEY["style_layers"]: _layers,
    CUSTOM_LAYER_WEIGHTS: lambda v: isinstance(v, bool),
}


def _widget_ok(key: str, value: Any) -> bool:
    if key.startswith(("set_lw_", "set_blend_")):
        return _real(0.0)(value)
    check = _WIDGET_OK.get(key)
    try:
        return check is None or bool(check(value))
    except TypeError:  # e.g. an unhashable value tested against a tuple of choices
        return False


def _rejection(bad: list[str]) -> str:
    """The engine's message for the raw values, or a plain one where the engine has no objection."""
    s = st.session_state
    raw = {name: s[KEY[name]] for name in _FIELDS if KEY[name] in s}
    try:
        Settings(**raw, betas=(s.get(BETA1, 0.9), s.get(BETA2, 0.999)))
    except SettingsError as exc:
        return str(exc)
    except (TypeError, ValueError):
        pass
    return "Invalid settings: " + "; ".join(f"{key.removeprefix('set_')} cannot be {s[key]!r}" for key in bad)


def guard_state() -> None:
    """Put back the last good value of every widget holding one it cannot show, and keep the
    engine's message: the next Start shows it instead of running (call before the widgets)."""
    s = st.session_state
    bad = [key for key in list(s) if str(key).startswith("set_") and not _widget_ok(str(key), s[key])]
    if not bad:
        return
    s[_REJECTED] = _rejection(bad) + ". The form shows the last valid values again."
    stored = s.get(_STORE) or {}
    defaults = widget_values(preset("fast", device=default_device()))
    for key in bad:
        previous = stored.get(key)
        s[key] = previous if _widget_ok(key, previous) else defaults.get(key, 1.0)


# -- callbacks ---------------------------------------------------------------------------------
def _apply_preset() -> None:
    device = st.session_state.get(KEY["device"], default_device())
    write_settings(preset(st.session_state[PRESET], device=device))


def load_recipe_bytes(data: bytes, name: str) -> Settings:
    """Settings from a PNG or JSON recipe, refusing what the studio must not run.

    Raises ImageError (unreadable file) or SettingsError (invalid or disallowed settings).
    """
    settings = settings_from_recipe(read_recipe(data, name=name))
    if settings.weights not in WEIGHT_SOURCES:
        raise SettingsError(f"{name} uses VGG19 weights from a file path; the studio only runs the bundled"
                            " VGG19 or torchvision's, so this recipe cannot be loaded.")
    if settings.seed > MAX_SEED:
        raise SettingsError(f"{name} has seed {settings.seed}, larger than the studio's limit of {MAX_SEED}.")
    return settings


def _apply_recipe() -> None:
    file = st.session_state.get(RECIPE)
    if file is None:
        return
    try:
        settings = load_recipe_bytes(file.getvalue(), file.name)
    except (ImageError, SettingsError) as exc:
        st.session_state[_RECIPE_MESSAGE] = ("error", str(exc))
        return
    write_settings(settings)
    blends = len(settings.style_blend or ())
    note = f" Upload its {blends} style images in the same order to use its blend weights." if blends > 1 else ""
    st.session_state[_RECIPE_MESSAGE] = ("success", f"Loaded every setting from {file.name}.{note}")


# -- widgets -----------------------------------------------------------------------------------
def _choice(widget: Callable[..., Any], label: str, field: str, options: tuple[str, ...] | list[str],
            help: str, **kwargs: Any) -> None:
    widget(label, options, key=KEY[field], format_func=lambda v: LABELS.get(v, v), help=help, **kwargs)


def _bounded_number(label: str, **kwargs: Any) -> None:
    """A number input whose reset value is empty, not its minimum.

    Streamlit swaps a value outside min..max that reaches it behind the browser's back (a crafted
    request or a script) for the widget's default. With the minimum as default, steps=-5 would
    quietly run 1 step; with no default the value reads as None, which Settings refuses at Start
    with its own message. Clearing the field by hand gives the same message.
    """
    st.number_input(label, value=None, **kwargs)


def _log_slider(label: str, field: str, help: str) -> None:
    current = float(st.session_state[KEY[field]])
    options = sorted(set(LOG_GRIDS[field]) | {current})  # an off-grid recipe value stays exact
    st.select_slider(label, options, key=KEY[field], format_func=format_weight, help=help)


def recipe_loader() -> None:
    """The "Load recipe" uploader and the outcome of the last load."""
    st.file_uploader("Load recipe", type=["png", "json"], key=RECIPE, on_change=_apply_recipe,
                     help="A result PNG or settings JSON saved by this studio or the CLI; every setting is restored.")
    message = st.session_state.get(_RECIPE_MESSAGE)
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])


def device_picker() -> None:
    """GPU/CPU choice naming the detected devices; GPU is disabled when there is none."""
    gpu = accelerator()
    gpu_option = gpu[0] if gpu else "cuda"
    current = st.session_state[KEY["device"]]
    options = [gpu_option, "cpu"] + ([current] if current not in (gpu_option, "cpu") else [])
    names = {gpu_option: f"GPU — {gpu[1]}" if gpu else "GPU — none detected", "cpu": f"CPU — {cpu_name()}"}
    st.radio("Device", options, key=KEY["device"], format_func=lambda v: names.get(v, f"{v} (from recipe)"),
             disabled=gpu is None and current == "cpu",
             help="Where the optimisation runs. A GPU is 10–100× faster than the CPU.")
    if gpu is None:
        st.caption("No CUDA or Apple-silicon GPU was found, so runs use the CPU: keep the output small.")


def settings_form() -> None:
    """Draw every settings widget (call inside the container that should hold them)."""
    ensure_state()
    guard_state()
    st.selectbox("Preset", list(PRESETS), key=PRESET, format_func=lambda v: LABELS.get(v, v),
                 on_change=_apply_preset, help="Sets every setting to a named starting point.")
    recipe_loader()
    device_picker()
    _bounded_number("Output size (px)", min_value=16, max_value=MAX_SIZE, step=32, key=KEY["size"],
                    help="Longer side of the result. Time grows with its square.")
    _bounded_number("Steps", min_value=1, max_value=MAX_STEPS, step=50, key=KEY["steps"],
                    help="Optimiser steps over all scales. L-BFGS needs a few hundred; Adam about 1000.")
    _choice(st.radio, "Optimiser", "optimizer", OPTIMIZERS, horizontal=True,
            help="L-BFGS converges in fewer steps; Adam is the original recipe's choice.")
    default_lr = ", ".join(f"{v:g} for {LABELS[k]}" for k, v in DEFAULT_LR.items())
    st.number_input("Learning rate", value=None, key=KEY["lr"], format="%g", step=0.01,
                    placeholder=f"default ({default_lr})",
                    help="L-BFGS step length or Adam's learning rate on 0–1 pixels. Leave empty for the"
                         " optimiser's default.")
    _log_slider("Content weight α", "content_weight", "How strongly the result keeps the content's layout.")
    _log_slider("Style weight β", "style_weight",
                "How strongly it takes the style's textures. Raise by powers of ten for more style.")
    _log_slider("TV weight γ", "tv_weight", "Total-variation smoothing; removes speckle noise. 0 turns it off.")
    _choice(st.selectbox, "Initialise from", "init", INITS,
            help="The starting image. Content converges fastest; noise gives more varied results.")
    _choice(st.radio, "Colour preservation", "preserve_color", COLOR_MODES,
            help="Keep the content's colours: transfer luminance only, or match the style's colour histogram.")
    _choice(st.radio, "Multi-scale", "multiscale", MULTISCALE, horizontal=True,
            help="Optimise coarse to fine. Auto turns it on for outputs at least twice the coarsest scale.")
    _bounded_number("Seed", min_value=0, max_value=MAX_SEED, step=1, key=KEY["seed"],
                    help="Random seed for noise initialisation; the same seed repeats a run.")
    with st.expander("Advanced"):
        _advanced()
    remember()


def _advanced() -> None:
    st.multiselect("Content layers", CONV_LAYERS, key=KEY["content_layers"],
                   help="VGG19 layers whose activations the result must match (conv4_2 in the paper).")
    st.multiselect("Style layers", CONV_LAYERS, key=KEY["style_layers"],
                   help="Layers whose Gram matrices carry the style; lower layers give finer textures.")
    if st.toggle("Custom style-layer weights", key=CUSTOM_LAYER_WEIGHTS,
                 help="Off: every style layer weighs the same."):
        for layer in st.session_state[KEY["style_layers"]]:
            st.number_input(f"Weight of {layer}", min_value=0.0, step=0.1, format="%g",
                            key=layer_weight_key(layer))
    _bounded_number("Style scale", min_value=0.1, max_value=4.0, step=0.1, format="%g", key=KEY["style_scale"],
                    help="Size of the style image relative to the output: larger gives bigger brush strokes.")
    _bounded_number("Coarsest scale (px)", min_value=16, max_value=MAX_SIZE, step=16, key=KEY["min_scale"],
                    help="Side of the first scale when multi-scale is on.")
    _choice(st.radio, "Pooling", "pooling", POOLINGS, horizontal=True,
            help="Average pooling gives smoother gradients (the paper's suggestion); max is VGG's own.")
    _bounded_number("Preview every N steps", min_value=1, step=1, key=KEY["preview_every"],
                    help="How often the live preview image is refreshed.")
    usable = torchvision_usable()
    current = st.session_state[KEY["weights"]]
    sources = [w for w in WEIGHT_SOURCES if w == "bundled" or usable or w == current]
    _choice(st.radio, "VGG19 weights", "weights", sources,
            help="The bundled Caffe VGG19 is the network of the paper and needs no network access.")
    if not usable:
        st.caption("torchvision's VGG19 is not in the torch hub cache on this server, so it is not offered.")
    _choice(st.selectbox, "Precision", "precision", PRECISIONS,
            help="Auto uses bf16/fp16 convolutions where they are faster; fp32 is exact.")
    st.number_input("Adam β₁", key=BETA1, format="%g", step=0.01, help="Adam only: momentum of the gradient.")
    st.number_input("Adam β₂", key=BETA2, format="%g", step=0.001, help="Adam only: momentum of its square.")
    st.number_input("Adam ε", key=KEY["eps"], format="%g", step=0.01, help="Adam only: the denominator's floor.")
