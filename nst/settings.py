"""Validated settings for a style-transfer run, presets, and their JSON form (the "recipe")."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

from nst.layers import CONV_LAYERS

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("conv4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
COLOR_MODES = ("none", "luminance", "histogram")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MULTISCALE = ("auto", "on", "off")

DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
MAX_SIZE = 4096
MAX_STEPS = 100_000


class SettingsError(ValueError):
    """One or more settings are impossible; the message lists every problem."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run. Build with keywords; invalid values raise SettingsError.

    Weights: ``content_weight`` (α), ``style_weight`` (β) and ``tv_weight`` (γ) multiply the
    normalised loss terms documented in :mod:`nst.losses`.
    """

    size: int = 512  # max side of the output, px
    steps: int = 300  # total optimiser steps over all scales
    optimizer: str = "lbfgs"
    lr: float | None = None  # L-BFGS step length or Adam learning rate; None: the optimiser's default
    betas: tuple[float, float] = (0.9, 0.999)  # Adam only
    eps: float = 1e-8  # Adam only
    content_weight: float = 1.0
    style_weight: float = 3e-4
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal weights summing to 1
    style_blend: tuple[float, ...] | None = None  # one per style image; None: equal
    style_scale: float = 1.0  # style image max side relative to the output's
    init: str = "content"
    preserve_color: str = "none"
    multiscale: str = "auto"  # auto: on when size >= 2 * min_scale
    min_scale: int = 128  # side of the coarsest scale when multi-scale
    pooling: str = "max"
    weights: str = "bundled"  # "bundled", "torchvision", or a path to a torchvision-layout VGG19
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    preview_every: int = 10

    def __post_init__(self) -> None:
        # Normalise list-likes (from JSON or widgets) to tuples so the dataclass stays hashable.
        for name in ("betas", "content_layers", "style_layers", "style_layer_weights", "style_blend"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        problems = _problems(self)
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems))

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        """Build from a (possibly untrusted) mapping; unknown keys and wrong types are errors."""
        if not isinstance(data, Mapping):
            raise SettingsError("Invalid settings: expected a JSON object of settings")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        problems = [f"unknown setting {name!r}" for name in unknown]
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name in known:
                try:
                    kwargs[name] = _coerce(name, value, cls.__dataclass_fields__[name].default)
                except (TypeError, ValueError) as exc:
                    problems.append(f"{name}: {exc}")
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems))
        try:
            return cls(**kwargs)
        except TypeError as exc:  # e.g. betas of the wrong length reaching comparison code
            raise SettingsError(f"Invalid settings: {exc}") from exc


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Check a JSON value against the field's type (taken from its default)."""
    if name in ("content_layers", "style_layers"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError("expected a list of layer names")
        return tuple(value)
    if name == "lr":
        return None if value is None else _number(value)
    if name in ("style_layer_weights", "style_blend"):
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise TypeError("expected a list of numbers")
        return tuple(_number(v) for v in value)
    if name == "betas":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise TypeError("expected two numbers")
        return tuple(_number(v) for v in value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected a whole number")
        return value
    if isinstance(default, float):
        return _number(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return value
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _finite_nonneg(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def _problems(s: Settings) -> list[str]:
    """Every reason these settings cannot run, in field order."""
    p: list[str] = []

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(s.size) or not 16 <= s.size <= MAX_SIZE:
        p.append(f"size must be a whole number of pixels from 16 to {MAX_SIZE}, got {s.size!r}")
    if not is_int(s.steps) or not 1 <= s.steps <= MAX_STEPS:
        p.append(f"steps must be a whole number from 1 to {MAX_STEPS}, got {s.steps!r}")
    if s.optimizer not in OPTIMIZERS:
        p.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {s.optimizer!r}")
    if s.lr is not None and (not _finite_nonneg(s.lr) or s.lr == 0):
        p.append(f"lr must be a positive number, got {s.lr!r}")
    if len(s.betas) != 2 or not all(_finite_nonneg(b) and b < 1 for b in s.betas):
        p.append(f"betas must be two numbers in [0, 1), got {s.betas!r}")
    if not _finite_nonneg(s.eps) or s.eps == 0:
        p.append(f"eps must be a positive number, got {s.eps!r}")
    for name in ("content_weight", "style_weight", "tv_weight"):
        if not _finite_nonneg(getattr(s, name)):
            p.append(f"{name} must be a finite number >= 0, got {getattr(s, name)!r}")
    if _finite_nonneg(s.content_weight) and _finite_nonneg(s.style_weight):
        if s.content_weight == 0 and s.style_weight == 0:
            p.append("content_weight and style_weight cannot both be 0")
    for name in ("content_layers", "style_layers"):
        layers = getattr(s, name)
        bad = [layer for layer in layers if layer not in CONV_LAYERS]
        if bad:
            p.append(f"unknown {name[:-1].replace('_', ' ')} name(s) {', '.join(map(repr, bad))}"
                     f" (choose from conv1_1 … conv5_4)")
        if len(set(layers)) != len(layers):
            p.append(f"{name} has repeated layers")
    if not s.content_layers and s.content_weight > 0:
        p.append("content_layers is empty but content_weight > 0")
    if not s.style_layers and s.style_weight > 0:
        p.append("style_layers is empty but style_weight > 0")
    if s.style_layer_weights is not None:
        if len(s.style_layer_weights) != len(s.style_layers):
            p.append(f"style_layer_weights needs {len(s.style_layers)} values (one per style layer),"
                     f" got {len(s.style_layer_weights)}")
        if not all(_finite_nonneg(w) for w in s.style_layer_weights):
            p.append("style_layer_weights must be finite numbers >= 0")
        elif s.style_layer_weights and sum(s.style_layer_weights) == 0 and s.style_weight > 0:
            p.append("style_layer_weights are all 0")
    if s.style_blend is not None:
        if not s.style_blend or not all(_finite_nonneg(w) for w in s.style_blend):
            p.append("style_blend must be finite numbers >= 0")
        elif sum(s.style_blend) == 0:
            p.append("style_blend weights are all 0")
    if not _finite_nonneg(s.style_scale) or not 0.1 <= s.style_scale <= 4:
        p.append(f"style_scale must be from 0.1 to 4, got {s.style_scale!r}")
    if s.init not in INITS:
        p.append(f"init must be one of {', '.join(INITS)}, got {s.init!r}")
    if s.preserve_color not in COLOR_MODES:
        p.append(f"preserve_color must be one of {', '.join(COLOR_MODES)}, got {s.preserve_color!r}")
    if s.multiscale not in MULTISCALE:
        p.append(f"multiscale must be one of {', '.join(MULTISCALE)}, got {s.multiscale!r}")
    if not is_int(s.min_scale) or not 16 <= s.min_scale <= MAX_SIZE:
        p.append(f"min_scale must be a whole number from 16 to {MAX_SIZE}, got {s.min_scale!r}")
    if s.pooling not in POOLINGS:
        p.append(f"pooling must be one of {', '.join(POOLINGS)}, got {s.pooling!r}")
    if not isinstance(s.weights, str) or not s.weights:
        p.append("weights must be 'bundled', 'torchvision' or a file path")
    if not isinstance(s.device, str) or not s.device:
        p.append("device must be auto, cpu, cuda, cuda:N or mps")
    if s.precision not in PRECISIONS:
        p.append(f"precision must be one of {', '.join(PRECISIONS)}, got {s.precision!r}")
    if not is_int(s.seed) or not 0 <= s.seed < 2**63:
        p.append(f"seed must be a whole number >= 0, got {s.seed!r}")
    if not is_int(s.preview_every) or s.preview_every < 1:
        p.append(f"preview_every must be a whole number >= 1, got {s.preview_every!r}")
    return p


# Named starting points. "seed" is the original recipe this project started from: Adam with
# lr 0.01, beta1 0.99, eps 0.1 for 1000 steps and a light touch of style (its content:style
# ratio was 10:1 in its own normalisation; here that is a tenth of our default style weight).
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {},  # the defaults: L-BFGS, coarse-to-fine, a good image quickly
    "seed": {
        "optimizer": "adam",
        "lr": 0.01,
        "betas": (0.99, 0.999),
        "eps": 0.1,
        "steps": 1000,
        "style_weight": Settings.style_weight / 10,
        "multiscale": "off",
    },
}


def preset(name: str, **overrides: Any) -> Settings:
    """Settings for a named preset, with any fields overridden."""
    if name not in PRESETS:
        raise SettingsError(f"Invalid settings: unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return Settings(**{**PRESETS[name], **overrides})


__all__ = ["Settings", "SettingsError", "PRESETS", "preset"]
