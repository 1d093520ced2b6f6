"""Regions with every start: does a ``photo`` region keep the photo, and are the styled regions as
stylised as a one-style run?

Run ``python -m bench.region_quality [--content PATH --style PATH | --synthetic] [--size 384]
[--cases one,fast,content,noise,style,tiled,continue] [--out DIR]``.

The mask is the content's left half ``photo`` and its right half style 1; every run is the ``fast``
preset (the CLI's and the studio's default: init fast, 60 steps) with one field changed. For each
run the table gives the luminance SSIM to the photo of each half, and the styled half's style loss
(:func:`nst.model.regions.style_matrix`: fp32, the run's layers and weights, the run's soft mask) as a
multiple of the one-style run's on the same half. ``continue`` refines the ``fast`` case's result at
2× (:func:`nst.core.settings.continued`) and is measured at that size; ``tiled`` gives the run a memory
budget halfway between the least it can run in and what it needs untiled, so its scale tiles.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bench.harness import Contention
from bench.pair import DEFAULT_CONTENT, DEFAULT_STYLE
from bench.report import machine_info
from tests.support.synthetic import scene, stripes
from nst.plan.budget import least_budget, plan_run
from nst.model.color import rgb_to_yiq
from nst.engine import run, to_tensor
from nst.io.images import load_image, resize_max_side
from nst.core.masks import encode_mask, mask_labels, region_styles
from nst.model.regions import RegionMasks, style_matrix
from nst.core.settings import Settings, continued, preset
from nst.model.vgg import load_model

CASES = ("one", "fast", "content", "noise", "style", "tiled", "continue")
REGIONS = ("#ff0000=photo", "#0000ff=1")  # left half keeps the photo, right half takes style 1
DEFAULT_OUT = Path("/tmp/nst-regions")
_C1, _C2 = 0.01**2, 0.03**2  # Wang et al. (2004) for a dynamic range of 1


def luminance_ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM map (H, W) of two RGB uint8 pictures' luminance (YIQ's Y in [0, 1]): Wang et al.'s
    index with an 11×11 Gaussian window of σ 1.5, the borders reflected."""
    y = [rgb_to_yiq(torch.from_numpy(np.asarray(p, np.float64) / 255).permute(2, 0, 1))[:1][None] for p in (a, b)]
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-x**2 / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(t, (5, 5, 5, 5), mode="reflect"), window)

    mu_a, mu_b = blur(y[0]), blur(y[1])
    var_a, var_b = blur(y[0] ** 2) - mu_a**2, blur(y[1] ** 2) - mu_b**2
    cov = blur(y[0] * y[1]) - mu_a * mu_b
    ssim = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2) / ((mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2))
    return ssim[0, 0].numpy()


def halves_mask(size: tuple[int, int]) -> str:
    """``Settings.mask`` for a content of ``size`` (W, H): red (photo) left, blue (style 1) right."""
    width, height = size
    paint = np.zeros((height, width, 3), np.uint8)
    paint[:, : width // 2] = (255, 0, 0)
    paint[:, width // 2:] = (0, 0, 255)
    return encode_mask(paint, REGIONS, size=size)


def photo_region_ssim(image: np.ndarray, content: Image.Image, settings: Settings) -> float:
    """Mean luminance SSIM to the photo over the pixels of ``image`` (RGB uint8) that lie wholly in
    ``settings``' photo regions (their soft mask, blurred as the run blurs it, above 0.99)."""
    height, width = image.shape[:2]
    photo = np.asarray(content.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
    regions = RegionMasks(mask_labels(settings.mask, settings.regions), region_styles(settings.regions),
                          (height, width), settings.region_blur, torch.device("cpu"))
    inside = (sum(m for m, style in zip(regions.masks, regions.styles) if style is None) > 0.99).numpy()
    if not inside.any():
        raise ValueError("no pixel lies wholly in a photo region")
    return float(luminance_ssim(image, photo)[inside].mean())


def measure(image: np.ndarray, content: Image.Image, style: Image.Image, settings: Settings) -> dict[str, float]:
    """Each half's luminance SSIM to the photo and the styled half's style loss, at the image's size."""
    height, width = image.shape[:2]
    photo = np.asarray(content.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
    ssim = luminance_ssim(image, photo)
    labels = mask_labels(settings.mask, REGIONS)
    regions = RegionMasks(labels, region_styles(REGIONS), (height, width), settings.region_blur, torch.device("cpu"))
    style_t = to_tensor(resize_max_side(style, round(max(height, width) * settings.style_scale)), torch.device("cpu"))
    result = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    matrix = style_matrix(load_model(settings.weights), result, [style_t], regions, settings.style_layers,
                          settings.layer_weights, pooling=settings.pooling)
    return {"photo_ssim": float(ssim[:, : width // 2].mean()), "styled_ssim": float(ssim[:, width // 2:].mean()),
            "styled_loss": matrix[1][0]}


def case_settings(case: str, base: Settings, content: Image.Image, style: Image.Image) -> Settings:
    """The settings of one case (``continue`` is made from the ``fast`` case's result instead)."""
    if case == "one":
        return base.replace(mask=None, regions=None)
    if case == "fast":
        return base
    if case in ("content", "noise", "style"):
        return base.replace(init=case)
    if case == "tiled":
        sizes = [style.size]
        untiled = plan_run(base, content.size, sizes).peak
        tight = base.replace(max_memory=(untiled + least_budget(base, content.size, sizes)) // 2)
        assert plan_run(tight, content.size, sizes).tiled
        return tight
    raise ValueError(case)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.region_quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--style", type=Path, default=DEFAULT_STYLE)
    parser.add_argument("--synthetic", action="store_true", help="generated images instead of files")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    if args.synthetic:
        content, style = scene(args.size * 4 // 3, args.size), stripes(args.size)
    else:
        content, style = load_image(args.content), load_image(args.style)
    args.out.mkdir(parents=True, exist_ok=True)
    base = preset("fast", size=args.size, mask=halves_mask(content.size), regions=REGIONS)
    watch = Contention()
    rows: list[tuple[str, Settings, float, dict[str, float]]] = []
    fast_image: np.ndarray | None = None
    for case in (c for c in CASES if c in cases):  # "continue" after "fast", whose result it refines
        start = None
        if case == "continue":
            if fast_image is None:
                fast_image = run(content, [style], base).image
            settings, start = continued(base), Image.fromarray(fast_image)
        else:
            settings = case_settings(case, base, content, style)
        tick = time.perf_counter()
        image = run(content, [style], settings, start=start).image
        wall = time.perf_counter() - tick
        if case == "fast":
            fast_image = image
        Image.fromarray(image).save(args.out / f"{case}.png")
        rows.append((case, settings, wall, measure(image, content, style, base if case != "continue" else settings)))
    reference = {int(s.size): m["styled_loss"] for c, s, _, m in rows if c == "one"}
    print(f"Regions: left half photo, right half style 1; {content.size[0]}×{content.size[1]} content,"
          f" fast preset at {args.size} px")
    print("| case | init | size | steps | photo half SSIM | styled half SSIM | styled half style loss | × one style |"
          " wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case, settings, wall, m in rows:
        ref = reference.get(settings.size)
        ratio = f"{m['styled_loss'] / ref:.2f}" if ref else "–"
        print(f"| {case} | {settings.init} | {settings.size} | {settings.steps} | {m['photo_ssim']:.3f} |"
              f" {m['styled_ssim']:.3f} | {m['styled_loss']:.3g} | {ratio} | {wall:.1f} |")
    print(*machine_info(), sep="\n")
    print(watch.line())


if __name__ == "__main__":
    main()
