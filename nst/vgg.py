"""The VGG19 feature extractor: frozen convolutions, run only as deep as the requested layers."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Iterable

import torch
import torch.nn.functional as F

from nst.layers import CONV_LAYERS, POOLED, depth
from nst.memory import trim
from nst.weights import Preprocess, VGGWeights, load_weights



class VGG19Features:
    """Frozen VGG19 convolutions. Immutable after construction, so one instance serves every
    thread; a layer's (device, dtype) copy is decoded on first use, under a lock, so layers no
    run reaches (conv5_2 … conv5_4 by default) cost no memory."""

    def __init__(self, weights: VGGWeights) -> None:
        self.source = weights.source
        self.preprocess: Preprocess = weights.preprocess
        self._convs = weights.convs
        self._runtime: dict[tuple[int, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def _params(self, index: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        key = (index, str(device), dtype)
        params = self._runtime.get(key)
        if params is None:
            with self._lock:
                params = self._runtime.get(key)
                if params is None:
                    weight, bias = self._convs[CONV_LAYERS[index]].decode(device, dtype)
                    # channels_last lets oneDNN (CPU, AMX/AVX-512 bf16) and cuDNN pick their
                    # fastest kernels; the input is converted to match.
                    params = (weight.contiguous(memory_format=torch.channels_last), bias)
                    self._runtime[key] = params
        return params

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] batch (B, 3, H, W) to this network's input space."""
        p = self.preprocess
        x = image.flip(1) if p.bgr else image
        mean = torch.tensor(p.mean, device=image.device, dtype=image.dtype).view(1, 3, 1, 1)
        std = torch.tensor(p.std, device=image.device, dtype=image.dtype).view(1, 3, 1, 1)
        return (x * p.scale - mean) / std

    def features(self, image: torch.Tensor, layers: Iterable[str], *, pooling: str = "max",
                 dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """ReLU outputs at ``layers`` for an RGB [0, 1] batch, in ``dtype``; stops at the deepest."""
        wanted = set(layers)
        last = depth(wanted)
        x = self.normalize(image).to(dtype).contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        pool = F.max_pool2d if pooling == "max" else F.avg_pool2d
        for index in range(last + 1):
            weight, bias = self._params(index, image.device, dtype)
            # In place: the conv's output is not needed for its backward, only the ReLU's result.
            x = F.relu_(F.conv2d(x, weight, bias, padding=1))
            name = CONV_LAYERS[index]
            if name in wanted:
                out[name] = x
            if name in POOLED and index < last:
                x = pool(x, 2, ceil_mode=True)
        return out


_load_lock = threading.Lock()


def load_model(weights: str = "bundled") -> VGG19Features:
    """The shared model for a weights source, loaded once per process."""
    with _load_lock:  # two threads asking at once must not both decode the file
        return _load_cached(weights)


@lru_cache(maxsize=4)
def _load_cached(weights: str) -> VGG19Features:
    model = VGG19Features(load_weights(weights))
    trim()  # the file's tensors we do not keep (a full torchvision file: 0.5 GB of classifier) are freed
    return model
