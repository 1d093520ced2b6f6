"""Command line: ``python -m nst CONTENT [STYLE ...] -o OUT`` (no style image with --builtin-styles), or
``--batch CONTENT_DIR … -o OUT_DIR``.

Runs go through the executor seam: in this process, or on a Ray cluster with ``--ray-address``
(or env ``NST_RAY_ADDRESS``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

from PIL import Image

from nst.io.adjust import ADJUST_DEFAULTS, ADJUST_RULES, Adjuster, Adjustments
from nst.run.batch import BatchProgress, content_files, output_names, run_batch
from nst.run.cluster import ENV_ADDRESS, PREVIEW_SIDE, ClusterConfig, RayExecutor
from nst.run.executor import Executor, LocalExecutor
from nst.core.errors import NSTError, SettingsError
from nst.plan.budget import RunPlan
from nst.plan.estimate import StepCost, remaining_seconds
from nst.io.images import WRITERS, load_image, load_rgba, save_image
from nst.plan.preflight import preflight
from nst.core.masks import encode_mask
from nst.io.recipe import adjustments_from_recipe, make_recipe, read_recipe, settings_from_recipe
from nst.records import StepRecord, loss_row, losses_csv
from nst.core.settings import (BYTES, CHOICE, DEFAULTS, FLOAT, FLOATS, INT, INTS, LAYERS, MASK, PRESET_ALIASES, PRESETS,
                          REGIONS, RULES, TEXT, Rule, Settings, continued, parse_bytes, preset)
from nst.run.terminal import StatusLine
from nst.cli.video_command import add_video_flags, run_video
from nst.io.video_files import clip_kind, is_video
from nst.model.weights import ENV_WEIGHTS


def _floats(text: str) -> tuple[float, ...]:
    """'0.5,1,2' -> (0.5, 1.0, 2.0)."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple[int, ...]:
    """'3,12' -> (3, 12)."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None


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


PARSERS = {INT: int, FLOAT: float, TEXT: str, CHOICE: str, LAYERS: _names, FLOATS: _floats, INTS: _ints, MASK: str,
           REGIONS: _names, BYTES: _bytes}
FIELD_PARSERS = {"size": _size}  # fields whose flag takes more than their kind's text
EXTRA_HELP = {"weights": f"Env {ENV_WEIGHTS} supplies it when the flag is not given.",
              "preview_every": "With --save-every, also how often an image is saved.",
              "size": "Or a multiple of the recipe's or preset's size, such as 2X.",
              "max_memory": "Written 3G, 512M or 64K (powers of 1024).",
              "mask": "Here: the path of the mask picture.",
              "regions": "Give --region once per colour (or comma-separated), e.g. --region '#ff0000=1'"
                         " --region '#0000ff=photo'."}


def flag(name: str) -> str:
    """The CLI flag of Settings field ``name``: --style-weight for style_weight."""
    return "--" + name.replace("_", "-")


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting_flag(name: str, r: Rule, default: object) -> dict:
    """argparse keywords for one Settings (or Adjustments) field, from its rule."""
    parts = [r.help, f"Range: {r.bounds()}." if r.kind in (INT, FLOAT) and r.bounds() else "",
             EXTRA_HELP.get(name, ""), "" if default is None else f"(default {_shown(default)})"]
    # argparse %-formats help (for %(default)s): a rule's own '%' must reach it as '%%'.
    text = " ".join(p for p in parts if p).replace("%", "%%")
    kwargs: dict = dict(type=FIELD_PARSERS.get(name, PARSERS[r.kind]), help=text)
    if r.kind == CHOICE:
        kwargs["choices"] = r.choices
    if r.kind == REGIONS:
        kwargs["action"] = "append"  # one --region per colour; settings_from_args joins them
    return kwargs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer (Gatys et al.) with VGG19, or in one pass of a trained network"
                    " (--method fast): paint CONTENT in the style of STYLE.")
    parser.add_argument("content", help="content image, or a video clip (MP4, MOV, WebM, MKV, animated GIF; told by its"
                                        " content, not its name); with --batch: a folder of content images")
    parser.add_argument("styles", nargs="*", metavar="style",
                        help="style image(s); none needed with --builtin-styles")
    parser.add_argument("-o", "--output", required=True,
                        help="output .png, .tif or .jpg, each with the recipe and the sRGB profile (with --batch: a folder,"
                             " made if missing)")
    parser.add_argument("--batch", action="store_true",
                        help="stylise every image in the folder CONTENT; each result is OUT/<name>.png, written as"
                             " it finishes, and a failed image is reported without stopping the rest")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help=f"run on the Ray cluster at ADDRESS (auto, or the head's host:port; this machine must"
                             f" be a node of it); 'local' runs here. Env {ENV_ADDRESS} supplies it when not given.")
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
        names = ("--region", flag(name)) if r.kind == REGIONS else (flag(name),)
        settings.add_argument(*names, dest=name, default=None, **_setting_flag(name, r, DEFAULTS[name]))
    after = parser.add_argument_group("after the run, without re-optimising (each defaults to the recipe's value)")
    for name, r in ADJUST_RULES.items():
        after.add_argument(flag(name), dest=name, default=None, **_setting_flag(name, r, ADJUST_DEFAULTS[name]))
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="also save the current image every N steps next to the output")
    parser.add_argument("--log-every", type=int, default=50, metavar="N", help="loss log line every N steps")
    parser.add_argument("--losses-csv", metavar="PATH", help="write every step's losses to a CSV file")
    parser.add_argument("--recipe-json", metavar="PATH", help="also write the recipe as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    add_video_flags(parser)
    return parser


def settings_from_args(args: argparse.Namespace, content_size: tuple[int, int] | None = None) -> Settings:
    """Preset or recipe first, then every flag given on top; env NST_WEIGHTS supplies --weights.
    ``--mask`` is read and encoded here; with ``content_size`` (W, H) it must be that size."""
    if args.recipe and args.preset:
        raise SettingsError("give --recipe or --preset, not both")
    base = settings_from_recipe(read_recipe(args.recipe)) if args.recipe else preset(args.preset or "fast")
    changes = {name: getattr(args, name) for name in RULES if getattr(args, name) is not None}
    changes.update({name: value.of(getattr(base, name)) for name, value in changes.items() if isinstance(value, Factor)})
    if args.start:
        base = continued(base, factor=1.0)  # the size, like every setting, comes from the flags
    if "weights" not in changes and os.environ.get(ENV_WEIGHTS) and not args.recipe:
        changes["weights"] = os.environ[ENV_WEIGHTS]
    if "regions" in changes:  # a tuple per --region
        changes["regions"] = tuple(item for items in changes["regions"] for item in items)
    if "mask" in changes:
        regions = changes.get("regions", base.regions) or ()
        changes["mask"] = encode_mask(load_rgba(changes["mask"]), regions, size=content_size)
    return base.replace(**changes)


def adjustments_from_args(args: argparse.Namespace) -> Adjustments:
    """The recipe's adjustments (if any), then every adjustment flag given on top."""
    base = adjustments_from_recipe(read_recipe(args.recipe)) if args.recipe else Adjustments()
    changes = {name: getattr(args, name) for name in ADJUST_RULES if getattr(args, name) is not None}
    return Adjustments(**{**base.to_dict(), **changes})


class Progress(StatusLine):
    """Progress on ``stream``: a one-line bar on a terminal; elsewhere (a log file, CI) a status line
    when the run starts and every ``interval`` seconds. Plus the loss line every ``log_every`` steps.
    The ETA prices the plan the run's first record carries, as the studio's does
    (nst.plan.estimate.remaining_seconds), at ``cost`` where the device's step cost is known, else
    at the pace of the steps timed."""

    def __init__(self, stream: TextIO, log_every: int, quiet: bool, cost: StepCost | None = None,
                 interval: float = 10.0) -> None:
        super().__init__(stream, quiet)
        self.log_every, self.cost, self.interval = log_every, cost, interval
        self.plan: RunPlan | None = None
        self.rows: list[dict[str, float]] = []
        self.eta: float | None = None  # seconds left after the latest record (None: not known yet)
        self._said_at = -math.inf

    def update(self, rec: StepRecord) -> None:
        if not rec.losses:  # the fast method: one record, no optimiser
            if rec.done:
                self.say(f"fast result in {rec.elapsed:.2f} s")
            return
        self.rows.append(loss_row(rec))
        self.plan = rec.plan or self.plan
        self.eta = remaining_seconds(self.plan, self.rows, rec.step, self.cost) if self.plan is not None else None
        if self.log_every > 0 and (rec.step % self.log_every == 0 or rec.done):
            self.say(f"step {rec.step}: style loss {rec.losses.get('style', 0):.4g}"
                     f" content loss {rec.losses.get('content', 0):.4g}"
                     f" tv loss {rec.losses.get('tv', 0):.4g} total {rec.losses.get('total', 0):.4g}"
                     f" ({rec.elapsed:.1f} s)")
        if self.tty:
            self.bar(rec.step / max(rec.total_steps, 1), self._status(rec))
        elif not rec.done and rec.elapsed - self._said_at >= self.interval:
            self._said_at = rec.elapsed
            self.say(self._status(rec))

    def _status(self, rec: StepRecord) -> str:
        """'40/300 scale 2/3 256x192 12.3 s ETA 51 s'."""
        eta = self.eta
        return (f"{rec.step}/{rec.total_steps} scale {rec.scale + 1}/{rec.n_scales} {rec.shape[1]}x{rec.shape[0]}"
                f" {rec.elapsed:.1f} s ETA {'?' if eta is None else f'{eta:.0f} s'}")


def executor_from_args(args: argparse.Namespace) -> Executor:
    """This process, or the Ray cluster that --ray-address (else env NST_RAY_ADDRESS) names."""
    address = args.ray_address or os.environ.get(ENV_ADDRESS, "")
    if not address.strip() or address.strip() == "local":
        return LocalExecutor()
    config = ClusterConfig.from_env({**os.environ, ENV_ADDRESS: address})
    assert config is not None
    # --save-every saves previews: those come at full size then, as lossless PNGs.
    return RayExecutor.from_config(config, preview_side=None if args.save_every > 0 else PREVIEW_SIDE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.batch:
            return _batch(args)
        # A clip is told by its content; an animated GIF written to an image format stays a picture (its first frame).
        if is_video(args.content) and not (clip_kind(args.content) == "gif" and
                                           Path(args.output).suffix.lower() in WRITERS):
            return run_video(args, settings_from_args(args), [load_image(path) for path in args.styles],
                             executor_from_args(args))
        return _run(args)
    except (NSTError, OSError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    kind = WRITERS.get(output.suffix.lower())
    if kind is None:
        raise SettingsError(f"output must end in {', '.join(WRITERS)}, got {str(output)!r}")
    if kind == "JPEG" and args.bit_depth == 16:
        raise SettingsError("a JPEG holds 8 bits a channel; for --bit-depth 16 write a .png or .tif")
    adjustments = adjustments_from_args(args)
    _check_bit_depth(args, adjustments)
    if not output.parent.is_dir():
        raise SettingsError(f"the folder of {output} does not exist")
    content = load_image(args.content)
    settings = settings_from_args(args, content.size)
    styles = [load_image(path) for path in args.styles]
    start = load_image(args.start) if args.start else None
    # The engine asks too (and plans the memory where it runs); here the messages can name the files.
    preflight(settings, content.size, [s.size for s in styles], labels=[args.content, *args.styles],
              start=start.size if start else None, plan=False).raise_problems()
    if args.save_every > 0:
        settings = settings.replace(preview_every=args.save_every)

    progress = Progress(sys.stderr, args.log_every, args.quiet)
    record = last = None
    try:
        for record in executor_from_args(args).submit(content, styles, settings, start=start).records():
            progress.update(record)
            last = record if record.image is not None else last
            if args.save_every > 0 and record.image is not None and not record.done:
                save_image(record.image, output.with_name(f"{output.stem}_step{record.step:05d}.png"))
    except NSTError:
        _keep_partial(last, output)
        raise
    finally:
        progress.close()
    assert record is not None and record.image is not None
    recipe = _save(record, content, output, settings, adjustments, args)
    if args.recipe_json:
        Path(args.recipe_json).write_text(json.dumps(recipe, indent=2))
    if args.losses_csv:
        Path(args.losses_csv).write_text(losses_csv(progress.rows))
    if not args.quiet:
        work = f"{record.step} steps" if record.losses else "fast method"
        print(f"saved {output} ({record.image.shape[1]}x{record.image.shape[0]}, {work},"
              f" {record.elapsed:.1f} s)", file=sys.stderr)
    return 0


def _save(record: StepRecord, content: Image.Image, output: Path, settings: Settings, adjustments: Adjustments,
          args: argparse.Namespace, content_name: str | None = None) -> dict:
    """Write a run's final image (adjusted; in the file's format with its recipe) and return the recipe."""
    names = {"start": Path(args.start).name} if args.start else {}
    recipe = make_recipe(settings, adjustments, content=content_name or Path(args.content).name,
                         styles=[Path(p).name for p in args.styles], steps_done=record.step, losses=record.losses,
                         **names)
    # 16 bits come from the optimised image itself; adjustments are made on the 8-bit result (checked before).
    image = record.image16 if args.bit_depth == 16 and record.image16 is not None else \
        Adjuster(record.image, content)(adjustments)
    save_image(image, output, recipe=recipe, quality=args.jpeg_quality)
    return recipe


def _check_bit_depth(args: argparse.Namespace, adjustments: Adjustments) -> None:
    """16 bits are the optimised image itself; the after-run adjustments work on the 8-bit result."""
    if args.bit_depth == 16 and not adjustments.identity:
        raise SettingsError("--bit-depth 16 writes the result as optimised; --mix and --recolor make 8-bit"
                            " images, so leave them out or write 8 bits")


def _keep_partial(record: StepRecord | None, output: Path) -> None:
    """A run that failed midway keeps its last image next to the output: nothing made is lost."""
    if record is None or record.image is None:
        return
    partial = output.with_name(f"{output.stem}_partial_step{record.step:05d}.png")
    save_image(record.image, partial)
    print(f"nst: the last image (step {record.step}) is in {partial}", file=sys.stderr)


def _batch(args: argparse.Namespace) -> int:
    """--batch: every image of the folder, one progress line, results written as they finish."""
    for name in ("mask", "start", "save_every", "losses_csv", "recipe_json"):
        if getattr(args, name):
            shown = "--from" if name == "start" else f"--{name.replace('_', '-')}"
            raise SettingsError(f"{shown} is for one image; it cannot be used with --batch")
    adjustments = adjustments_from_args(args)
    _check_bit_depth(args, adjustments)
    files = content_files(Path(args.content))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_from_args(args)
    styles = [load_image(path) for path in args.styles]
    executor = executor_from_args(args)
    # A cluster gets one run more than it can hold, so no slot waits while a result is being saved.
    jobs = executor.capacity(settings) + 1 if isinstance(executor, RayExecutor) else 1
    progress = BatchProgress(sys.stderr, len(files), settings.steps, args.quiet)

    def save(record: StepRecord, content: Image.Image, path: Path, output: Path) -> None:
        _save(record, content, output, settings, adjustments, args, path.name)

    outcomes = run_batch(files, output_names(files, out_dir), styles, [Path(p).name for p in args.styles],
                         settings, executor, save, progress, jobs)
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        print(f"nst: {len(failed)} of {len(files)} images failed", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"nst: {len(files)} images stylised into {out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
