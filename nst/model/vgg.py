"""The VGG19 feature extractor: frozen convolutions, run only as deep as the requested layers."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from nst.core.vgg_layers import CONV_LAYERS, POOLED, depth
from nst.core.memory import trim
from nst.model.weights import Preprocess, VGGWeights, load_weights


class _MaxPool(torch.autograd.Function):
    """2×2 max pooling (ceil mode) that keeps its argmax indices as int32, half the bytes of
    PyTorch's int64: at 512 px the four pools' indices are 47 MB of the activations held for the
    backward. Its input is held anyway (the ReLU's backward needs it), so that costs nothing."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return F.max_pool2d(x, 2, ceil_mode=True)
        y, indices = F.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
        ctx.save_for_backward(x, indices.to(torch.int32))
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x, indices = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, [2, 2], [2, 2], [0, 0], [1, 1], True,
                                                               indices.long())


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2, ceil_mode=True)


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
        return dict(self.iter_features(image, layers, pooling=pooling, dtype=dtype))

    def iter_features(self, image: torch.Tensor, layers: Iterable[str], *, pooling: str = "max",
                      dtype: torch.dtype = torch.float32,
                      check: Callable[[], None] | None = None) -> Iterator[tuple[str, torch.Tensor]]:
        """(layer, ReLU output) for each of ``layers`` in network order, each yielded as soon as
        it is computed. ``check`` (a run's stop check, which raises to stop) is called before each
        layer and, in a backward through this pass, as the backward reaches each layer: at 4096 px
        one layer takes a second or two, a whole step minutes.

        A loss built from a layer before the pass goes deeper has its backward run when the
        backward reaches that layer (autograd runs later-made nodes first), not at its start
        while every activation is still held: at 512 px the shallow Gram gradients (about 50 MB)
        then never coincide with the peak.
        """
        wanted = set(layers)
        last = depth(wanted)
        x = self.normalize(image).to(dtype).contiguous(memory_format=torch.channels_last)
        pool = _MaxPool.apply if pooling == "max" else _avg_pool
        for index in range(last + 1):
            if check is not None:
                check()
            weight, bias = self._params(index, image.device, dtype)
            # In place: the conv's output is not needed for its backward, only the ReLU's result.
            x = F.relu_(F.conv2d(x, weight, bias, padding=1))
            if check is not None and x.requires_grad:
                x.register_hook(_checking(check))
            name = CONV_LAYERS[index]
            if name in wanted:
                yield name, x
            if name in POOLED and index < last:
                x = pool(x)


def _checking(check: Callable[[], None]) -> Callable[[torch.Tensor], None]:
    """A gradient hook that calls ``check`` and leaves the gradient as it is (an exception it
    raises ends the backward and reaches the caller of ``backward()`` as itself)."""

    def hook(grad: torch.Tensor) -> None:
        check()

    return hook


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
