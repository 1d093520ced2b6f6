"""The settings form's widgets: one per setting, its range and help taken from the setting's rule.

Number inputs carry no browser-side bounds: a value out of range is kept as typed and shown with
its rule's message under the widget, and Start refuses it with the same message (the browser
would otherwise colour the field red and silently keep the previous value).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import streamlit as st

from nst.plan.budget import held_memory
from nst.plan.device import resolve_device
from nst.core.errors import NSTError
from nst.core.vgg_layers import CONV_LAYERS
from nst.plan.schedule import WARM_STARTS
from nst.core.settings import FLOAT, INT, PRESETS, RULES, format_bytes, preset
from studio.views import library
from studio.session import state, text
from studio.views.recipes import recipe_loader
from nst.plan.estimate import estimate_seconds
from studio.session.draft import NO_CONTENT, Draft
from studio.session.sizing import size_notes
from studio.session.resources import accelerator, cpu_name, default_device, measured_step_cost, torchvision_usable
from studio.services.timefmt import duration
from studio.session.state import KEY
from studio.session.uploads import Upload, shown_width
from studio.services.labels import FIELD_LABELS, labelled
from nst.model.fast.fields import FAST_FIELDS

LABELS = {
    "lbfgs": "L-BFGS", "adam": "Adam",
    "content": "Content image", "noise": "Noise", "style": "Style image",
    "none": "Off", "luminance": "Luminance only", "histogram": "Match colour histogram",
    "auto": "Auto", "on": "On", "off": "Off",
    "max": "Max", "avg": "Average",
    "bundled": "Bundled VGG19 (Caffe, offline)", "torchvision": "torchvision VGG19 (ImageNet)",
    "fp32": "fp32", "bf16": "bf16", "fp16": "fp16",
    "fast": "Fast result", "gatys": "Optimise (Gatys)",
}
# Short enough for the sidebar's box at 1280×720 (longer ones were cut); PRESET_HELP says the rest.
PRESET_LABELS = {"fast": "fast (default)", "paper": "paper (Adam, 1000 steps)"}
PRESET_HELP = ("Sets every setting to a named starting point. fast: L-BFGS from the fast result,"
               f" {PRESETS['fast']['steps']} steps at full size. paper: the original recipe (Adam 0.01, 1000 steps).")


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


def help_text(field: str) -> str:
    """The rule's help, with its range where it has one."""
    r = RULES[field]
    bounds = r.bounds() if r.kind in (INT, FLOAT) else ""
    return f"{r.help} Allowed: {bounds}{' ' + r.unit if r.unit and bounds else ''}." if bounds else r.help


def _mark(field: str, found: dict[str, str]) -> None:
    """The rule's message under a widget holding a value that cannot run."""
    if field in found:
        text.say_markdown("markdown", ":red[{}]", labelled(found[field]))


def _number(label: str, field: str, found: dict[str, str], step: float, **kwargs: Any) -> None:
    # value=None: the widget takes its value from the session state and has no default to fall back to.
    st.number_input(label, value=None, step=step, key=KEY[field], help=help_text(field), **kwargs)
    _mark(field, found)


def _choice(widget: Callable[..., Any], label: str, field: str, options: Any, **kwargs: Any) -> None:
    widget(label, options, key=KEY[field], format_func=lambda v: LABELS.get(v, v), help=help_text(field), **kwargs)


def _log_slider(label: str, field: str, found: dict[str, str]) -> None:
    current = st.session_state[KEY[field]]
    options = sorted(set(LOG_GRIDS[field]) | {float(current)})  # an off-grid recipe value stays exact
    st.select_slider(label, options, key=KEY[field], format_func=format_weight, help=help_text(field))
    _mark(field, found)


def _apply_preset() -> None:
    # The device and the painted regions are the user's, not the preset's.
    kept = {name: st.session_state.get(KEY[name]) for name in ("mask", "regions")}
    device = st.session_state.get(KEY["device"], default_device())
    state.write_settings(preset(st.session_state[state.PRESET], device=device, **kept))


def device_picker() -> None:
    """GPU/CPU choice naming the detected devices; GPU is disabled when there is none."""
    gpu = accelerator()
    gpu_option = gpu[0] if gpu else "cuda"
    current = st.session_state[KEY["device"]]
    options = [gpu_option, "cpu"] + ([current] if current not in (gpu_option, "cpu") else [])
    names = {gpu_option: f"GPU — {gpu[1]}" if gpu else "GPU — none detected", "cpu": f"CPU — {cpu_name()}"}
    st.radio(FIELD_LABELS["device"], options, key=KEY["device"],
             format_func=lambda v: names.get(v, f"{v} (from recipe)"),
             disabled=gpu is None and current == "cpu",
             help="Where the optimisation runs. A GPU is 10–100× faster than the CPU.")
    if gpu is None:
        st.caption("No CUDA or Apple-silicon GPU was found, so runs use the CPU: keep the output small.")


# Steps of Quick and Quality. A run from the content goes coarse to fine, where most steps are
# cheap; a run from a picture (the fast result, the studio's default start) runs at the output
# size (nst.plan.schedule.WARM_STARTS), where each step costs the full size's price and far fewer are
# needed: its Quality is the fast preset's step count (docs/method.md, "Scales and warm starts").
RUN_LENGTHS = {"quick": 100, "quality": 300}
WARM_RUN_LENGTHS = {"quick": 20, "quality": PRESETS["fast"]["steps"]}
RUN_LENGTH = "run_length"


def _run_lengths(values: Mapping[str, Any]) -> dict[str, int]:
    return WARM_RUN_LENGTHS if values[KEY["init"]] in WARM_STARTS else RUN_LENGTHS


def _set_run_length() -> None:
    choice, lengths = st.session_state[RUN_LENGTH], _run_lengths(st.session_state)
    if choice in lengths:
        st.session_state[KEY["steps"]] = lengths[choice]


def _run_length(content_size: tuple[int, int], draft: Draft) -> None:
    """Quick or Quality, each with the time it takes on this device for this content (once measured)."""
    values = dict(st.session_state)
    lengths = _run_lengths(values)
    current = next((name for name, steps in lengths.items() if values[KEY["steps"]] == steps), "custom")
    st.session_state[RUN_LENGTH] = current  # follows Steps, which a preset or recipe may change
    cost = measured_step_cost(values[KEY["device"]]) if draft.settings is not None else None

    def label(option: str) -> str:
        if option == "custom":
            return f"Custom ({values[KEY['steps']]} steps)"
        steps = lengths[option]
        name = f"{option.capitalize()} · {steps} steps"
        if cost is None:
            return name
        assert draft.settings is not None  # where there is a cost
        settings = draft.settings.replace(steps=steps)
        return f"{name} · ≈ {duration(estimate_seconds(settings, content_size, cost))} here"

    options = [*lengths, *(["custom"] if current == "custom" else [])]
    st.radio("Run length", options, key=RUN_LENGTH, format_func=label, on_change=_set_run_length,
             help="Quick gives a good first image; Quality goes on refining it. The times are for this"
                  " device and the content's size, measured here once.")


def settings_form(draft: Draft, content_size: tuple[int, int] = NO_CONTENT,
                  style_sizes: Sequence[tuple[int, int]] = ()) -> None:
    """Draw every settings widget but the method (call inside the container that should hold them, after
    state.ensure_state()): ``draft`` is the run they describe (its problems are marked, its plan
    noted); the content's and styles' (width, height) size the time estimates."""
    found = draft.problems
    fast = st.session_state[KEY["method"]] == "fast"
    # Only the controls of the settings the chosen method reads; the others keep their values.
    uses = (lambda field: field in FAST_FIELDS) if fast else (lambda field: True)
    st.selectbox("Preset", list(PRESETS), key=state.PRESET, format_func=lambda v: PRESET_LABELS.get(v, v),
                 on_change=_apply_preset, help=PRESET_HELP)
    recipe_loader()
    device_picker()
    _number(FIELD_LABELS["size"], "size", found, step=32)
    if draft.settings is not None and draft.check is not None:
        size_notes(draft.settings, content_size, style_sizes, draft.check)
    if fast:
        st.slider(FIELD_LABELS["strength"], 0.0, 1.0, step=0.05, key=KEY["strength"], help=help_text("strength"))
        st.caption("The fast method paints in one pass: the optimiser's settings (steps, weights, layers) are"
                   " Optimise's, and Refine's on a fast result. Choose Optimise to see them.")
    elif st.session_state[KEY["init"]] == "fast":  # Optimise paints its start at this strength
        st.slider("Style strength of the fast start", 0.0, 1.0, step=0.05, key=KEY["strength"],
                  help=help_text("strength"))
    if uses("steps"):  # the optimiser's
        _run_length(content_size, draft)
        _number(FIELD_LABELS["steps"], "steps", found, step=50)
        _choice(st.radio, FIELD_LABELS["optimizer"], "optimizer", RULES["optimizer"].choices, horizontal=True)
        _number(FIELD_LABELS["lr"], "lr", found, step=0.01, format="%g", placeholder="default")
        for field in ("content_weight", "style_weight", "tv_weight"):
            _log_slider(FIELD_LABELS[field], field, found)
        _choice(st.selectbox, FIELD_LABELS["init"], "init", RULES["init"].choices)
    _choice(st.radio, FIELD_LABELS["preserve_color"], "preserve_color", RULES["preserve_color"].choices)
    if uses("multiscale"):
        _choice(st.radio, FIELD_LABELS["multiscale"], "multiscale", RULES["multiscale"].choices, horizontal=True)
        _number(FIELD_LABELS["seed"], "seed", found, step=1)
    with st.expander("Advanced"):
        _advanced(found, uses)
    state.remember()


def _advanced(found: dict[str, str], uses: Callable[[str], bool]) -> None:
    if uses("content_layers"):
        _choice(st.multiselect, FIELD_LABELS["content_layers"], "content_layers", CONV_LAYERS)
        _mark("content_layers", found)
        _choice(st.multiselect, FIELD_LABELS["style_layers"], "style_layers", CONV_LAYERS)
        _mark("style_layers", found)
        if st.toggle(FIELD_LABELS["style_layer_weights"], key=state.CUSTOM_LAYER_WEIGHTS,
                     help="Off: every style layer weighs the same."):
            for layer in st.session_state[KEY["style_layers"]]:
                st.number_input(f"Weight of {layer}", min_value=0.0, step=0.1, format="%g",
                                key=state.layer_weight_key(layer))
            _mark("style_layer_weights", found)
        _number(FIELD_LABELS["style_scale"], "style_scale", found, step=0.1, format="%g")
    blur = RULES["region_blur"]
    st.slider(FIELD_LABELS["region_blur"], float(blur.low), float(blur.high), step=0.005, format="%.3f",
              key=KEY["region_blur"], help=help_text("region_blur") + " Used when regions are painted.")
    if uses("max_memory"):
        _memory_budget()
    if not uses("min_scale"):
        return
    _number(FIELD_LABELS["min_scale"], "min_scale", found, step=16)
    _choice(st.radio, FIELD_LABELS["pooling"], "pooling", RULES["pooling"].choices, horizontal=True)
    _number(FIELD_LABELS["preview_every"], "preview_every", found, step=1)
    usable = torchvision_usable()
    current = st.session_state[KEY["weights"]]
    sources = [w for w in state.WEIGHT_SOURCES if w == "bundled" or usable or w == current]
    _choice(st.radio, FIELD_LABELS["weights"], "weights", sources)
    if not usable:
        st.caption("torchvision's VGG19 is not in the torch hub cache on this server, so it is not offered.")
    _choice(st.selectbox, FIELD_LABELS["precision"], "precision", RULES["precision"].choices)
    st.number_input("Adam β₁", key=state.BETA1, format="%g", step=0.01, help="Adam only: momentum of the gradient.")
    st.number_input("Adam β₂", key=state.BETA2, format="%g", step=0.001, help="Adam only: momentum of its square.")
    _mark("betas", found)
    _number(FIELD_LABELS["eps"], "eps", found, step=0.01, format="%g")


MEMORY_CHOICES = tuple(round(g * 2**30) for g in (0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64))


def _memory_budget() -> None:
    """The run's memory budget: auto (a share of the free memory) or a size; a recipe's value stays exact.
    On the CPU the budget bounds the whole server process, so only sizes above what it holds now are
    offered (a recipe's own value stays, and the size note says if it cannot be met)."""
    current = st.session_state[KEY["max_memory"]]
    try:
        held = held_memory(resolve_device(st.session_state.get(KEY["device"], "cpu")))
    except NSTError:  # a recipe's device this machine lacks: said where the device is chosen
        held = 0
    choices = {choice for choice in MEMORY_CHOICES if choice > held}
    options = [None, *sorted(choices | ({current} if current is not None else set()))]
    st.selectbox(FIELD_LABELS["max_memory"], options, key=KEY["max_memory"], help=help_text("max_memory"),
                 format_func=lambda v: "Auto" if v is None else f"{format_bytes(v)}B")


def blend_sliders(styles: list[Upload], builtins: tuple[int, ...] = ()) -> None:
    """A thumbnail per style source (the style images, then the built-in styles), and a blend weight
    for each when there are several."""
    sources = [(u.name, u.thumb) for u in styles]
    if builtins:
        swatches = library.swatches()
        sources += [(library.builtin_name(i), swatches[i]) for i in builtins]
    for index, (name, picture) in enumerate(sources):
        thumb, weight = st.columns([1, 2], vertical_alignment="center")
        thumb.image(picture, width=shown_width(picture, 72))
        if len(sources) > 1:  # a lone style's weight would be normalised to 1 anyway
            key = state.blend_key(index)
            st.session_state.setdefault(key, 1.0)
            weight.slider(text.markdown("Blend weight · {}", name), 0.0, max(1.0, float(st.session_state[key])),
                          step=0.05, key=key,
                          help="Share of this style in the mix; weights are normalised to sum to 1.")
        else:
            text.say("caption", name, where=weight)
    state.remember()
