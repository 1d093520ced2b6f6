"""Command line: ``python -m nst CONTENT STYLE [STYLE ...] -o OUT``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

from nst.device import DeviceError
from nst.engine import stylize
from nst.images import ImageError, load_image, read_recipe, save_image
from nst.recipe import make_recipe, settings_from_recipe
from nst.records import loss_row, losses_csv
from nst.settings import (COLOR_MODES, INITS, MULTISCALE, OPTIMIZERS, POOLINGS, PRECISIONS, PRESETS, Settings,
                          SettingsError, preset)
from nst.weights import ENV_WEIGHTS, WeightsError


def _floats(text: str) -> tuple[float, ...]:
    """'0.5,1,2' -> (0.5, 1.0, 2.0)."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


# flag -> (Settings field, argparse keywords). Every flag defaults to None so a recipe or preset
# supplies the value unless the flag is given.
SETTING_FLAGS: dict[str, tuple[str, dict]] = {
    "--size": ("size", dict(type=int, help="max side of the output, px (default 512)")),
    "--steps": ("steps", dict(type=int, help="optimiser steps over all scales (default 300)")),
    "--seed": ("seed", dict(type=int, help="random seed; a CPU run repeats bit for bit (default 0)")),
    "--device": ("device", dict(help="auto, cpu, cuda, cuda:N or mps (default auto)")),
    "--precision": ("precision", dict(choices=PRECISIONS, help="convolution precision (default auto)")),
    "--optimizer": ("optimizer", dict(choices=OPTIMIZERS, help="default lbfgs")),
    "--lr": ("lr", dict(type=float, help="L-BFGS step length or Adam learning rate")),
    "--betas": ("betas", dict(type=_floats, help="Adam betas, e.g. 0.9,0.999")),
    "--eps": ("eps", dict(type=float, help="Adam epsilon")),
    "--content-weight": ("content_weight", dict(type=float, help="alpha (default 1)")),
    "--style-weight": ("style_weight", dict(type=float, help="beta (default 3e-4)")),
    "--tv-weight": ("tv_weight", dict(type=float, help="gamma, total variation (default 0)")),
    "--content-layers": ("content_layers", dict(type=_names, help="e.g. conv4_2")),
    "--style-layers": ("style_layers", dict(type=_names, help="e.g. conv1_1,conv2_1,conv3_1,conv4_1,conv5_1")),
    "--style-layer-weights": ("style_layer_weights", dict(type=_floats, help="one per style layer")),
    "--style-blend": ("style_blend", dict(type=_floats, help="blend weights, one per style image")),
    "--style-scale": ("style_scale", dict(type=float, help="style size relative to the output (default 1)")),
    "--init": ("init", dict(choices=INITS, help="start image (default content)")),
    "--preserve-color": ("preserve_color", dict(choices=COLOR_MODES, help="keep the content's colours")),
    "--multiscale": ("multiscale", dict(choices=MULTISCALE, help="coarse-to-fine (default auto)")),
    "--min-scale": ("min_scale", dict(type=int, help="side of the coarsest scale, px (default 128)")),
    "--pooling": ("pooling", dict(choices=POOLINGS, help="VGG pooling (default max)")),
    "--weights": ("weights", dict(help=f"bundled, torchvision or a VGG19 state-dict path (env {ENV_WEIGHTS})")),
    "--preview-every": ("preview_every", dict(type=int, help="image every N steps, for --save-every")),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer (Gatys et al.) with VGG19: paint CONTENT in the style of STYLE.")
    parser.add_argument("content", help="content image")
    parser.add_argument("styles", nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", required=True, help="output .png (recipe embedded) or .jpg")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
    parser.add_argument("--recipe", help="re-run the settings of a result .png or a recipe .json")
    for flag, (_, kwargs) in SETTING_FLAGS.items():
        parser.add_argument(flag, default=None, **kwargs)
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="also save the current image every N steps next to the output")
    parser.add_argument("--log-every", type=int, default=50, metavar="N", help="loss log line every N steps")
    parser.add_argument("--losses-csv", metavar="PATH", help="write every step's losses to a CSV file")
    parser.add_argument("--recipe-json", metavar="PATH", help="also write the recipe as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Preset or recipe first, then every flag given on top; env NST_WEIGHTS supplies --weights."""
    if args.recipe and args.preset:
        raise SettingsError("Invalid settings: give --recipe or --preset, not both")
    base = settings_from_recipe(read_recipe(args.recipe)) if args.recipe else preset(args.preset or "fast")
    changes = {field: getattr(args, flag[2:].replace("-", "_"))
               for flag, (field, _) in SETTING_FLAGS.items()}
    changes = {k: v for k, v in changes.items() if v is not None}
    if "weights" not in changes and os.environ.get(ENV_WEIGHTS) and not args.recipe:
        changes["weights"] = os.environ[ENV_WEIGHTS]
    return base.replace(**changes)


class Progress:
    """A one-line progress bar on a terminal, plus the log line every N steps."""

    def __init__(self, stream: TextIO, log_every: int, quiet: bool) -> None:
        self.stream, self.log_every, self.quiet = stream, log_every, quiet
        self.tty = stream.isatty()

    def update(self, rec) -> None:
        if self.quiet:
            return
        if self.log_every > 0 and (rec.step % self.log_every == 0 or rec.done):
            self._clear()
            print(f"step {rec.step}: style loss {rec.losses.get('style', 0):.4g}"
                  f" content loss {rec.losses.get('content', 0):.4g}"
                  f" tv loss {rec.losses.get('tv', 0):.4g} total {rec.losses.get('total', 0):.4g}"
                  f" ({rec.elapsed:.1f} s)", file=self.stream, flush=True)
        if self.tty:
            width = 30
            filled = int(width * rec.step / max(rec.total_steps, 1))
            rate = rec.step / rec.elapsed if rec.elapsed > 0 else 0.0
            eta = (rec.total_steps - rec.step) / rate if rate > 0 else 0.0
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {rec.step}/{rec.total_steps}"
                              f" scale {rec.scale + 1}/{rec.n_scales} {rec.shape[1]}x{rec.shape[0]}"
                              f" {rate:.2f} steps/s ETA {eta:.0f} s ")
            self.stream.flush()

    def _clear(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (SettingsError, ImageError, DeviceError, WeightsError, FloatingPointError, OSError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise SettingsError(f"Invalid settings: output must end in .png, .jpg or .jpeg, got {output.name!r}")
    if not output.parent.is_dir():
        raise SettingsError(f"Invalid settings: the folder of {output} does not exist")
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    if args.save_every > 0:
        settings = settings.replace(preview_every=args.save_every)

    progress = Progress(sys.stderr, args.log_every, args.quiet)
    rows: list[dict[str, float]] = []
    record = None
    try:
        for record in stylize(content, styles, settings):
            rows.append(loss_row(record))
            progress.update(record)
            if args.save_every > 0 and record.image is not None and not record.done:
                save_image(record.image, output.with_name(f"{output.stem}_step{record.step:05d}.png"))
    finally:
        progress.close()
    assert record is not None and record.image is not None
    recipe = make_recipe(settings, content=Path(args.content).name, styles=[Path(p).name for p in args.styles],
                         steps_done=record.step, losses=record.losses)
    save_image(record.image, output, recipe=recipe)
    if args.recipe_json:
        Path(args.recipe_json).write_text(json.dumps(recipe, indent=2))
    if args.losses_csv:
        Path(args.losses_csv).write_text(losses_csv(rows))
    if not args.quiet:
        print(f"saved {output} ({record.image.shape[1]}x{record.image.shape[0]}, {record.step} steps,"
              f" {record.elapsed:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
