"""Regions (spatial control): the mask's encoding and rules, the masked losses, real engine runs
and the CLI's --mask/--region, on generated images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.region_quality import luminance_ssim, photo_region_ssim
from tests.support.synthetic import checks, scene, stripes
from nst.core import masks
from nst.model.cache import GRAMS
from nst.cli.main import main
from nst.plan.budget import least_budget, plan_run
from nst.engine import _resize, _Run, _step, run, stylize, to_tensor, to_uint8
from nst.model.fast.method import paint
from nst.core.errors import SettingsError
from nst.io.images import load_rgba, png_bytes, resize_max_side
from nst.model.losses import gram
from nst.core.masks import encode_mask, fit_mask, mask_labels, mask_pixels
from nst.io.recipe import make_recipe, read_recipe, settings_from_recipe
from nst.model.regions import RegionMasks, masked_gram, style_matrix
from nst.core.settings import Settings, continued, preset
from nst.io.variants import variants
from nst.model.vgg import load_model

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
CPU = torch.device("cpu")
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def halves(width: int = 64, height: int = 48, left=RED, right=BLUE) -> np.ndarray:
    paint = np.zeros((height, width, 3), np.uint8)
    paint[:, : width // 2], paint[:, width // 2:] = left, right
    return paint


def region_settings(regions: tuple[str, ...], paint: np.ndarray | None = None, **changes) -> Settings:
    mask = encode_mask(halves() if paint is None else paint, regions)
    base = dict(size=64, multiscale="off", steps=20, style_weight=1e-2, preview_every=50)
    return Settings(mask=mask, regions=regions, **{**base, **changes})


# -- the mask: painted picture -> labels ----------------------------------------------------------
def test_antialiased_edges_snap_to_the_listed_colours():
    painted = load_rgba(DATA / "mask-96x64.png")
    assert len(np.unique(painted.reshape(-1, 4), axis=0)) > 3  # the edges hold blends
    regions = ("#ff0000=1", "#0000ff=photo", "#ffffff=photo")
    labels = mask_labels(encode_mask(painted, regions, size=(96, 64)), regions)
    assert labels.shape == (64, 96) and set(np.unique(labels)) == {0, 1, 2}
    assert (labels[:, :38] == 0).all() and (labels[:, 42:55] == 2).all()  # red up to x=40, white gap
    assert labels[32, 74] == 1 and labels[2, 74] == 2  # inside and above the blue ellipse


def test_unpainted_pixels_take_the_unpainted_colour():
    canvas = np.zeros((40, 60, 4), np.uint8)  # a drawing canvas: transparent where nothing was drawn
    canvas[:, :20] = (0, 200, 0, 255)
    canvas[:, 20:22] = (0, 200, 0, 90)  # the stroke's soft edge
    regions = ("#00c800=1", "#000000=photo")
    labels = mask_labels(encode_mask(canvas, regions, unpainted="#000000"), regions)
    assert (labels[:, :20] == 0).all() and (labels[:, 20:] == 1).all()
    with pytest.raises(SettingsError, match="#ffffff .*unpainted, transparent pixels count as #ffffff"):
        encode_mask(canvas, regions)  # white by default, which these regions do not name


def test_a_colour_the_regions_lack_is_a_clear_error():
    paint = halves(right=(0, 255, 0))
    with pytest.raises(SettingsError, match=r"colour #00ff00 \(50.0% of it\) that no region names; map #00ff00"):
        encode_mask(paint, ("#ff0000=1", "#0000ff=2"))
    # A recipe whose mask holds a colour its regions do not name: the same error, from the rules.
    mask = encode_mask(paint, ("#ff0000=1", "#00ff00=2"))
    problems = Settings.problems({"mask": mask, "regions": ("#ff0000=1",)})
    assert list(problems) == ["regions"] and "#00ff00 (50.0% of it) that no region names" in problems["regions"]


def test_large_masks_shrink_to_512_px_and_still_fit_their_content():
    paint = np.zeros((700, 1400, 3), np.uint8)
    paint[:, 700:] = BLUE
    mask = encode_mask(paint, ("#000000=1", "#0000ff=photo"), size=(1400, 700))
    assert mask_pixels(mask).shape == (256, 512, 3)
    assert masks.mask_shape_fits((256, 512), (1400, 700)) and not masks.mask_shape_fits((256, 512), (1400, 702))
    assert len(mask) < 2000  # a palette PNG: recipes stay small
    # The studio's canvas is drawn at screen size; fit_mask brings it to the content's size.
    canvas = np.zeros((300, 600, 4), np.uint8)
    canvas[:, 300:] = (0, 0, 255, 255)
    fitted = fit_mask(canvas, (1400, 700))
    assert fitted.shape == (700, 1400, 4) and set(np.unique(fitted[..., 2])) == {0, 255}


@pytest.mark.parametrize("values, field, fragment", [
    ({"regions": ("#ff0000=1",)}, "mask", "regions need a mask"),
    ({"mask": "bm90IGEgcG5n", "regions": ("#ff0000=1",)}, "mask", "mask must be a PNG in base64"),
    ({"regions": ("red=1",)}, "regions", "regions must be a list of 1 to 16 items COLOUR=N"),
    ({"regions": ("#ff0000=1", "#FF0000=photo")}, "regions", "each COLOUR a distinct #rrggbb"),
    ({"regions": ("#ff0000=0",)}, "regions", "regions must be"),
    ({"region_blur": 0.5}, "region_blur", "region_blur must be a number from 0 to 0.25"),
])
def test_region_settings_are_checked_by_the_rules(values, field, fragment):
    found = Settings.problems(values)
    assert field in found and fragment in found[field], found
    assert len(Settings.problems({"mask": "A" * 100_000})["mask"]) < 200  # a huge mask is not echoed


def test_a_mask_needs_regions():
    mask = encode_mask(halves(), ("#ff0000=1", "#0000ff=photo"))
    assert Settings.problems({"mask": mask}) == {"regions": "a mask needs regions: say what each of its colours"
                                                            " gets (COLOUR=N or COLOUR=photo)"}
    assert Settings(mask=mask, regions=("#FF0000=1", "#0000FF=PHOTO")).regions == ("#ff0000=1", "#0000ff=photo")


# -- the masked losses ------------------------------------------------------------------------------
def test_masked_gram_is_the_gram_of_the_region():
    features = torch.rand(1, 8, 6, 10)
    assert torch.allclose(masked_gram(features, torch.ones(6, 10)), gram(features), rtol=1e-5)
    left = torch.zeros(6, 10)
    left[:, :4] = 1
    assert torch.allclose(masked_gram(features, left), gram(features[..., :4]), rtol=1e-5)


def test_soft_masks_blend_at_boundaries_and_sum_to_one():
    labels = mask_labels(encode_mask(halves(), ("#ff0000=1", "#0000ff=photo")), ("#ff0000=1", "#0000ff=photo"))
    soft = RegionMasks(labels, [0, None], (48, 64), 0.05, CPU)
    hard = RegionMasks(labels, [0, None], (48, 64), 0.0, CPU)
    assert torch.allclose(soft.masks.sum(0), torch.ones(48, 64), atol=1e-5)
    assert set(hard.masks[0].unique().tolist()) == {0.0, 1.0}
    row = soft.masks[0, 24]
    assert row[0] == pytest.approx(1) and row[-1] == pytest.approx(0, abs=1e-6)
    assert 0.2 < row[31] < 0.8 and 0.2 < row[32] < 0.8  # a gradual edge, not a step
    assert soft.shares == pytest.approx([0.5, 0.5], abs=1e-3)
    assert torch.allclose(soft.at((6, 8)).sum(0), torch.ones(6, 8), atol=1e-5)


# -- real runs ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs():
    return scene(64, 48), [stripes(64), checks(64)]


def _style_matrix(image: np.ndarray, styles: list[Image.Image], settings: Settings) -> np.ndarray:
    """Each region's style loss (rows) against each style (columns), measured on the result."""
    regions = RegionMasks(mask_labels(settings.mask, settings.regions), masks.region_styles(settings.regions),
                          image.shape[:2], settings.region_blur, CPU)
    tensors = [to_tensor(resize_max_side(s, settings.size), CPU) for s in styles]
    result = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    return np.array(style_matrix(load_model(), result, tensors, regions, settings.style_layers,
                                 settings.layer_weights))


@pytest.mark.slow
def test_each_region_takes_its_own_style(inputs):
    """Both ways round, so the result cannot owe it to the content already resembling a style."""
    content, styles = inputs
    for regions in (("#ff0000=1", "#0000ff=2"), ("#ff0000=2", "#0000ff=1")):
        settings = region_settings(regions)
        matrix = _style_matrix(run(content, styles, settings).image, styles, settings)
        own = [masks.region_styles(regions)[r] for r in range(2)]
        for r in range(2):
            assert matrix[r, own[r]] < 0.5 * matrix[r, 1 - own[r]], (regions, matrix)


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_a_photo_region_stays_close_to_the_content(inputs):
    content, styles = inputs
    settings = region_settings(("#ff0000=2", "#0000ff=photo"), steps=15)
    records = list(stylize(content, styles, settings))
    out = records[-1].image.astype(float)
    before = np.asarray(content, dtype=float)
    styled, kept = np.abs(out - before)[:, :24].mean(), np.abs(out - before)[:, 40:].mean()
    assert styled > 20 and kept < 0.25 * styled, (styled, kept)
    assert records[0].raw["style"] > 0 and records[-1].raw["style"] < records[0].raw["style"]


def test_mask_and_content_of_different_shapes_is_a_clear_error(inputs):
    content, styles = inputs
    settings = region_settings(("#ff0000=1", "#0000ff=2"), paint=halves(60, 48))
    with pytest.raises(SettingsError, match="the mask is 60×48 pixels but the content is 64×48"):
        next(stylize(content, styles, settings))
    with pytest.raises(SettingsError, match="region #0000ff=2 names style image 2, but 1 style image was given"):
        next(stylize(content, styles[:1], region_settings(("#ff0000=1", "#0000ff=2"))))
    with pytest.raises(SettingsError, match="the mask is 60×48 pixels but the content is 64×48; paint it"):
        encode_mask(halves(60, 48), ("#ff0000=1", "#0000ff=2"), size=(64, 48))


def test_a_recipe_carries_the_mask(inputs):
    settings = region_settings(("#ff0000=1", "#0000ff=photo"), region_blur=0.1)
    recipe = read_recipe(png_bytes(Image.new("RGB", (8, 8)), make_recipe(settings)))
    assert settings_from_recipe(recipe) == settings
    assert recipe["settings"]["regions"] == ["#ff0000=1", "#0000ff=photo"]
    assert len(json.dumps(recipe)) < 4000


# -- the command line -------------------------------------------------------------------------------
@pytest.fixture()
def files(tmp_path):
    paths = [tmp_path / name for name in ("content.png", "a.png", "b.png")]
    for image, path in zip((scene(96, 64), stripes(64), checks(64)), paths):
        image.save(path)
    return tmp_path, [str(p) for p in paths]


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_cli_mask_and_regions_run_and_rerun_from_the_recipe(files):
    tmp, (content, a, b) = files
    out, again = tmp / "out.png", tmp / "again.png"
    flags = ["--size", "48", "--steps", "4", "--multiscale", "off", "--quiet"]
    assert main([content, a, b, "-o", str(out), "--mask", str(DATA / "mask-96x64.png"), "--region", "#ff0000=1",
                 "--region", "#0000ff=2", "--region", "#ffffff=photo", *flags]) == 0
    settings = settings_from_recipe(read_recipe(out))
    assert settings.regions == ("#ff0000=1", "#0000ff=2", "#ffffff=photo")
    assert mask_pixels(settings.mask).shape == (64, 96, 3)
    assert main([content, a, b, "-o", str(again), "--recipe", str(out), "--quiet"]) == 0
    assert Image.open(again).tobytes() == Image.open(out).tobytes()
    # The CLI's default start (the fast result): the white, photo, region is still the photo.
    with Image.open(out) as result, Image.open(content) as photo:
        assert photo_region_ssim(np.asarray(result.convert("RGB")), photo, settings) >= 0.8


@pytest.mark.parametrize("extra, message", [
    (["--region", "#ff0000=1", "--region", "#0000ff=2"], "colour #ffffff and others (40.2% of it) that no region"),
    (["--regions", "#ff0000=1,#0000ff=3,#ffffff=photo"], "names style image 3, but 2 style images were given"),
    ([], "give at least one region"),
])
def test_cli_region_mistakes_exit_with_one_line(files, capsys, extra, message):
    tmp, (content, a, b) = files
    code = main([content, a, b, "-o", str(tmp / "x.png"), "--mask", str(DATA / "mask-96x64.png"), "--steps", "1",
                 "--size", "32", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_cli_mask_of_another_size_exits_with_one_line(files, capsys):
    tmp, (content, a, b) = files
    small = tmp / "small.png"
    Image.open(DATA / "mask-96x64.png").resize((48, 32)).save(small)
    code = main([content, a, "-o", str(tmp / "x.png"), "--mask", str(small), "--region", "#ff0000=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "the mask is 48×32 pixels but the content is 96×64" in err


# -- every start keeps the photo regions ------------------------------------------------------------
STYLED_LEFT = ("#ff0000=1", "#0000ff=photo")  # halves(): red (left) takes style 1, blue (right) keeps the photo


def _halves_settings(size: int, regions: tuple[str, ...] = STYLED_LEFT, **changes) -> Settings:
    """The default preset (the CLI's and the studio's: init fast, 60 steps) with a halves() mask of a 4:3 content."""
    return preset("fast", size=size, mask=encode_mask(halves(size, size * 3 // 4), regions), regions=regions,
                  **changes)


def _half_ssims(image: np.ndarray, content: Image.Image) -> tuple[float, float]:
    """The luminance SSIM to the photo of the (styled) left and (photo) right half of a result."""
    height, width = image.shape[:2]
    ssim = luminance_ssim(image, np.asarray(content.resize((width, height), Image.Resampling.LANCZOS)))
    return float(ssim[:, : width // 2].mean()), float(ssim[:, width // 2:].mean())


def test_the_fast_start_paints_each_region_in_its_own_style():
    """Each styled region is the fast network's painting in its own style alone, a photo region the
    photo, blended by the loss's soft masks; the fast method (method="fast") paints regions so too."""
    content, styles = scene(96, 72), [stripes(64), checks(64)]
    photo = to_tensor(content, CPU)
    alone = [paint(photo, [style], [1.0], Settings(size=96)) for style in styles]
    for regions, right in ((("#ff0000=1", "#0000ff=2"), alone[1]), (STYLED_LEFT, photo)):
        settings = Settings(size=96, mask=encode_mask(halves(96, 72), regions), regions=regions)
        painted = paint(photo, styles, [0.5, 0.5], settings)
        # Exact away from the edge: the blur (σ = 0.02 × 96 ≈ 1.9 px) is gone within 3σ.
        assert torch.allclose(painted[..., :40], alone[0][..., :40], atol=1e-5)
        assert torch.allclose(painted[..., 56:], right[..., 56:], atol=1e-5)
        assert 0 < (painted[..., 47] - alone[0][..., 47]).abs().max() < (right - alone[0])[..., 47].abs().max()
        fast = run(content, styles, settings.replace(method="fast")).image
        assert np.array_equal(fast, np.asarray(to_uint8(painted)))


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
@pytest.mark.parametrize("init", ["fast", "noise", "style", "image", "content"])
def test_a_photo_region_starts_every_scale_as_the_photo_and_stays_there(init):
    """Each scale's start (the init's picture, then the previous scale's result) is the photo in
    photo regions, and an optimiser step leaves them there; elsewhere the start is the init's own."""
    content, style = scene(96, 72), stripes(64)
    start = checks(96) if init == "image" else None
    settings = _halves_settings(96, init=init, multiscale="on", min_scale=48)
    job = _Run(content, [style], settings, None, GRAMS, start=start)
    assert [plan.shape for plan in job.plan.scales] == [(36, 48), (72, 96)]
    first = job.scale(0, None)
    photo = _resize(to_tensor(content, CPU), (36, 48))  # the content at the first scale, as the engine makes it
    for _ in range(2):  # the start, then after a step
        assert torch.allclose(first.x[..., 28:].detach(), photo[..., 28:], atol=1e-5)  # away from the soft edge
        _step(first)
    if init != "content":
        assert (first.x[..., :20] - photo[..., :20]).abs().mean() > 0.05  # the init's picture where the style goes
    second = job.scale(1, torch.rand(3, 36, 48, generator=torch.Generator().manual_seed(0)))
    photo = to_tensor(content, CPU)
    assert torch.allclose(second.x[..., 56:].detach(), photo[..., 56:], atol=1e-5)
    _step(second)
    assert torch.allclose(second.x[..., 56:].detach(), photo[..., 56:], atol=1e-5)


@pytest.mark.slow
def test_a_photo_region_keeps_the_photo_under_the_default_preset():
    """The default preset (init fast, 60 steps) used to leave the photo half painted (SSIM to the photo
    0.50 here); now it keeps the photo (0.95; the bar is 0.8: only the soft edge and the SSIM window
    reaching across it lower it, whatever the precision, since the held pixels do not move), while
    the styled half moves as far from the photo as a one-style run's does (0.25 and 0.26; a margin
    of 0.1: the two runs take different paths, and bf16 rounding moves each a little)."""
    content, style = scene(96, 72), stripes(64)
    settings = _halves_settings(96)
    styled, kept = _half_ssims(run(content, [style], settings).image, content)
    alone, _ = _half_ssims(run(content, [style], settings.replace(mask=None, regions=None)).image, content)
    assert kept >= 0.8, (styled, kept)
    assert styled < alone + 0.1, (styled, alone)


@pytest.mark.parametrize("how", ["noise", "continued", pytest.param("tiled", marks=pytest.mark.slow)])
def test_a_photo_region_keeps_the_photo_in_runs_of_every_kind(how):
    """A few steps from noise, continued at 2× from a picture whose photo half is not the photo, and
    tiled (192 px and shallow layers, the least that tiles, as in test_print): the photo half keeps
    the photo."""
    size = 192 if how == "tiled" else 96
    content, style = scene(size, size * 3 // 4), stripes(64)
    settings, start = _halves_settings(size, steps=4), None
    if how == "noise":
        settings = settings.replace(init="noise")
    elif how == "continued":
        settings, start = continued(_halves_settings(48), steps=4), checks(48)
        assert (settings.size, settings.mask, settings.regions) == (96, _halves_settings(48).mask, STYLED_LEFT)
    else:
        settings = settings.replace(multiscale="off", content_layers=("conv3_2",),
                                    style_layers=("conv1_1", "conv2_1", "conv3_1"))
        settings = settings.replace(max_memory=(plan_run(settings, content.size, [style.size]).peak
                                                + least_budget(settings, content.size, [style.size])) // 2)
    records = list(stylize(content, [style], settings, start=start))
    if how == "tiled":
        assert records[-1].tiles is not None and records[-1].tiles.count >= 2
    styled, kept = _half_ssims(records[-1].image, content)
    assert kept >= 0.8 and styled < kept - 0.25, (styled, kept)  # kept 0.95-1.0, styled 0.03-0.6 on the AMX Xeon


def test_variants_of_a_regions_run_keep_its_regions():
    base = _halves_settings(96)
    for variant in variants(base, 3):
        assert (variant.settings.mask, variant.settings.regions) == (base.mask, base.regions)
        assert (variant.full(base).mask, variant.full(base).regions) == (base.mask, base.regions)
