"""The fast method's networks on a GPU: onnxruntime's CUDA provider against the torch conversion.

Run ``python -m bench.fast_gpu [--sides 512,1024,2048] [--runs 10] [--content P --style P]`` on a
CUDA machine (images default to ``../shared/images``' golden_gate × shipwreck). For each
side it times one pass of the arbitrary-stylisation transformer (the fast method's cost) and of
the 26-style network, median of ``--runs`` after a warm-up, and compares each output with
onnxruntime's on the CPU (the CPU path's result):

* ``torch`` (what ``device="cuda"`` runs): the float graph converted with onnx2torch, fp32;
  also under ``torch.autocast`` in fp16, to see what reduced precision would buy;
* ``onnxruntime CUDA``: only when ``onnxruntime-gpu`` is installed (it replaces the CPU wheel,
  ``pip install onnxruntime-gpu``), on the same float graph and on the wheel's original int8 graph;
  inputs and output stay on the GPU (IOBinding), as the torch path's do, so both time the work.

Then whole fast runs through ``stylize()`` (predictor, transformer, transfers) on the GPU and the
CPU. ``--device cpu`` runs the same code on the CPU, to check this script without a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bench.pair import SHARED_IMAGES
from bench.report import machine_info
from tests.support.synthetic import scene, stripes
from nst.engine import stylize, to_tensor
from nst.model.fast.graphs import MULTISTYLE, TRANSFORM, load_graph
from nst.model.fast.inference import embed
from nst.model.fast.runtime import ONNXRUNTIME, TORCH, network
from nst.io.images import load_image, resize_max_side
from nst.core.settings import Settings


def timed(run: Callable[[], torch.Tensor], device: torch.device, runs: int) -> tuple[float, torch.Tensor]:
    """Median seconds of ``runs`` calls after one warm-up (which also picks cuDNN's kernels), each
    timed to the end of the device's work; and the last output."""
    out = run()
    times = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def ort_cuda_sessions(device: torch.device) -> dict[str, Callable[..., torch.Tensor]]:
    """onnxruntime CUDA sessions of the transformer (the float graph and the original int8 one),
    each taking and returning tensors on ``device``; nothing when this onnxruntime has no CUDA
    provider or it fails to load (its CUDA and cuDNN libraries are torch's, loaded first)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return {}
    try:
        ort.preload_dlls(cuda=True, cudnn=True)  # from the nvidia-* wheels torch brings
    except Exception:  # older onnxruntime, or libraries already loaded by torch
        pass
    sessions = {}
    for label, graph in (("onnxruntime CUDA, float graph", load_graph(TRANSFORM)),
                         ("onnxruntime CUDA, int8 graph", load_graph(TRANSFORM, dequantize=False))):
        options = ort.SessionOptions()
        options.log_severity_level = 3
        provider = ("CUDAExecutionProvider", {"device_id": device.index or 0, "cudnn_conv_algo_search": "EXHAUSTIVE"})
        session = ort.InferenceSession(graph.SerializeToString(), options,
                                       providers=[provider, "CPUExecutionProvider"])
        if session.get_providers()[0] != "CUDAExecutionProvider":
            continue  # it fell back to the CPU: CUDA or cuDNN libraries did not load
        names = [i.name for i in session.get_inputs()]
        output = session.get_outputs()[0].name

        def run(x: torch.Tensor, e: torch.Tensor, session=session, names=names, output=output) -> torch.Tensor:
            binding = session.io_binding()
            # Held until the run ends: the binding keeps only their addresses.
            inputs = [t.to(device, torch.float32).contiguous() for t in (x, e)]
            for name, tensor in zip(names, inputs):
                binding.bind_input(name, "cuda", device.index or 0, np.float32, list(tensor.shape),
                                   tensor.data_ptr())
            n, h, w, c = x.shape
            result = torch.empty((n, h, w, c), device=device)
            binding.bind_output(output, "cuda", device.index or 0, np.float32, list(result.shape),
                                result.data_ptr())
            session.run_with_iobinding(binding)
            return result
        sessions[label] = run
    return sessions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fast_gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", type=lambda t: tuple(int(v) for v in t.split(",")), default=(512, 1024, 2048))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu to check the script")
    parser.add_argument("--content", type=Path, default=SHARED_IMAGES / "golden_gate.jpg")
    parser.add_argument("--style", type=Path, default=SHARED_IMAGES / "shipwreck.jpg")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU here; --device cpu checks the script on the CPU")
    cpu = torch.device("cpu")
    paths = args.content, args.style
    content, style = (load_image(paths[0]), load_image(paths[1])) if all(p.exists() for p in paths) \
        else (scene(1600, 1200), stripes(512))
    embedding = embed(to_tensor(resize_max_side(style, 256), cpu), cpu)
    ort_cuda = ort_cuda_sessions(device) if device.type == "cuda" else {}
    print("\n".join(machine_info()))
    print(f"- onnxruntime CUDA provider: {'yes' if ort_cuda else 'not available (onnxruntime-gpu not installed)'}")
    print("\n| network | side | runtime | median s | max abs diff to CPU | mean abs diff |")
    print("|---|---:|---|---:|---:|---:|")
    for side in args.sides:
        image = to_tensor(resize_max_side(content, side), cpu)
        h, w = (d - d % 4 for d in image.shape[-2:])
        nhwc = image[:, :h, :w].permute(1, 2, 0)[None].contiguous()
        nchw = image[None, :, :h, :w].contiguous()
        weights = torch.zeros(26)
        weights[19] = 1.0
        cases = {TRANSFORM: (nhwc, embedding), MULTISTYLE: (nchw, weights)}
        for name, inputs in cases.items():
            reference = network(name, cpu, ONNXRUNTIME)(*inputs)
            on_device = [x.to(device) for x in inputs]
            net = network(name, device, TORCH)
            runs = {"torch fp32": lambda: net(*on_device)}
            if device.type == "cuda":
                def half(net=net, on_device=on_device) -> torch.Tensor:
                    with torch.autocast("cuda", dtype=torch.float16):
                        return net(*on_device).float()
                runs["torch fp16 autocast"] = half
            if name == TRANSFORM:
                runs.update({label: (lambda run=run: run(*on_device)) for label, run in ort_cuda.items()})
            for label, run in runs.items():
                seconds, out = timed(run, device, args.runs)
                diff = (out.float().cpu() - reference).abs()
                print(f"| {name} | {w}×{h} | {label} | {seconds:.4f} | {diff.max():.2e} | {diff.mean():.2e} |")
    print("\n| whole fast run (stylize) | side | device | median s |")
    print("|---|---:|---|---:|")
    for side in args.sides:
        for dev in dict.fromkeys([str(device), "cpu"]):
            settings = Settings(method="fast", size=side, device=dev)
            seconds, _ = timed(lambda: torch.from_numpy(next(iter(stylize(content, [style], settings))).image),
                               cpu, max(3, args.runs // 3))
            print(f"| arbitrary network | {side} | {dev} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
