"""How long the post-run controls take on the CPU: preparing a result once, then each change.

    python -m bench.adjust_speed [--width 2048] [--height 1536] [--repeats 5]

A generated result and photo of that size (no optimisation runs); prints the median seconds of
:class:`nst.io.adjust.Adjuster` (once per result) and of each adjustment (once per slider move).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch

from tests.support.synthetic import gradient
from nst.io.adjust import Adjuster, Adjustments

CASES = {
    "mix 0.5": Adjustments(mix=0.5),
    "recolor luminance": Adjustments(recolor="luminance"),
    "recolor histogram": Adjustments(recolor="histogram"),
    "mix 0.5 + luminance": Adjustments(mix=0.5, recolor="luminance"),
}


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.adjust_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1536)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    content = gradient(args.width, args.height, seed=1)
    result = np.asarray(gradient(args.width, args.height, seed=2))
    print(f"{args.width}×{args.height}, torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print("| step | seconds |\n|---|---:|")
    prepare = median_seconds(lambda: Adjuster(result, content), args.repeats)
    print(f"| prepare (Adjuster: content resized, tensors) | {prepare:.3f} |")
    adjuster = Adjuster(result, content)
    for name, adjustments in CASES.items():
        print(f"| {name} | {median_seconds(lambda: adjuster(adjustments), args.repeats):.3f} |")


if __name__ == "__main__":
    main()
