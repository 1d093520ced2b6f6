"""Command line: ``python -m nst CONTENT STYLE [STYLE ...] -o OUT``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

from dataclasses import dataclass

from nst.engine import stylize
from nst.errors import NSTError, SettingsError
from nst.images import WRITERS, load_image, save_image
from nst.recipe import make_recipe, read_recipe, settings_from_recipe
from nst.records import loss_row, losses_csv
from nst.settings import (BYTES, CHOICE, DEFAULTS, FLOAT, FLOATS, INT, LAYERS, PRESET_ALIASES, PRESETS, RULES, TEXT,
                          Rule, Settings, continued, parse_bytes, preset)
from nst.weights import ENV_WEIGHTS


def _floats(text: str) -> tuple[float, ...]:
    """'0.5,1,2' -> (0.5, 1.0, 2.0)."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _bytes(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a memory size such as 3G or 512M, got {text!r}") from None


@dataclass(frozen=True)
class Factor:
    """A flag's value given as a multiple of the recipe's (or preset's): ``--size 2X``."""

    times: float

    def of(self, value: int) -> int:
        return round(value * self.times)


def _size(text: str) -> "int | Factor":
    """'1024' -> 1024; '2X' -> twice the size of the recipe or preset."""
    try:
        if text.strip().lower().endswith("x"):
            return Factor(float(text.strip()[:-1]))
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels or a multiple such as 2X,"
                                         f" got {text!r}") from None


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100, got {text!r}")
    return value


PARSERS = {INT: int, FLOAT: float, TEXT: str, CHOICE: str, LAYERS: _names, FLOATS: _floats, BYTES: _bytes}
FIELD_PARSERS = {"size": _size}  # fields whose flag takes more than their kind's text
EXTRA_HELP = {"weights": f"Env {ENV_WEIGHTS} supplies it when the flag is not given.",
              "preview_every": "With --save-every, also how often an image is saved.",
              "size": "Or a multiple of the recipe's or preset's size, such as 2X.",
              "max_memory": "Written 3G, 512M or 64K (powers of 1024)."}


def flag(name: str) -> str:
    """The CLI flag of Settings field ``name``: --style-weight for style_weight."""
    return "--" + name.replace("_", "-")


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting_flag(name: str, r: Rule) -> dict:
    """argparse keywords for one Settings field, from its rule."""
    default = DEFAULTS[name]
    parts = [r.help, f"Range: {r.bounds()}." if r.kind in (INT, FLOAT) and r.bounds() else "",
             EXTRA_HELP.get(name, ""), "" if default is None else f"(default {_shown(default)})"]
    kwargs: dict = dict(type=FIELD_PARSERS.get(name, PARSERS[r.kind]), help=" ".join(p for p in parts if p))
    if r.kind == CHOICE:
        kwargs["choices"] = r.choices
    return kwargs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer (Gatys et al.) with VGG19: paint CONTENT in the style of STYLE.")
    parser.add_argument("content", help="content image")
    parser.add_argument("styles", nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", required=True,
                        help="output .png, .tif or .jpg (each with the recipe and the sRGB profile)")
    parser.add_argument("--preset", choices=sorted(PRESETS) + sorted(PRESET_ALIASES), metavar="NAME",
                        help=f"start from a named preset: {', '.join(PRESETS)} (default fast)")
    parser.add_argument("--recipe", help="re-run the settings of a result (.png, .tif, .jpg) or a recipe .json")
    parser.add_argument("--from", dest="start", metavar="IMAGE",
                        help="refine IMAGE (e.g. a result) instead of starting afresh: init 'image', one scale,"
                             " a few steps; with --size 2X, continue a result at twice its size")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), default=8,
                        help="bits per channel of a .png or .tif output (default 8)")
    parser.add_argument("--jpeg-quality", type=_quality, default=95, metavar="Q",
                        help="quality of a .jpg output, 1 to 100 (default 95)")
    settings = parser.add_argument_group("settings (each defaults to the preset's or recipe's value)")
    for name, r in RULES.items():
        # None: a recipe or preset supplies the value unless the flag is given.
        settings.add_argument(flag(name), dest=name, default=None, **_setting_flag(name, r))
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
        raise SettingsError("give --recipe or --preset, not both")
    base = settings_from_recipe(read_recipe(args.recipe)) if args.recipe else preset(args.preset or "fast")
    changes = {name: getattr(args, name) for name in RULES if getattr(args, name) is not None}
    changes.update({name: value.of(getattr(base, name)) for name, value in changes.items() if isinstance(value, Factor)})
    if args.start:
        base = continued(base, factor=1.0)  # the size, like every setting, comes from the flags
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
    except (NSTError, OSError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    output = Path(args.output)
    kind = WRITERS.get(output.suffix.lower())
    if kind is None:
        raise SettingsError(f"output must end in {', '.join(WRITERS)}, got {str(output)!r}")
    if kind == "JPEG" and args.bit_depth == 16:
        raise SettingsError("a JPEG holds 8 bits a channel; for --bit-depth 16 write a .png or .tif")
    if not output.parent.is_dir():
        raise SettingsError(f"the folder of {output} does not exist")
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    start = load_image(args.start) if args.start else None
    if args.save_every > 0:
        settings = settings.replace(preview_every=args.save_every)

    progress = Progress(sys.stderr, args.log_every, args.quiet)
    rows: list[dict[str, float]] = []
    record = None
    try:
        for record in stylize(content, styles, settings, start=start):
            rows.append(loss_row(record))
            progress.update(record)
            if args.save_every > 0 and record.image is not None and not record.done:
                save_image(record.image, output.with_name(f"{output.stem}_step{record.step:05d}.png"))
    finally:
        progress.close()
    assert record is not None and record.image is not None
    names = {"start": Path(args.start).name} if args.start else {}
    recipe = make_recipe(settings, content=Path(args.content).name, styles=[Path(p).name for p in args.styles],
                         steps_done=record.step, losses=record.losses, **names)
    image = record.image16 if args.bit_depth == 16 else record.image
    save_image(image, output, recipe=recipe, quality=args.jpeg_quality)
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
