"""Benchmark our engine against pastiche (PyPI ``pastiche``) on one image pair.

Run ``python -m bench.compare [--content PATH --style PATH] [--size 512] [--steps N] [--style-weight B]
[--pastiche-steps N] [--out DIR] [--skip-pastiche] [--gpu-only] [--quick] [--synthetic]``.

Besides our default run it times the fast method (``method="fast"``) and, for time to pastiche's
quality, our optimiser from the content and from the fast result (``init="fast"``), coarse to fine
and at the output size only; each run's whole process (spawn to result: interpreter start,
imports, model load, run) is timed too. On a CUDA GPU: ours and pastiche, and time to pastiche's
quality from the fast result at the output size.

Each tool runs in its own spawned process, so the peak RSS reported is that tool's alone. Both
outputs are scored by one evaluator: our Gatys losses on the bundled VGG19 in fp32, with our
settings' layers and weights. Pastiche optimises its own weighting of the same terms, so its
score is on an objective it does not minimise; the raw content and style columns show the trade.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.compare_sections import cpu_sections, gpu_section
from bench.harness import Contention
from bench.pair import DEFAULT_CONTENT, DEFAULT_STYLE, input_pair, prepare_inputs
from bench.peer import PASTICHE_STEPS
from bench.report import machine_info, publish
from nst.core.errors import SettingsError
from nst.core.settings import Settings
from nst.io.images import load_image

DEFAULT_OUT = Path("/tmp/nst-bench")
LADDER = (60, 100, 150, 175, 200)  # shorter step budgets tried for time to quality (plus --steps)
FAST_LADDER = (10, 20, 30, 40, 60)  # the same, starting from the fast result
# The same from the fast result at the output size only (multiscale off): coarse scales would
# blur away the fast result's texture, which the first steps at full size refine.
FAST_TOP_LADDER = (10, 12, 14, 16, 20)
FAST_SIDES = (512, 1024)  # sides at which the fast method alone is timed, model loaded
QUICK = {"size": 256, "steps": 60, "pastiche_steps": 20, "ladder": (20, 40), "fast_ladder": (10, 20),
         "fast_top_ladder": (5, 10), "fast_sides": (256,)}


def _ints(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers, as the ladder and side flags take them."""
    return tuple(int(v) for v in text.split(","))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; --quick changes the defaults only, explicit flags still win."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", help=f"content image (default {DEFAULT_CONTENT})")
    parser.add_argument("--style", help=f"style image (default {DEFAULT_STYLE})")
    parser.add_argument("--synthetic", action="store_true", help="generate the image pair instead")
    parser.add_argument("--size", type=int, help=f"output max side (default {Settings.size})")
    parser.add_argument("--steps", type=int, help=f"our steps (default {Settings.steps})")
    parser.add_argument("--style-weight", type=float,
                        help=f"our β (default {Settings.style_weight:g}); the evaluator's raw terms do not depend on it")
    parser.add_argument("--pastiche-steps", type=int, help=f"pastiche steps (default {PASTICHE_STEPS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--skip-pastiche", action="store_true", help="run only our engine")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU comparison (needs CUDA)")
    parser.add_argument("--ladder", type=_ints,
                        help="our shorter step budgets for time to quality, e.g. 60,100,150,200")
    parser.add_argument("--fast-ladder", type=_ints,
                        help=f"step budgets for time to quality from the fast result (default"
                             f" {','.join(map(str, FAST_LADDER))})")
    parser.add_argument("--fast-top-ladder", type=_ints,
                        help=f"the same at the output size only (default {','.join(map(str, FAST_TOP_LADDER))})")
    parser.add_argument("--fast-sides", type=_ints,
                        help=f"sides at which the fast method alone is timed (default"
                             f" {','.join(map(str, FAST_SIDES))})")
    parser.add_argument("--throughput-sides", type=_ints,
                        default=(256, 512), help="single-scale sides for seconds per step (default 256,512)")
    quick = "size {size}, ours {steps} steps, pastiche {pastiche_steps}: to test this script".format(**QUICK)
    parser.add_argument("--quick", action="store_true", help=quick)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"size": Settings.size, "steps": Settings.steps,
                                         "pastiche_steps": PASTICHE_STEPS, "ladder": LADDER,
                                         "fast_ladder": FAST_LADDER, "fast_top_ladder": FAST_TOP_LADDER,
                                         "fast_sides": FAST_SIDES}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run both tools on the CPU, score their outputs, then time to quality and throughput; with
    a GPU, the GPU comparison too (or only that, with --gpu-only). Print and save the report."""
    args = parse_args(argv)
    try:
        settings = Settings(size=args.size, steps=args.steps, device="cpu",
                            style_weight=args.style_weight if args.style_weight is not None else Settings.style_weight)
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    if args.gpu_only and not torch.cuda.is_available():
        sys.exit("error: --gpu-only needs a CUDA GPU, and torch sees none here")
    content, style = input_pair(args)
    args.out.mkdir(parents=True, exist_ok=True)
    watch = Contention()
    sections: list[str] = []
    images: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="nst-bench-") as folder:
        content_path, style_path = prepare_inputs(content, style, settings, Path(folder))
        scored = load_image(content_path), load_image(style_path)
        if not args.gpu_only:
            sections += cpu_sections(content_path, style_path, settings, args, scored, images)
        if torch.cuda.is_available():
            lines, gpu_images = gpu_section(content_path, style_path, settings,
                                            None if args.skip_pastiche else args.pastiche_steps, scored,
                                            args.fast_top_ladder)
            sections += ["", f"### GPU: {torch.cuda.get_device_name()} (target < 5 s for {settings.steps}"
                         f" steps at {settings.size} px on an H100)", "", *lines]
            images.update(gpu_images)
    busy = watch.line()
    for name, image in images.items():
        Image.fromarray(image).save(args.out / name)
    publish(["## nst vs pastiche", "", *machine_info(), busy, *sections, "",
             f"Scores: our losses in fp32 on the bundled VGG19 at the output size. Images: {args.out}"], args.out)


if __name__ == "__main__":
    main()
