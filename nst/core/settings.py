"""Validated settings for a style-transfer run, and presets.

Every field carries its :class:`Rule` (type, bounds or choices, unit, help): the one source from
which validation (:meth:`Settings.problems`), the CLI's flags (:mod:`nst.cli.main`), the studio's
widget ranges and help, and the reading of JSON recipes all derive.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from nst.core import masks
from nst.core.errors import SettingsError
from nst.core.vgg_layers import CONV_LAYERS

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("conv4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

METHODS = ("gatys", "fast")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style", "fast", "image")
COLOR_MODES = ("none", "luminance", "histogram")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MULTISCALE = ("auto", "on", "off")

DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
MAX_SIZE = 4096
MAX_STEPS = 100_000
MAX_SEED = 2**63 - 1
BUILTIN_STYLES = 26  # styles of the fast method's 26-style network (Dumoulin et al.), numbered 0-25
MIN_MEMORY = 16 * 2**20

# Steps of a "continue at 2×" run (see :func:`continued`), at the new size only. bench.print_size's
# schedule section found 5-20 steps there well short of 60 (style loss 2.5-6× higher;
# docs/benchmarks.md, "Print sizes"), so it takes 50, about the default schedule's share of the top scale.
CONTINUE_STEPS = 50

# Value kinds a Rule checks: a whole number, a real number, one of ``choices``, free text, a list
# of VGG19 layer names, a list of real numbers, a list of distinct whole numbers, a region mask (base64
# PNG), a list of regions ('COLOUR=TARGET', see nst.core.masks) or a memory size in bytes (written 3G, 512M).
INT, FLOAT, CHOICE, TEXT, LAYERS, FLOATS, INTS = "int", "float", "choice", "text", "layers", "floats", "ints"
MASK, REGIONS, BYTES = "mask", "regions", "bytes"
BYTE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def parse_bytes(text: str) -> int:
    """'3G' -> 3·2³⁰, '1.5g' -> 1.5·2³⁰, '512M', '64K', '1000000' (K, M, G are powers of 1024; a
    trailing B is allowed). ValueError for anything else."""
    body = text.strip().upper().removesuffix("B")
    unit = body[-1:] if body[-1:] in BYTE_UNITS else ""
    number = float(body[: len(body) - len(unit)])  # ValueError for text that is not a number
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"not a memory size: {text!r}")
    return round(number * BYTE_UNITS[unit])


def format_bytes(count: float) -> str:
    """A byte count in the largest unit that keeps it at least 1: 3221225472 -> '3G', 1.5·2²⁰ -> '1.5M'."""
    for unit in ("G", "M", "K"):
        if count >= BYTE_UNITS[unit]:
            return f"{count / BYTE_UNITS[unit]:.3g}{unit}"
    return f"{count:g}"


@dataclass(frozen=True)
class Rule:
    """What one setting may hold, and how it is explained.

    Numbers lie in [low, high] (an open end with ``above``/``below``); a list of numbers applies
    the bounds to each item, and ``length`` fixes its length. ``optional`` admits None.
    """

    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    above: bool = False  # strictly greater than ``low``
    below: bool = False  # strictly less than ``high``
    choices: tuple[str, ...] = ()
    unit: str = ""
    length: int | None = None
    optional: bool = False

    def bounds(self) -> str:
        """The allowed range in words, e.g. 'from 16 to 4096', '>= 0', 'in [0, 1)', '>= 16M'."""
        shown = format_bytes if self.kind == BYTES else _num
        low, high = (None if v is None else shown(v) for v in (self.low, self.high))
        if self.low is not None and self.high is not None:
            if self.above or self.below:
                return f"in {'(' if self.above else '['}{low}, {high}{')' if self.below else ']'}"
            return f"from {low} to {high}"
        if self.low is not None:
            return f"{'>' if self.above else '>='} {low}"
        if self.high is not None:
            return f"{'<' if self.below else '<='} {high}"
        return ""

    def describe(self) -> str:
        """What a valid value is, as the end of 'NAME must be …'."""
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices)
        if self.kind == TEXT:
            return "a non-empty text"
        if self.kind == LAYERS:
            return "a list of distinct VGG19 layer names (conv1_1 … conv5_4)"
        if self.kind == MASK:
            return f"a PNG in base64 of at most {masks.MAX_MASK_SIDE} pixels a side"
        if self.kind == REGIONS:
            return (f"a list of 1 to {masks.MAX_REGIONS} items COLOUR=N (style image N, from 1) or COLOUR=photo,"
                    " each COLOUR a distinct #rrggbb")
        if self.kind == BYTES:
            return f"a memory size such as 3G or 512M (K, M, G: powers of 1024), {self.bounds()}"
        unit = f" of {self.unit}" if self.unit else ""
        noun = f"a whole number{unit}" if self.kind == INT else "a number"
        if self.kind == FLOAT and self.low == 0 and self.above and self.high is None:
            noun, range_ = "a positive number", ""
        elif self.kind == FLOAT and self.high is None:
            noun, range_ = "a finite number", self.bounds()
        else:
            range_ = self.bounds()
        if self.kind == FLOATS:
            count = f"{self.length} numbers" if self.length else "a list of numbers"
            return f"{count}{' ' + range_ if range_ else ''}"
        if self.kind == INTS:
            return f"a list of distinct whole numbers{' ' + range_ if range_ else ''}"
        return f"{noun}{' ' + range_ if range_ else ''}"

    def accepts(self, value: Any) -> bool:
        """True when ``value`` is of this rule's kind and within its bounds."""
        if value is None:
            return self.optional
        if self.kind == CHOICE:
            return isinstance(value, str) and value in self.choices
        if self.kind == TEXT:
            return isinstance(value, str) and bool(value)
        if self.kind == LAYERS:
            return (isinstance(value, (list, tuple)) and all(isinstance(v, str) and v in CONV_LAYERS for v in value)
                    and len(set(value)) == len(value))
        if self.kind == FLOATS:
            return (isinstance(value, (list, tuple)) and (self.length is None or len(value) == self.length)
                    and all(self._in_range(v, whole=False) for v in value))
        if self.kind == MASK:
            return masks.mask_valid(value)
        if self.kind == REGIONS:
            return masks.regions_valid(value)
        if self.kind == INTS:
            return (isinstance(value, (list, tuple)) and all(self._in_range(v, whole=True) for v in value)
                    and len(set(value)) == len(value))
        return self._in_range(value, whole=self.kind in (INT, BYTES))

    def _in_range(self, value: Any, whole: bool) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below else value <= self.high)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def setting(default: Any, kind: str, help: str, **rule: Any) -> Any:
    """A Settings field with its rule in the field's metadata."""
    return field(default=default, metadata={"rule": Rule(kind, help, **rule)})


def rule(name: str) -> Rule:
    """The rule of Settings field ``name``."""
    return RULES[name]


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run. Build with keywords; invalid values raise SettingsError.

    Weights: ``content_weight`` (α), ``style_weight`` (β) and ``tv_weight`` (γ) multiply the
    normalised loss terms documented in :mod:`nst.model.losses`.
    """

    size: int = setting(512, INT, "Longer side of the output. Time grows with its square.",
                        low=16, high=MAX_SIZE, unit="pixels")
    method: str = setting("gatys", CHOICE, "gatys optimises the image against VGG19 (the best results, seconds to"
                          " minutes); fast paints it in one pass of a trained network (about a second), and the"
                          " optimiser's settings do not apply.", choices=METHODS)
    strength: float = setting(1.0, FLOAT, "Fast method and fast start: 0 keeps the content's own style, 1 takes the"
                              " style's; values between mix the two.", low=0, high=1)
    steps: int = setting(300, INT, "Optimiser steps over all scales. L-BFGS needs a few hundred; Adam about 1000.",
                         low=1, high=MAX_STEPS)
    optimizer: str = setting("lbfgs", CHOICE, "L-BFGS converges in fewer steps; Adam is the original recipe's"
                             " choice.", choices=OPTIMIZERS)
    lr: float | None = setting(None, FLOAT, "L-BFGS step length or Adam's learning rate on 0–1 pixels; empty:"
                               " the optimiser's default (" + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items())
                               + ").", low=0, above=True, optional=True)
    betas: tuple[float, float] = setting((0.9, 0.999), FLOATS, "Adam only: momentum of the gradient and of its"
                                         " square.", low=0, high=1, below=True, length=2)
    eps: float = setting(1e-8, FLOAT, "Adam only: the denominator's floor.", low=0, above=True)
    content_weight: float = setting(1.0, FLOAT, "α: how strongly the result keeps the content's layout.", low=0)
    style_weight: float = setting(3e-4, FLOAT, "β: how strongly it takes the style's textures. Raise by powers of"
                                  " ten for more style.", low=0)
    tv_weight: float = setting(0.0, FLOAT, "γ: total-variation smoothing; removes speckle noise. 0 turns it off.",
                               low=0)
    content_layers: tuple[str, ...] = setting(DEFAULT_CONTENT_LAYERS, LAYERS, "VGG19 layers whose activations the"
                                              " result must match (conv4_2 in the paper).")
    style_layers: tuple[str, ...] = setting(DEFAULT_STYLE_LAYERS, LAYERS, "Layers whose Gram matrices carry the"
                                            " style; lower layers give finer textures.")
    style_layer_weights: tuple[float, ...] | None = setting(None, FLOATS, "One weight per style layer; empty:"
                                                            " equal weights summing to 1.", low=0, optional=True)
    style_blend: tuple[float, ...] | None = setting(None, FLOATS, "Blend weights, one per style image and then one"
                                                    " per built-in style (normalised to sum to 1); empty: equal."
                                                    " Regions name one style each and ignore it.", low=0,
                                                    optional=True)
    builtin_styles: tuple[int, ...] = setting((), INTS, "Built-in styles of the fast method's 26-style network"
                                              f" (numbers 0-{BUILTIN_STYLES - 1}), used like style images after"
                                              " any uploaded ones.", low=0, high=BUILTIN_STYLES - 1)
    style_scale: float = setting(1.0, FLOAT, "Size of the style image relative to the output: larger gives bigger"
                                 " brush strokes.", low=0.1, high=4.0)
    mask: str | None = setting(None, MASK, "Regions: a picture of the content's size whose colours mark regions"
                               " (antialiased edges are fine); stored as a small PNG, base64.", optional=True)
    regions: tuple[str, ...] | None = setting(None, REGIONS, "What each mask colour gets: COLOUR=N paints its"
                                              " region in style image N (from 1), COLOUR=photo keeps the photo"
                                              " there; COLOUR is #rrggbb.", optional=True)
    region_blur: float = setting(0.02, FLOAT, "Softness of region edges: the blur's width as a share of the"
                                 " image's longer side; 0 gives hard edges.", low=0, high=0.25)
    init: str = setting("content", CHOICE, "The starting image. Content converges fast; fast starts from the fast"
                        " method's result (faster still); noise gives more varied results; image refines a"
                        " given start image, such as a result to continue at 2×.", choices=INITS)
    preserve_color: str = setting("none", CHOICE, "Keep the content's colours: transfer luminance only, or match"
                                  " the style's colour histogram.", choices=COLOR_MODES)
    multiscale: str = setting("auto", CHOICE, "Optimise coarse to fine. Auto turns it on for outputs at least twice"
                              " the coarsest scale, unless the run starts from a picture (init fast or"
                              " image), which already has the large shapes: that runs at the output size up to"
                              " 512 px, and a larger one settles at 512 px, then goes up ×2 a scale with a few"
                              " steps at each, so a print keeps the preview's look.",
                              choices=MULTISCALE)
    min_scale: int = setting(128, INT, "Side of the first scale when multi-scale is on.", low=16, high=MAX_SIZE,
                             unit="pixels")
    pooling: str = setting("max", CHOICE, "VGG pooling. Average gives smoother gradients (the paper's"
                           " suggestion); max is VGG's own.", choices=POOLINGS)
    weights: str = setting("bundled", TEXT, "VGG19 weights: bundled (the Caffe network of the paper, offline),"
                           " torchvision, or a path to a torchvision-layout state dict.")
    device: str = setting("auto", TEXT, "Where the run goes: auto, cpu, cuda, cuda:N or mps.")
    precision: str = setting("auto", CHOICE, "Convolution precision. Auto uses bf16/fp16 where they are faster;"
                             " fp32 is exact.", choices=PRECISIONS)
    seed: int = setting(0, INT, "Random seed for noise initialisation; the same seed repeats a run bit for bit on"
                        " the CPU.", low=0, high=MAX_SEED)
    preview_every: int = setting(10, INT, "Return the current image every N steps.", low=1, high=MAX_STEPS)
    max_memory: int | None = setting(None, BYTES, "Memory the whole process may hold during a run on the CPU"
                                     " (its peak resident memory, what top shows or a container limit"
                                     " caps: what the process already holds counts); on a GPU, the run's"
                                     " share of the GPU's memory. A scale that would need more runs in"
                                     " tiles (the same loss, about twice the time) and L-BFGS keeps fewer"
                                     " steps' history. Empty: what the process holds plus half the free"
                                     " memory on the CPU, 80 % on a GPU.",
                                     low=MIN_MEMORY, optional=True)

    def __post_init__(self) -> None:
        # Normalise list-likes (from JSON or widgets) to tuples so the dataclass stays hashable.
        for name in _LIST_FIELDS:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.regions, tuple):  # one spelling per region, so equal settings compare equal
            object.__setattr__(self, "regions", tuple(v.lower() if isinstance(v, str) else v for v in self.regions))
        problems = self.problems(dataclasses.asdict(self))
        if problems:
            raise SettingsError(problems)

    @classmethod
    def problems(cls, values: Mapping[str, Any]) -> dict[str, str]:
        """Every reason ``values`` (field -> value; missing fields take their defaults) cannot make
        Settings, as {field: message}, in field order; empty when they can."""
        v = {name: values.get(name, default) for name, default in DEFAULTS.items()}
        found = rule_problems(RULES, values, v)
        _cross_field_problems(v, found)
        return found

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimiser's default: 1 for L-BFGS, 0.02 for Adam on the [0, 1] image."""
        if self.lr is not None:
            return self.lr
        return DEFAULT_LR[self.optimizer]

    @property
    def layer_weights(self) -> tuple[float, ...]:
        """w_l per style layer: ``style_layer_weights``, or equal weights summing to 1."""
        if self.style_layer_weights:
            return tuple(self.style_layer_weights)
        n = len(self.style_layers)
        return (1.0 / n,) * n if n else ()

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def refine(self) -> "Settings":
        """The settings that refine a fast result: the same run, optimised from that result."""
        return self.replace(method="gatys", init="fast")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        """Build from a (possibly untrusted) mapping such as a recipe's JSON; unknown keys and values
        of the wrong kind are errors, reported together."""
        if not isinstance(data, Mapping):
            raise SettingsError("expected a JSON object of settings")
        values = {name: _from_json(name, value) for name, value in data.items()}
        problems = cls.problems(values)
        if problems:
            raise SettingsError(problems)
        return cls(**values)


def rule_problems(rules: Mapping[str, Rule], given: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, str]:
    """{field: message} for each name in ``given`` that has no rule and each of ``values`` (every
    field, defaults filled in) that its rule refuses."""
    found = {name: f"unknown setting {name!r}" for name in given if name not in rules}
    for name, r in rules.items():
        if not r.accepts(values[name]):
            found[name] = f"{name} must be {r.describe()}, got {_shown(values[name])}"
    return found


def _shown(value: Any) -> str:
    """A value as a message shows it: a mask's base64 would be thousands of characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"… ({len(text)} characters)"


RULES: dict[str, Rule] = {f.name: f.metadata["rule"] for f in fields(Settings)}
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}
_LIST_FIELDS = tuple(name for name, r in RULES.items() if r.kind in (LAYERS, FLOATS, INTS, REGIONS))


def _from_json(name: str, value: Any) -> Any:
    """JSON's lists become tuples and its whole numbers count as reals where a real is expected."""
    r = RULES.get(name)
    if r is None:
        return value
    if r.kind in (LAYERS, FLOATS, INTS, REGIONS) and isinstance(value, list):
        return tuple(value)
    if r.kind == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _cross_field_problems(v: Mapping[str, Any], found: dict[str, str]) -> None:
    """Rules that tie several fields together; each is judged only where its fields are valid."""
    def ok(*names: str) -> bool:
        return not any(name in found for name in names)

    if ok("content_weight", "style_weight") and v["content_weight"] == 0 and v["style_weight"] == 0:
        found["style_weight"] = "content_weight and style_weight cannot both be 0"
    for kind in ("content", "style"):
        layers, weight = f"{kind}_layers", f"{kind}_weight"
        if ok(layers, weight) and not v[layers] and v[weight] > 0:
            found[layers] = f"{layers} is empty but {weight} > 0"
    lw = v["style_layer_weights"]
    if ok("style_layer_weights", "style_layers", "style_weight") and lw is not None:
        if len(lw) != len(v["style_layers"]):
            found["style_layer_weights"] = (f"style_layer_weights needs {len(v['style_layers'])} values (one per"
                                            f" style layer), got {len(lw)}")
        elif lw and sum(lw) == 0 and v["style_weight"] > 0:
            found["style_layer_weights"] = "style_layer_weights are all 0"
    blend = v["style_blend"]
    if ok("style_blend") and blend is not None:
        if not blend:
            found["style_blend"] = "style_blend must list at least one weight"
        elif sum(blend) == 0:
            found["style_blend"] = "style_blend weights are all 0"
    if ok("mask", "regions"):
        _region_problems(v["mask"], v["regions"], found)


def _region_problems(mask: str | None, regions: tuple[str, ...] | None, found: dict[str, str]) -> None:
    """A mask and its regions come together, and every colour of the mask is a region's."""
    if mask is None and regions is not None:
        found["mask"] = "regions need a mask: the picture whose colours they name"
    elif mask is not None and regions is None:
        found["regions"] = "a mask needs regions: say what each of its colours gets (COLOUR=N or COLOUR=photo)"
    elif mask is not None and regions is not None:
        try:
            masks.mask_labels(mask, regions)
        except SettingsError as exc:
            found.update(exc.problems)


# Named starting points. "paper" is the original recipe this project started from: Adam with
# lr 0.01, beta1 0.99, eps 0.1 for 1000 steps and a light touch of style (its content:style
# ratio was 10:1 in its own normalisation; here that is a tenth of our default style weight).
PRESETS: dict[str, dict[str, Any]] = {
    # L-BFGS from the fast method's result, at the output size up to nst.plan.schedule.WORKING_SIZE (a
    # print settles there, then goes up with a few steps a scale: nst.plan.schedule), for 60 steps: at 512 px on this project's 2-core CPU that took 46–47 s against the default 300
    # steps' 72–77 s, and ended with a lower total loss on golden_gate × shipwreck (lower on both
    # terms) and on tubingen × starry_night (docs/benchmarks.md, "A warm start at the output size").
    "fast": {"init": "fast", "steps": 60},
    "paper": {
        "optimizer": "adam",
        "lr": 0.01,
        "betas": (0.99, 0.999),
        "eps": 0.1,
        "steps": 1000,
        "style_weight": DEFAULTS["style_weight"] / 10,
        "multiscale": "off",
    },
}
# Old names still accepted (recipes and scripts written before the rename).
PRESET_ALIASES = {"seed": "paper"}


def preset(name: str, **overrides: Any) -> Settings:
    """Settings for a named preset (or an old alias of one), with any fields overridden."""
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise SettingsError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return Settings(**{**PRESETS[name], **overrides})


def continued(settings: Settings, factor: float = 2.0, steps: int = CONTINUE_STEPS) -> Settings:
    """Settings that refine a finished result of ``settings`` at ``factor`` times its size: the run
    starts from that result, upscaled (``init="image"``; pass it to ``stylize(start=...)``), at the
    new size only, for a few steps. SettingsError when the new size is over MAX_SIZE."""
    # A fast result is refined by the optimiser: continuing it re-optimises, as Refine does.
    return settings.replace(method="gatys", size=round(settings.size * factor), init="image", multiscale="off",
                            steps=steps)


def blend_weights(settings: Settings, uploaded: int) -> list[float]:
    """The weights of the ``uploaded`` style images and then of the built-in styles, summing to 1:
    ``style_blend`` normalised, or equal weights."""
    blend = list(settings.style_blend) if settings.style_blend is not None else \
        [1.0] * (uploaded + len(settings.builtin_styles))
    total = sum(blend) or 1.0
    return [weight / total for weight in blend]


__all__ = ["Settings", "SettingsError", "Rule", "RULES", "DEFAULTS", "PRESETS", "PRESET_ALIASES", "preset", "rule",
           "continued", "parse_bytes", "format_bytes", "blend_weights"]
