"""The studio's name for every setting, the label of its control, and the engine's messages told in them.

The engine (:mod:`nst`) names settings as the CLI and recipes do (``max_memory``, ``style_weight``);
the studio shows its controls' labels instead (“Memory budget”, “Style weight β”). Every note the
studio shows about settings goes through :func:`labelled`.
"""

from __future__ import annotations

import re

FIELD_LABELS: dict[str, str] = {
    "size": "Output size (px)", "method": "Method", "strength": "Style strength", "steps": "Steps",
    "optimizer": "Optimiser", "lr": "Learning rate", "betas": "Adam β₁ and β₂", "eps": "Adam ε",
    "content_weight": "Content weight α", "style_weight": "Style weight β", "tv_weight": "TV weight γ",
    "content_layers": "Content layers", "style_layers": "Style layers",
    "style_layer_weights": "Custom style-layer weights", "style_blend": "Blend weights",
    "builtin_styles": "Built-in styles", "style_scale": "Style scale", "mask": "Regions", "regions": "Regions",
    "region_blur": "Region edge softness", "init": "Initialise from", "preserve_color": "Colour preservation",
    "multiscale": "Multi-scale", "min_scale": "Coarsest scale (px)", "pooling": "Pooling",
    "weights": "VGG19 weights", "device": "Device", "precision": "Precision", "seed": "Seed",
    "preview_every": "Preview every N steps", "max_memory": "Memory budget",
}

# Names that are also plain words ("lower the size") are a setting's only where a rule's message
# starts with them ("size must be …"); the others (max_memory, init, lr) are a setting wherever they
# stand as a word of their own: not inside a quoted value ('style_weight') or a file name
# (style_weight.json), which are the user's text and shown as given.
_WORDS = ("size", "method", "steps", "device", "weights", "precision", "pooling", "mask", "regions", "seed",
          "strength")
_NAMES = sorted((name for name in FIELD_LABELS if name not in _WORDS), key=len, reverse=True)
_NAME = re.compile(r"(?<![\w./\\-])(" + "|".join(_NAMES) + r")(?![\w/\\-]|\.\w)")
_RULE = re.compile(r"(^|; |: )(" + "|".join(_WORDS) + r")(?= (?:must|cannot) be )")
_QUOTED = re.compile(r"""((?<!\w)'[^']*'(?!\w)|(?<!\w)"[^"]*"(?!\w))""")


def label(field: str) -> str:
    """A setting's control label, quoted as messages show it: “Memory budget”."""
    return f"“{FIELD_LABELS.get(field, field)}”"


def labelled(text: str) -> str:
    """An engine message with every setting it names shown as its control's label."""
    parts = _QUOTED.split(text)
    return "".join(part if index % 2 else _RULE.sub(lambda m: m[1] + label(m[2]),
                                                    _NAME.sub(lambda m: label(m[1]), part))
                   for index, part in enumerate(parts))


def labels(fields: list[str]) -> str:
    """Several settings by their labels, each once: 'Output size (px), Steps'."""
    return ", ".join(dict.fromkeys(FIELD_LABELS.get(field, field) for field in fields))
