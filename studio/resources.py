"""Process-wide resources for the pages: the cached VGG19 model, weights and device availability."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from nst import load_model
from nst.device import describe, gpu_name, resolve_device
from nst.vgg import VGG19Features
from nst.weights import TORCHVISION_FILE
from studio.state import WEIGHT_SOURCES


@st.cache_resource(show_spinner="Loading VGG19 …")
def cached_model(weights: str) -> VGG19Features:
    """The shared feature extractor for ``weights`` ('bundled' or 'torchvision')."""
    if weights not in WEIGHT_SOURCES:
        raise ValueError(f"weights must be one of {WEIGHT_SOURCES}, got {weights!r}")
    return load_model(weights)


def torchvision_usable() -> bool:
    """True when torchvision's VGG19 is already in the torch hub cache (the studio never downloads)."""
    return (Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE).is_file()


@st.cache_resource
def accelerator() -> tuple[str, str] | None:
    """(device setting, name) of the GPU 'auto' would pick, e.g. ('cuda', 'NVIDIA H100'); None without one."""
    name = gpu_name()
    return None if name is None else (resolve_device("auto").type, name)


@st.cache_resource
def cpu_name() -> str:
    """Human name of the CPU device."""
    return describe(torch.device("cpu"))


def default_device() -> str:
    """The device setting a new form starts with: the GPU where there is one, else the CPU."""
    gpu = accelerator()
    return gpu[0] if gpu else "cpu"
