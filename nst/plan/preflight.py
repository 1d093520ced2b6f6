"""Can this run? :func:`preflight` answers from the inputs' sizes and the settings alone (no pixels).

It returns ``{field: message}`` for everything that would stop a run: the settings' rules
(:mod:`nst.core.settings`), the styles a run needs, the start image, the blend weights, the mask
and its regions against the content and the style images, each image's size, the device and the
memory budget (the run's plan: :func:`nst.plan.budget.plan_run` or :func:`~nst.plan.budget.plan_fast`).
Each of those messages is written here and nowhere else. The engine raises from the answer
(:meth:`Preflight.raise_problems`); the CLI, batch and the studio show it, naming the user's files
through ``labels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from nst.core import masks
from nst.core.errors import BudgetError, DeviceError, ImageError, SettingsError
from nst.core.settings import Settings
from nst.model.fast.builtins import NATIVE_SIDE
from nst.plan.budget import FastPlan, RunPlan, plan_fast, plan_run
from nst.plan.device import resolve_device

Size = tuple[int, int]  # (width, height), as PIL gives it

# Shortest side an image may have, before and after it is resized for a run: VGG19's four poolings
# leave the deepest style layer (conv5_1, stride 16) one feature per 16 pixels.
MIN_SIDE = 16

# The fields of the problems that are not settings: the content's size, each style image's
# ("style_size_1", …), the device and the memory budget. After every settings problem (which raise
# SettingsError together) they raise in that order, as ImageError, DeviceError and BudgetError.
CONTENT_SIZE, STYLE_SIZE, DEVICE, BUDGET = "content_size", "style_size_", "device", "budget"


def size_fields(problems: Mapping[str, str]) -> list[str]:
    """The fields of ``problems`` that are an image's size, the content's first."""
    return [name for name in problems if name == CONTENT_SIZE or name.startswith(STYLE_SIZE)]


@dataclass(frozen=True)
class Preflight:
    """What :func:`preflight` found: the settings (None when the values break a rule), every problem
    as {field: message}, and the run's memory plan (None when it was not asked for or cannot be made)."""

    settings: Settings | None
    problems: dict[str, str] = field(default_factory=dict)
    plan: RunPlan | FastPlan | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_problems(self) -> None:
        """Raise what stops the run: SettingsError with every settings and inputs problem, else
        ImageError with every size problem, else DeviceError, else BudgetError."""
        sizes = size_fields(self.problems)
        others = {name: text for name, text in self.problems.items() if name not in (*sizes, DEVICE, BUDGET)}
        if self.settings is None or others:
            raise SettingsError(self.problems if self.settings is None else others)
        if sizes:
            raise ImageError(" ".join(self.problems[name] for name in sizes))
        if DEVICE in self.problems:
            raise DeviceError(self.problems[DEVICE])
        if BUDGET in self.problems:
            raise BudgetError(self.problems[BUDGET])


def preflight(settings: Settings | Mapping[str, Any], content: Size, styles: Sequence[Size] = (), *,
              labels: Sequence[str] | None = None, start: Size | None = None, plan: bool = True,
              device: torch.device | None = None) -> Preflight:
    """Whether a run of ``settings`` (or the raw values of its fields) can run on a content of size
    ``content`` with style images of sizes ``styles`` (the built-in styles come from the settings)
    and, for ``init="image"``, a start image of size ``start``.

    ``labels`` name the content and each style image in the messages (content first; by default
    "The content image", "The style image" or "Style image 2"). ``plan``: also plan the run's
    memory (False where another machine plans it); on ``device``, by default the settings'. The plan
    is made whatever else is wrong (the studio shows it beside the size while a style is missing).
    Raw values that break a rule give those problems alone: nothing else can be judged.
    """
    if not isinstance(settings, Settings):
        found = Settings.problems(settings)
        if found:
            return Preflight(None, found)
        settings = Settings(**settings)
    problems = {**_input_problems(settings, len(styles), start), **_size_problems(settings, content, styles, labels)}
    if settings.mask is not None and settings.regions is not None:
        problems.update(region_problems(settings.mask, settings.regions, content, len(styles)))
    if not plan:
        return Preflight(settings, problems)
    try:
        device = device if device is not None else resolve_device(settings.device)
    except DeviceError as exc:
        return Preflight(settings, {**problems, DEVICE: str(exc)})
    try:
        if settings.method == "fast":
            return Preflight(settings, problems, plan_fast(settings, content, device))
        every_style = [*styles, *[(NATIVE_SIDE, NATIVE_SIDE)] * len(settings.builtin_styles)]
        return Preflight(settings, problems, plan_run(settings, content, every_style, device))
    except BudgetError as exc:
        return Preflight(settings, {**problems, BUDGET: str(exc)})


def _input_problems(settings: Settings, n_styles: int, start: Size | None) -> dict[str, str]:
    """The styles a run needs, its start image, and a blend weight per style source."""
    problems: dict[str, str] = {}
    sources = n_styles + len(settings.builtin_styles)
    if not sources and settings.method == "fast":
        problems["styles"] = "the fast method needs a style image or a built-in style"
    elif not sources and settings.init == "fast":
        problems["styles"] = ("init fast starts from the fast method's result, which needs a style image or a"
                              " built-in style; choose another init")
    elif not sources and (settings.style_weight > 0 or settings.init == "style"):
        problems["styles"] = "at least one style image or built-in style is needed (or set style_weight to 0)"
    if settings.init == "image" and start is None:
        problems["init"] = "init 'image' starts from an image: give one (the CLI's --from)"
    if start is not None and settings.init != "image":
        problems["init"] = f"a start image was given but init is {settings.init!r}; set init to 'image'"
    if sources and settings.style_blend is not None and len(settings.style_blend) != sources:
        built_in = f" and {len(settings.builtin_styles)} built-in styles" if settings.builtin_styles else ""
        problems["style_blend"] = (f"style_blend has {len(settings.style_blend)} weights for {n_styles} style"
                                   f" images{built_in}")
    return problems


def side_problem(size: Size, max_side: int, label: str) -> str | None:
    """Why an image of ``size`` (width, height) cannot be used at ``max_side`` px, or None.

    Refused: a side under MIN_SIDE in the file itself (a 1×1 picture holds no content), or a short
    side under MIN_SIDE once the long side is ``max_side`` (a 4000×8 strip becomes 512×1).
    """
    width, height = size
    if min(width, height) < MIN_SIDE:
        return f"{label} is {width}×{height} px; images need at least {MIN_SIDE} px on each side."
    short = round(min(width, height) * max_side / max(width, height))
    if short < MIN_SIDE:
        return (f"{label} is {width}×{height} px: at {max_side} px its short side would be {short} px, under the"
                f" minimum of {MIN_SIDE} px. Crop it closer to square or choose a larger size.")
    return None


def _size_problems(settings: Settings, content: Size, styles: Sequence[Size],
                   labels: Sequence[str] | None) -> dict[str, str]:
    """:func:`side_problem` for the content (at ``size``) and each style (at size × style_scale)."""
    if labels is None:
        labels = ["The content image"] + ([f"Style image {i}" for i in range(1, len(styles) + 1)]
                                          if len(styles) > 1 else ["The style image"] * len(styles))
    style_side = max(1, round(settings.size * settings.style_scale))
    found = {CONTENT_SIZE: side_problem(content, settings.size, labels[0])}
    found.update({f"{STYLE_SIZE}{i}": side_problem(size, style_side, label)
                  for i, (size, label) in enumerate(zip(styles, labels[1:]), start=1)})
    return {name: text for name, text in found.items() if text}


def region_problems(mask: str, regions: Sequence[str], content: Size, n_styles: int) -> dict[str, str]:
    """The mask has the content's shape (or that shape scaled down), and each region's style image
    is among the ``n_styles`` given."""
    problems = {}
    height, width = masks.mask_pixels(mask).shape[:2]
    if not masks.mask_shape_fits((height, width), content):
        problems["mask"] = (f"the mask is {width}×{height} pixels but the content is {content[0]}×{content[1]};"
                            " a mask must have the content's size (or its shape, scaled down)")
    for item, style in zip(regions, masks.region_styles(regions)):
        if style is not None and style >= n_styles:
            problems["regions"] = (f"region {item} names style image {style + 1}, but {n_styles} style"
                                   f" image{'s were' if n_styles != 1 else ' was'} given")
    return problems


__all__ = ["BUDGET", "CONTENT_SIZE", "DEVICE", "MIN_SIDE", "Preflight", "STYLE_SIZE", "preflight", "region_problems",
           "side_problem", "size_fields"]
