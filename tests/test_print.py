"""Print sizes: the memory model, tiled scales, "continue at 2×" (real engine runs, kept small).

Tiled runs here use the layers up to conv3_2, whose halo is 16 px (conv5_1's is 80), so that a
small image already splits into several tiles that each still have a core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.synthetic import checks, gradient, scene, stripes
from nst.plan.budget import held_memory, least_budget, plan_run
from nst.cli.main import main
from nst.model.cache import GRAMS
from nst.engine import _Run, run, stylize
from nst.core.errors import BudgetError, SettingsError
from nst.run.executor import LocalExecutor
from nst.io.images import load_image
from nst.core.masks import encode_mask
from nst.io.recipe import read_recipe
from nst.core.settings import CONTINUE_STEPS, Settings, continued, format_bytes, parse_bytes
from nst.plan.estimate import StepCost, estimate_seconds
from nst.model.tiles import make_grid

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # tiled runs beside untiled ones: about 30 s, out of the quick loop

SHALLOW = dict(content_layers=("conv3_2",), style_layers=("conv1_1", "conv2_1", "conv3_1"))
REPO = Path(__file__).resolve().parents[1]


CPU = torch.device("cpu")
HELD = 600 * 2**20  # what the process holds, for plans that do not measure it


def _tight(settings: Settings, content: Image.Image, styles: list[Image.Image]) -> Settings:
    """``settings`` with a budget halfway between the least it can run in and what it needs untiled,
    on top of what this process holds now (call it just before the run, which measures that again
    when it plans)."""
    sizes = [s.size for s in styles]
    untiled = plan_run(settings, content.size, sizes, CPU, held=0).peak
    least = least_budget(settings, content.size, sizes, CPU, held=0)
    return settings.replace(max_memory=held_memory(CPU) + (untiled + least) // 2)


# -- the memory model --------------------------------------------------------------------------

MEASURE = textwrap.dedent("""
    import json, sys
    from nst.engine import stylize
    from nst.plan.budget import least_budget, plan_run
    from nst.core.memory import trim
    from nst.core.settings import Settings
    from nst.model.vgg import load_model
    from tests.support.synthetic import scene, stripes

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

    load_model("bundled")
    size = int(sys.argv[1])
    content, style = scene(size, size * 3 // 4), stripes(size)
    settings = Settings(size=size, steps=2, multiscale="off", device="cpu", preview_every=1000)
    estimate = plan_run(settings, content.size, [style.size]).tensors  # the run, beyond the process
    trim()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from here
    for record in stylize(content, [style], settings):
        pass
    print(json.dumps([estimate, status("VmHWM") - before]))
""")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc to measure the peak")
def test_the_estimate_is_within_a_quarter_of_the_measured_peak():
    """Measured as the rise of the peak resident memory over a run (its first: the weights are
    decoded in it), each in a fresh process where glibc maps each block of 64 KB or more on its
    own, so that resident memory follows the tensors (its default keeps freed blocks of up to
    32 MB: see nst.core.memory)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    for size in (256, 384, 512):
        done = subprocess.run([sys.executable, "-c", MEASURE, str(size)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        estimate, measured = json.loads(done.stdout)
        print(f"{size} px: estimate {estimate / 2**20:.0f} MiB, measured {measured / 2**20:.0f} MiB")
        assert abs(estimate - measured) <= 0.25 * measured, (size, estimate, measured)


def test_the_plan_tiles_only_the_scales_that_do_not_fit():
    settings = Settings(size=2048, device="cpu", precision="bf16")
    untiled = plan_run(settings, (1024, 768), [(1024, 640)], CPU, HELD)
    assert not untiled.tiled and untiled.peak <= untiled.budget
    tight = plan_run(settings.replace(max_memory=untiled.peak // 3), (1024, 768), [(1024, 640)], CPU, HELD)
    tiled = [s.tiled for s in tight.scales]
    assert tiled[-1] and not tiled[0] and tiled == sorted(tiled)  # the finest scales, and only those
    assert tight.peak <= tight.budget == untiled.peak // 3
    assert all(s.steps == t.steps and s.shape == t.shape for s, t in zip(untiled.scales, tight.scales))


def test_a_run_with_regions_is_tiled_where_it_does_not_fit():
    """Where the plain run would tile, a run with regions tiles too, within the budget; its plan
    counts the masks and the masked copies (a higher peak than without)."""
    mask = encode_mask(np.repeat(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8), 48, axis=0).repeat(32, axis=1),
                       ("#ff0000=1", "#0000ff=photo"))
    plain = Settings(size=1024, device="cpu", precision="bf16")
    painted = plain.replace(mask=mask, regions=("#ff0000=1", "#0000ff=photo"))
    whole = plan_run(painted, (1024, 768), [(1024, 640)], CPU, HELD)
    assert not whole.tiled and whole.peak > plan_run(plain, (1024, 768), [(1024, 640)], CPU, HELD).peak
    half = plan_run(painted.replace(max_memory=whole.peak // 2), (1024, 768), [(1024, 640)], CPU, HELD)
    assert half.tiled and half.peak <= whole.peak // 2


def test_a_tiled_run_with_regions_follows_the_untiled_one(texture):
    """Two styled regions and a photo region, in fp32: tiled, each region's masked Gram is summed
    over the cores, so a tiled evaluation has the untiled loss and gradient (to rounding), and a
    tiled run takes the untiled run's losses step by step."""
    content, style = texture
    third = 192 // 3
    painted = np.zeros((144, 192, 3), np.uint8)
    painted[:, :third] = (255, 0, 0)
    painted[:, third:2 * third] = (0, 0, 255)
    painted[:, 2 * third:] = (0, 255, 0)
    regions = ("#ff0000=1", "#0000ff=2", "#00ff00=photo")
    styles = [style, checks(96)]
    settings = Settings(size=192, steps=6, multiscale="off", optimizer="adam", precision="fp32", device="cpu",
                        preview_every=1000, mask=encode_mask(painted, regions), regions=regions, **SHALLOW)

    image = torch.rand(3, 144, 192, generator=torch.Generator().manual_seed(0))
    evaluated = []
    for tight in (False, True):
        each = _tight(settings, content, styles) if tight else settings  # after the first run's loads
        objective = _Run(content, styles, each, None, GRAMS).scale(0, None).objective
        x = image.clone().requires_grad_(True)
        total = objective(x)[0]
        total.backward()
        evaluated.append((total.item(), x.grad, objective.grid))
    (loss, grad, grid), (tiled_loss, tiled_grad, tiled_grid) = evaluated
    assert grid is None and tiled_grid.count >= 4
    assert tiled_loss == pytest.approx(loss, rel=1e-5)
    assert ((tiled_grad - grad).norm() / grad.norm()).item() < 1e-5

    whole = list(stylize(content, styles, settings))
    tiled = list(stylize(content, styles, _tight(settings, content, styles)))
    assert all(r.tiles is None for r in whole) and all(r.tiles.count >= 4 for r in tiled)
    for a, b in zip(whole, tiled):
        assert b.losses["total"] == pytest.approx(a.losses["total"], rel=1e-4)
        assert b.raw["style/conv2_1"] == pytest.approx(a.raw["style/conv2_1"], rel=1e-4)


def test_the_least_budget_is_exact():
    settings = Settings(size=2048, device="cpu", precision="bf16")
    least = least_budget(settings, (1024, 768), [(1024, 640)], CPU, HELD)
    plan = plan_run(settings.replace(max_memory=least), (1024, 768), [(1024, 640)], CPU, HELD)
    assert plan.tiled and plan.peak <= least
    with pytest.raises(BudgetError, match=f"needs at least {format_bytes(least)} of memory"):
        plan_run(settings.replace(max_memory=int(least * 0.98)), (1024, 768), [(1024, 640)], CPU, HELD)


def test_a_budget_too_small_for_one_tile_is_a_clear_error(tmp_path, capsys):
    settings = Settings(size=2048, steps=3, max_memory=parse_bytes("64M"))
    with pytest.raises(BudgetError, match=r"^A 2048×1536 result needs at least [\d.]+[MG] of memory .*"
                                          r"but max_memory is 64M; raise max_memory or lower the size\.$"):
        next(stylize(scene(96, 72), [stripes(64)], settings))
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    scene(96, 72).save(content)
    stripes(64).save(style)
    assert main([str(content), str(style), "-o", str(tmp_path / "o.png"), "--size", "2048", "--max-memory", "64M"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error: A 2048×1536 result needs at least") and len(err.splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


# -- tiled scales ------------------------------------------------------------------------------


def test_every_grid_covers_the_image_with_cores_inside_their_tiles():
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        halo, align = [(80, 16), (16, 4), (40, 8)][int(torch.randint(3, ()))]
        height, width = (int(v) for v in torch.randint(16, 1500, (2,)))
        tile = tuple(2 * halo + align * int(v) for v in torch.randint(1, 60, (2,)))
        grid = make_grid(height, width, tile, halo, align, generator)
        shapes = set()
        for edges, length in ((grid.rows, height), (grid.cols, width)):
            assert edges[0] == 0 and edges[-1] == length and all(a < b for a, b in zip(edges, edges[1:]))
            assert all(e % align == 0 for e in edges[:-1])
        for (top, bottom, left, right), (t, b, l, r) in grid.tiles():
            assert t % align == 0 and l % align == 0 and 0 <= t and b <= height and 0 <= l and r <= width
            assert t <= max(0, top - halo) and b >= min(height, bottom + halo)
            assert l <= max(0, left - halo) and r >= min(width, right + halo)
            shapes.add((b - t, r - l))
            assert b - t < tile[0] + align and r - l < tile[1] + align
        assert len(shapes) <= 4  # a few kernels' worth, whatever the draw


@pytest.fixture(scope="module")
def texture():
    return gradient(192, 144, seed=3), stripes(96)


def test_a_tiled_run_follows_the_untiled_one(texture):
    """Adam (no history the budget could shorten) in fp32: the tiled steps take the same loss and,
    to rounding, the same gradient, so the runs stay together; every step has its own grid.

    Pinned to fp32: the images can only agree where the gradients do. Adam's step is about ``lr``
    whatever a gradient's size (Kingma & Ba, §2.1), so a pixel whose gradient is within rounding
    of zero moves ±lr by the way rounding tips it, and two runs can part there by up to
    2·lr·steps (0.24 here) however precise the arithmetic. What the precision bounds is how many
    pixels tip: in fp32 (ε = 2⁻²⁴; tiled and untiled gradients within about 1e-6 of each other)
    0.3 % of them ended more than one 8-bit level apart on the AMX Xeon (largest 3002/65535); in
    bf16 (ε = 2⁻⁸) 9 %, so bf16 holds only to the losses."""
    content, style = texture
    settings = Settings(size=192, steps=6, multiscale="off", optimizer="adam", precision="fp32", device="cpu",
                        preview_every=1000, **SHALLOW)
    whole = list(stylize(content, [style], settings))
    tiled = list(stylize(content, [style], _tight(settings, content, [style])))
    assert all(r.tiles is None for r in whole) and all(r.tiles.count >= 4 for r in tiled)
    assert len({(r.tiles.rows, r.tiles.cols) for r in tiled}) > 1  # the edges move
    for a, b in zip(whole, tiled):
        assert b.losses["total"] == pytest.approx(a.losses["total"], rel=1e-4)
        assert b.raw["style/conv1_1"] == pytest.approx(a.raw["style/conv1_1"], rel=1e-4)
    difference = np.abs(whole[-1].image16.astype(int) - tiled[-1].image16.astype(int))
    assert difference.mean() < 8  # mostly equal: on average a thirtieth of an 8-bit level (257)
    assert (difference > 257).mean() < 0.01  # beyond one 8-bit level: only the pixels that tip
    assert difference.max() <= 2 * settings.learning_rate * settings.steps * 65535  # Adam's reach
    assert tiled[-1].done and tiled[-1].image.shape == (144, 192, 3)


@pytest.mark.slow
def test_no_seams_where_the_last_tiles_met(texture):
    """The mean gradient magnitude across the tile edges of the last steps is within 10 % of the
    mean across every other row and column of pixels."""
    content, style = texture
    settings = Settings(size=192, steps=10, multiscale="off", precision="fp32", device="cpu", preview_every=1000,
                        **SHALLOW)
    records = list(stylize(content, [style], _tight(settings, content, [style])))
    image = records[-1].image.astype(np.float64) / 255
    across_cols = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))  # [c - 1]: between columns c - 1 and c
    across_rows = np.abs(np.diff(image, axis=0)).mean(axis=(1, 2))
    cols = sorted({c - 1 for r in records[-3:] for c in r.tiles.cols[1:-1]})
    rows = sorted({e - 1 for r in records[-3:] for e in r.tiles.rows[1:-1]})
    assert cols and rows
    edges = np.concatenate([across_cols[cols], across_rows[rows]])
    elsewhere = np.concatenate([np.delete(across_cols, cols), np.delete(across_rows, rows)])
    ratio = edges.mean() / elsewhere.mean()
    print(f"across tile edges / elsewhere: {ratio:.3f} over {len(cols)} columns and {len(rows)} rows")
    assert 0.9 <= ratio <= 1.1


# -- continue at 2× ----------------------------------------------------------------------------


def test_continue_at_twice_the_size_starts_from_the_result():
    content, style = scene(64, 48), stripes(64)
    first = run(content, [style], Settings(size=48, steps=20, multiscale="off"))
    again = continued(Settings(size=48, steps=20, multiscale="off"), steps=3)
    assert (again.size, again.init, again.multiscale, again.steps) == (96, "image", "off", 3)
    assert continued(Settings()).steps == CONTINUE_STEPS
    # Through the executor seam, as the studio's "Continue at 2×" submits it.
    records = list(LocalExecutor().submit(content, [style], again, start=Image.fromarray(first.image)).records())
    assert records[-1].image.shape == (72, 96, 3) and records[-1].image16.shape == (72, 96, 3)
    fresh = next(stylize(content, [style], again.replace(init="content")))
    assert records[0].raw["style"] < 0.7 * fresh.raw["style"]  # it starts stylised, not from the photo
    with pytest.raises(SettingsError, match="init 'image' starts from an image"):
        next(stylize(content, [style], again))
    with pytest.raises(SettingsError, match="a start image was given but init is 'content'"):
        next(stylize(content, [style], Settings(size=48), start=Image.fromarray(first.image)))
    with pytest.raises(SettingsError, match="size must be"):
        continued(Settings(size=4096))


def test_cli_continues_a_result_at_2x(tmp_path):
    content, style, first, second = (tmp_path / n for n in ("c.png", "s.png", "a.png", "b.tif"))
    scene(96, 64).save(content)
    stripes(64).save(style)
    assert main([str(content), str(style), "-o", str(first), "--size", "48", "--steps", "4", "--quiet"]) == 0
    assert main([str(content), str(style), "-o", str(second), "--recipe", str(first), "--size", "2X",
                 "--from", str(first), "--steps", "2", "--quiet"]) == 0
    assert load_image(second).size == (96, 64)
    recipe = read_recipe(second)
    assert recipe["start"] == "a.png" and recipe["settings"]["size"] == 96
    assert (recipe["settings"]["init"], recipe["settings"]["multiscale"]) == ("image", "off")
    assert main([str(content), str(style), "-o", str(tmp_path / "c.png"), "--recipe", str(second), "--quiet"]) == 2


# -- the 16-bit result and the time estimate ---------------------------------------------------


def test_the_last_record_carries_the_result_in_16_bits():
    last = run(scene(64, 48), [stripes(64)], Settings(size=48, steps=4, multiscale="off"))
    assert last.image16.dtype == np.uint16 and last.image16.shape == last.image.shape
    assert np.abs(last.image16 / 257 - last.image).max() <= 0.5 + 1e-9
    assert (last.image16 % 257 != 0).mean() > 0.5  # finer than 8 bits, not 8 bits scaled up


def test_the_time_estimate_grows_with_size_and_tiles():
    settings, cost = Settings(size=512, device="cpu", **SHALLOW), StepCost(fixed=0.01, per_megapixel=2.0)
    small = estimate_seconds(settings, (1024, 768), cost, [(1024, 640)])
    large = estimate_seconds(settings.replace(size=1024), (1024, 768), cost, [(1024, 640)])
    assert 0 < small < large
    untiled = plan_run(settings.replace(size=1024), (1024, 768), [(1024, 640)], CPU, held=0).peak
    budget = held_memory(CPU) + untiled // 2  # the process's memory, and half what the run needs untiled
    tiled = estimate_seconds(settings.replace(size=1024, max_memory=budget), (1024, 768), cost, [(1024, 640)])
    assert tiled > large
