"""Process-wide resources for the pages: the cached VGG19 model, weights, the devices and their speed."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import streamlit as st
import torch

from nst import load_model
from nst.plan.device import describe, device_key, gpu_name, resolve_device
from nst.plan.estimate import StepCost
from nst.run.calibrate import measure_step_cost
from nst.model.fast import load_networks
from nst.model.vgg import VGG19Features
from nst.model.weights import NAMED_SOURCES, TORCHVISION_FILE
from studio.services.executors import cluster_gpus
from studio.services.limiter import measure_when_idle, shared_limiter
from studio.services.policy import policy


@st.cache_resource(show_spinner="Loading VGG19 …")
def cached_model(weights: str) -> VGG19Features:
    """The shared feature extractor for ``weights`` ('bundled' or 'torchvision')."""
    if weights not in NAMED_SOURCES:
        raise ValueError(f"weights must be one of {NAMED_SOURCES}, got {weights!r}")
    return load_model(weights)


@st.cache_resource(show_spinner="Loading the fast networks …")
def cached_fast_networks(device: str) -> None:
    """The fast method's networks, loaded once per process and device (the first fast result then
    comes in about a second, not after seconds of loading)."""
    load_networks(resolve_device(device))


def torchvision_usable() -> bool:
    """True when torchvision's VGG19 is already in the torch hub cache (the studio never downloads)."""
    return (Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE).is_file()


@st.cache_resource(ttl=60)  # a cluster's GPU nodes may come and go
def accelerator() -> tuple[str, str] | None:
    """(device setting, name) of the GPU 'auto' would pick, e.g. ('cuda', 'NVIDIA H100'), or the
    Ray cluster's GPUs when runs go there; None without one."""
    if policy().cluster is not None:
        gpus = cluster_gpus()
        return ("cuda", f"{gpus} on the Ray cluster") if gpus else None
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


@st.cache_resource(show_spinner=False)
def _step_cost_future(device: str) -> Future:
    """Warm-up of ``device`` on a background thread, in the time before a first Start: the VGG19
    and the fast networks are loaded (a Start that comes sooner waits only for what is still
    loading), then the step cost is measured. The measurement takes no place in the queue: it runs
    only while no run holds or waits for the device, stops within one short step when one arrives,
    and starts over once the device is idle again. So no run ever waits for it."""
    limiter, key = shared_limiter(), device_key(device)

    def warm_up() -> StepCost:
        load_model("bundled")
        load_networks(resolve_device(device))
        return measure_when_idle(limiter, key, lambda busy: measure_step_cost(device, stop=busy))

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nst-warm-up").submit(warm_up)


def measured_step_cost(device: str) -> StepCost | None:
    """This device's step cost once it has been measured (None until then, if it cannot be, or when
    runs go to a cluster, whose workers this machine cannot time)."""
    if policy().cluster is not None:
        return None
    future = _step_cost_future(device)
    if not future.done() or future.exception() is not None:
        return None
    return future.result()
