"""``python -m bench.load --ray``: runs on a local two-node Ray cluster against one node, and the
first preview through Ray against a local run. Prints Markdown.

The cluster (tests/support/raycluster.py) has a head that runs nothing and worker nodes of one CPU and
one ``nst_slot`` each, all on 127.0.0.1; this process submits the runs as the studio's web node
does (through :class:`nst.run.cluster.RayExecutor`) and reads every record:

1. throughput: ``--runs`` runs submitted at once to one worker node, then (a second node added) to
   two; runs per minute = runs / wall time from the first submit to the last final image;
2. first preview: time from ``submit`` (what Start does) to the first record with an image in the
   reading thread, through Ray and with the local executor in this process (torch limited to one
   thread, as a one-CPU worker is), each warmed up first, median of ``--tries``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.raycluster import SLOT, local_cluster  # first: Ray must be imported on loopback
from tests.support.synthetic import scene, stripes
from nst import Settings
from nst.run.cluster import RayExecutor
from nst.run.executor import Executor, LocalExecutor
from nst.model.vgg import load_model


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(size=args.size, steps=args.steps, device="cpu", preview_every=10)


def _one(executor: Executor, settings: Settings) -> tuple[float, float]:
    """(seconds to the first preview, seconds to the final image) of one run, from its submit."""
    began = time.perf_counter()
    first = None
    for record in executor.submit(scene(192, 128), [stripes(96)], settings).records():
        if first is None and record.image is not None:
            first = time.perf_counter() - began
    return first or 0.0, time.perf_counter() - began


def throughput(executor: RayExecutor, settings: Settings, runs: int) -> tuple[float, list[float]]:
    """Runs per minute with ``runs`` submitted at once, and each run's wall seconds."""
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=runs) as pool:
        walls = [wall for _, wall in pool.map(lambda _: _one(executor, settings), range(runs))]
    return runs * 60.0 / (time.perf_counter() - began), walls


def warm(executor: RayExecutor, settings: Settings, nodes: int) -> None:
    """One run per node at once, so every worker has imported torch and loaded the VGG19."""
    with ThreadPoolExecutor(max_workers=nodes) as pool:
        list(pool.map(lambda _: _one(executor, settings.replace(steps=2)), range(nodes)))


def first_previews(executor: Executor, settings: Settings, tries: int) -> list[float]:
    _one(executor, settings.replace(steps=2))  # warm-up
    return [_one(executor, settings.replace(steps=2))[0] for _ in range(tries)]


def run(args: argparse.Namespace) -> list[str]:
    settings = _settings(args)
    lines = ["# NST studio on a local Ray cluster", "",
             f"- machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
             f"- cluster: head (0 CPUs) + worker nodes of 1 CPU and 1 `{SLOT}` each, 127.0.0.1 only",
             f"- runs: {args.size} px, {args.steps} steps, CPU, {args.runs} submitted at once", ""]
    with local_cluster(workers=1, cpus=1) as cluster:
        executor = RayExecutor(cluster.address, resource=SLOT)
        executor.connect()  # here, in the main thread, not in the first run's
        rates = {}
        for nodes in (1, 2):
            cluster.ensure_workers(nodes)
            print(f"phase: throughput on {nodes} worker node(s)", file=sys.stderr)
            warm(executor, settings, nodes)
            rates[nodes], walls = throughput(executor, settings, args.runs)
            lines.append(f"- {nodes} worker node(s): {rates[nodes]:.1f} runs/min (run wall s: min {min(walls):.1f},"
                         f" median {statistics.median(walls):.1f}, max {max(walls):.1f})")
        lines += [f"- two nodes / one node: {rates[2] / rates[1]:.2f}× (goal ≥ 1.8×)", ""]
        print("phase: first preview", file=sys.stderr)
        through_ray = first_previews(executor, settings, args.tries)
        lines += _previews(through_ray, settings, args.tries)
    return lines


def _previews(through_ray: list[float], settings: Settings, tries: int) -> list[str]:
    import torch

    torch.set_num_threads(1)  # as a one-CPU worker runs
    load_model(settings.weights)
    local = first_previews(LocalExecutor(), settings, tries)
    ray_s, local_s = statistics.median(through_ray), statistics.median(local)
    return ["| first preview after submit | median s | min s | max s |", "|---|---:|---:|---:|",
            f"| through Ray (warm worker) | {ray_s:.3f} | {min(through_ray):.3f} | {max(through_ray):.3f} |",
            f"| local (this process) | {local_s:.3f} | {min(local):.3f} | {max(local):.3f} |", "",
            f"- Ray − local: {ray_s - local_s:+.3f} s (goal ≤ 1 s)", ""]


def main(args: argparse.Namespace) -> int:
    print("\n".join(run(args)))
    return 0


__all__ = ["main", "run"]
