"""Real runs of the engine on small generated images (CPU)."""

import threading

import numpy as np
import pytest
import torch

from nst.model import color
from nst.model.cache import GramCache
from nst.core.errors import DeviceError, ImageError
from nst.engine import run, scale_sides, split_steps, stylize, to_tensor
from nst.core.settings import Settings, SettingsError
from tests.support.synthetic import checks, scene, stripes

pytestmark = pytest.mark.unit

SMALL = dict(size=64, multiscale="off", preview_every=2)


@pytest.fixture(scope="module")
def pair():
    return scene(64, 48), stripes(64)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("init", ["content", "noise", "style"])
def test_every_optimiser_and_init_lowers_the_total_loss(pair, optimizer, init):
    content, _ = pair
    settings = Settings(steps=16, optimizer=optimizer, init=init, **SMALL)
    records = list(stylize(content, [checks(64)], settings))
    first, last = records[0].losses["total"], records[-1].losses["total"]
    assert last < 0.7 * first, (first, last)
    assert len(records) == 16 and records[-1].done and not records[-1].stopped


def test_records_carry_every_term_and_periodic_images(pair):
    content, style = pair
    records = list(stylize(content, [style], Settings(steps=5, tv_weight=1.0, **SMALL)))
    assert [r.step for r in records] == [1, 2, 3, 4, 5]
    assert all(r.total_steps == 5 for r in records)
    first = records[0]
    assert set(first.losses) == {"content", "style", "tv", "total"}
    assert {"content", "style", "tv", "style/conv1_1", "style/conv5_1"} <= set(first.raw)
    assert first.losses["style"] == pytest.approx(Settings.style_weight * first.raw["style"], rel=1e-5)
    assert first.losses["total"] == pytest.approx(sum(first.losses[k] for k in ("content", "style", "tv")),
                                                  rel=1e-5)
    with_image = [r.step for r in records if r.image is not None]
    assert with_image == [1, 2, 4, 5]  # the first, every preview_every steps, and the last
    final = records[-1].image
    assert final.dtype == np.uint8 and final.shape == (48, 64, 3)
    assert all(b.elapsed >= a.elapsed for a, b in zip(records, records[1:]))


def test_stop_event_ends_the_run_within_one_step_and_returns_the_image(pair):
    content, style = pair
    stop = threading.Event()
    records = []
    for record in stylize(content, [style], Settings(steps=50, **SMALL), stop=stop):
        records.append(record)
        if record.step == 3:
            stop.set()
    assert [r.step for r in records] == [1, 2, 3, 3]
    final = records[-1]
    assert final.stopped and final.done and final.image is not None and final.image.shape == (48, 64, 3)


def test_consumer_can_simply_stop_iterating(pair):
    content, style = pair
    it = stylize(content, [style], Settings(steps=50, **SMALL))
    assert next(it).step == 1
    it.close()  # no further steps run; nothing hangs
    with pytest.raises(StopIteration):
        next(it)


def test_seeded_cpu_runs_are_bit_identical(pair):
    content, style = pair
    settings = Settings(steps=6, init="noise", seed=7, device="cpu", **SMALL)
    a = run(content, [style], settings).image
    b = run(content, [style], settings).image
    c = run(content, [style], settings.replace(seed=8)).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_luminance_mode_keeps_the_contents_chroma(pair):
    content, style = pair
    out = run(content, [style], Settings(steps=8, preserve_color="luminance", **SMALL)).image
    yiq_out = color.rgb_to_yiq(torch.from_numpy(out).permute(2, 0, 1).float() / 255)
    yiq_in = color.rgb_to_yiq(to_tensor(content, torch.device("cpu")))
    # chroma (I, Q) equal up to uint8 rounding and clipping; luminance changed by the style
    assert (yiq_out[1:] - yiq_in[1:]).abs().mean() < 0.01
    assert (yiq_out[0] - yiq_in[0]).abs().mean() > 0.01


def test_histogram_matching_gives_the_style_the_contents_colour_statistics(pair):
    content, _ = pair
    c = to_tensor(content, torch.device("cpu"))
    s = to_tensor(stripes(64), torch.device("cpu"))
    matched = color.match_histogram(s, c)
    assert torch.allclose(matched.reshape(3, -1).mean(1), c.reshape(3, -1).mean(1), atol=0.03)
    # clipping the matched image to [0, 1] trims a little variance
    assert torch.allclose(torch.cov(matched.reshape(3, -1)), torch.cov(c.reshape(3, -1)), atol=0.015)
    assert not torch.allclose(torch.cov(s.reshape(3, -1)), torch.cov(c.reshape(3, -1)), atol=0.015)


def test_histogram_mode_result_keeps_content_colours_better(pair):
    content, _ = pair
    style = checks(64)
    mean = lambda img: img.reshape(-1, 3).mean(0) / 255  # noqa: E731
    target = np.asarray(content).reshape(-1, 3).mean(0) / 255
    plain = run(content, [style], Settings(steps=10, **SMALL)).image
    kept = run(content, [style], Settings(steps=10, preserve_color="histogram", **SMALL)).image
    assert np.abs(mean(kept) - target).sum() < np.abs(mean(plain) - target).sum()


def test_multi_style_and_multi_scale_reach_the_requested_size():
    content = scene(120, 80)
    settings = Settings(size=80, steps=9, multiscale="on", min_scale=20, style_blend=(1.0, 3.0))
    records = list(stylize(content, [stripes(64), checks(48)], settings))
    assert [r.n_scales for r in records][0] == 3
    assert sorted({r.shape for r in records}) == [(13, 20), (26, 40), (53, 80)]  # 53·20/80 = 13.3
    assert records[-1].image.shape == (53, 80, 3) and records[-1].step == 9


def test_scale_plan():
    assert scale_sides(512, Settings()) == [128, 256, 512]
    assert scale_sides(700, Settings()) == [175, 350, 700]
    assert scale_sides(200, Settings()) == [200]  # auto: small outputs run at one scale
    assert scale_sides(512, Settings(multiscale="off")) == [512]
    # auto: a start that is already a picture runs at the output size; "on" still goes coarse to fine
    assert scale_sides(512, Settings(init="fast")) == scale_sides(512, Settings(init="image")) == [512]
    assert scale_sides(512, Settings(init="noise")) == scale_sides(512, Settings(init="style")) == [128, 256, 512]
    assert scale_sides(512, Settings(init="fast", multiscale="on")) == [128, 256, 512]
    for total, n in [(300, 3), (3, 3), (2, 3), (1000, 4)]:
        steps = split_steps(total, n)
        assert sum(steps) == total and steps[-1] >= 1
    assert split_steps(300, 3)[0] > split_steps(300, 3)[-1]  # most steps at low resolution


def test_content_only_and_style_only_runs(pair):
    content, style = pair
    recon = run(content, [], Settings(steps=8, style_weight=0, init="noise", content_layers=("conv2_2",), **SMALL))
    assert recon.losses["style"] == 0 and recon.image.shape == (48, 64, 3)
    texture = run(content, [style], Settings(steps=8, content_weight=0, init="noise", **SMALL))
    assert texture.losses["content"] == 0


def test_style_targets_are_cached_and_bounded(pair):
    content, style = pair
    cache = GramCache()
    settings = Settings(steps=2, **SMALL)
    run(content, [style], settings, cache=cache)
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
    run(content, [style], settings.replace(seed=3, content_weight=2.0), cache=cache)
    assert (cache.hits, len(cache)) == (1, 1)
    run(content, [style], settings.replace(style_layers=("conv1_1",)), cache=cache)
    assert len(cache) == 2
    tiny = GramCache(max_bytes=100_000)  # conv1_1 + conv2_1 Grams: 80 kB a style, so room for one
    run(content, [style], settings.replace(style_layers=("conv1_1", "conv2_1")), cache=tiny)
    run(content, [checks(64)], settings.replace(style_layers=("conv1_1", "conv2_1")), cache=tiny)
    assert len(tiny) == 1


def test_impossible_settings_list_every_problem():
    with pytest.raises(SettingsError) as err:
        Settings(size=0, steps=0, content_weight=-1, style_layers=("conv9_1",))
    message = str(err.value)
    for part in ("size", "steps", "content_weight", "conv9_1"):
        assert part in message


def test_bad_run_inputs_give_clear_errors(pair):
    content, style = pair
    with pytest.raises(SettingsError, match="style_blend has 1 weights for 2 style images"):
        next(stylize(content, [style, style], Settings(style_blend=(1.0,), **SMALL)))
    with pytest.raises(SettingsError, match="at least one style image"):
        next(stylize(content, [], Settings(**SMALL)))
    with pytest.raises(DeviceError, match="cuda:99"):
        next(stylize(content, [style], Settings(device="cuda:99", **SMALL)))
    with pytest.raises(DeviceError, match="Unknown device"):
        next(stylize(content, [style], Settings(device="tpu", **SMALL)))


def test_images_too_small_for_the_network_are_refused_and_the_smallest_run():
    """Each side at least MIN_SIDE (16 px) in the file and once resized: a 400×8 strip, a 1×1 style or a
    strip that the output size squashes are refused with their sizes; 16 px sides run."""
    from PIL import Image

    small = Settings(steps=2, size=64, multiscale="off")
    with pytest.raises(ImageError, match=r"^The content image is 400×8 px; images need at least 16 px"):
        run(Image.new("RGB", (400, 8)), [stripes(32)], small)
    with pytest.raises(ImageError, match=r"The style image is 1×1 px"):
        run(scene(64, 48), [Image.new("RGB", (1, 1))], small)
    with pytest.raises(ImageError, match=r"at 64 px its short side would be 3 px"):
        run(Image.new("RGB", (400, 20)), [stripes(32)], small)
    out = run(Image.new("RGB", (64, 16), (200, 30, 30)), [Image.new("RGB", (16, 16), (0, 0, 255))], small).image
    assert out.shape == (16, 64, 3)


def test_a_run_stopped_at_a_coarse_scale_returns_the_output_size(pair):
    """Stopped during the first of three scales, the image is upsampled to the requested size and the
    record says which scale it came from."""
    content, style = pair
    stop = threading.Event()
    settings = Settings(size=128, steps=60, min_scale=32, multiscale="on", device="cpu")
    for record in stylize(content, [style], settings, stop=stop):
        if record.step == 2:
            stop.set()
    assert record.stopped and record.scale == 0 and record.n_scales == 3
    assert record.shape == (24, 32)  # where it was when stopped
    assert record.image.shape == (96, 128, 3)  # what the user asked for
