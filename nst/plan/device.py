"""Device and precision choice: 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'; fp32, bf16 or fp16 convolutions."""

from __future__ import annotations

import platform

import torch

from nst.core.errors import DeviceError


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str) -> torch.device:
    """The torch device for a setting, or DeviceError saying what is available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise DeviceError("Device 'mps' is not available (it needs Apple silicon); use 'cpu' or 'auto'")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"Device {name!r} is not available: no CUDA GPU was found; use 'cpu' or 'auto'")
        index = 0
        if name != "cuda":
            suffix = name.split(":", 1)[1]
            if not suffix.isdigit():
                raise DeviceError(f"Device {name!r} is not valid; write cuda:N with N a GPU index")
            index = int(suffix)
        if index >= count:
            raise DeviceError(f"Device {name!r} is not available: this machine has {count} CUDA GPU(s)"
                              f" (cuda:0 … cuda:{count - 1})")
        return torch.device("cuda", index)
    raise DeviceError(f"Unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")


def cpu_has_bf16() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Convolution dtype. 'auto' takes reduced precision only where it is faster."""
    if precision == "fp32":
        return torch.float32
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and cpu_has_bf16():
            return torch.bfloat16
        return torch.float32
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cpu" and dtype == torch.float16:
        raise DeviceError("fp16 is not supported on the CPU; use bf16, fp32 or auto")
    return dtype


def describe(device: torch.device) -> str:
    """Human name of a device, e.g. 'NVIDIA H100 80GB HBM3' or 'CPU (x86_64, 2 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU ({platform.machine()}, {threads} thread{'' if threads == 1 else 's'})"


def gpu_name() -> str | None:
    """Name of the accelerator 'auto' would pick, or None when there is none."""
    device = resolve_device("auto")
    return None if device.type == "cpu" else describe(device)


def device_key(name: str) -> str:
    """The device a setting names, as one key per physical device ('cpu', 'cuda:0', 'mps'); the raw
    name when it names none here (the run itself then fails with :func:`resolve_device`'s message)."""
    try:
        device = resolve_device(name)
    except DeviceError:
        return name
    if device.type == "cuda":
        return f"cuda:{device.index or 0}"
    return device.type
