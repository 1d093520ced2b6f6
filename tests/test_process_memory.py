"""--max-memory bounds the whole process: the peak resident memory of a real ``python -m nst`` run
(what ``top`` shows, what a container limit counts), measured from outside as the child's
ru_maxrss (os.wait4, from a small process in between: see MEASURE), with the CLI's defaults (the fast preset: init fast, its onnx networks).

Each size runs twice in its own process: first with a budget far too small, whose error names
what that process held before the run and the least it needs; then with a budget halfway between
that least and what the run needs untiled, on top of what the process held, so its top scale runs
in tiles."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.support.synthetic import scene, stripes
from nst.plan.budget import least_budget, least_fast_budget, plan_fast, plan_run
from nst.core.settings import Settings, format_bytes, parse_bytes, preset

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
STEPS = 2  # each scale steps once: its peak comes in its first step
# The plan counts what the run allocates; resident memory also holds what the allocator has not
# returned and pages the kernel has not reclaimed. Where a budget is tight the engine has glibc
# return every block of 1 MB or more at once (nst.core.memory.large_blocks_returned), so what stays is
# small blocks: this slack, 2 % of the budget, is what the test allows on top (measured: none).
SLACK = 0.02
NEEDS = re.compile(r"needs at least ([\d.]+[KMG]) of memory \(the ([\d.]+[KMG]) this process holds before the run")


# Starts ``python ARGS`` and prints its ru_maxrss (KiB) on stdout. Linux carries a process's peak
# across exec (signal->maxrss takes the old memory's high-water mark), and a child forked from
# this test process starts out sharing all of it: its peak would read at least this process's,
# which after the browser and cluster tests is gigabytes. Started from this small process, the
# measured child's peak is its own (to this process's few MB).
MEASURE = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, *sys.argv[1:]], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _child(args: list[str]) -> tuple[int, str, int]:
    """(exit code, stderr, peak resident bytes) of ``python -m nst ARGS`` in its own process."""
    done = subprocess.run([sys.executable, "-c", MEASURE, "-m", "nst", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stderr, int(done.stdout.split()[-1]) * 1024  # Linux: KiB


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB and VmRSS are Linux's")
@pytest.mark.parametrize("size", [512, 1024])
def test_the_peak_resident_memory_stays_within_max_memory(tmp_path, size):
    content, style, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "o.png"
    scene(size, size * 3 // 4).save(content)
    stripes(size // 2).save(style)
    args = [str(content), str(style), "-o", str(out), "--size", str(size), "--steps", str(STEPS), "--quiet"]

    code, err, _ = _child([*args, "--max-memory", "100M"])
    found = NEEDS.search(err)
    assert code == 2 and found and "but max_memory is 100M; raise max_memory or lower the size." in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    least, held = (parse_bytes(v) for v in found.groups())
    assert held > parse_bytes("100M")  # Python, torch and the imports alone

    settings = preset("fast", size=size, steps=STEPS, device="cpu")
    sizes = ((size, size * 3 // 4), [(size // 2, size // 2)])
    # Halfway between the least and the untiled need, both planned here without what a process
    # holds: what the run still loads is counted by the process that plans, and this one may have
    # loaded the model and the fast networks already (the child has not); the difference holds.
    untiled_here, least_here = plan_run(settings, *sizes, CPU, held=0).peak, least_budget(settings, *sizes, CPU, held=0)
    budget = least + (untiled_here - least_here) // 2
    assert plan_run(settings.replace(max_memory=budget - least + least_here), *sizes, CPU, held=0).scales[-1].tiled

    code, err, peak = _child([*args, "--max-memory", str(budget)])
    print(f"{size} px: budget {format_bytes(budget)}, held before the run {format_bytes(held)},"
          f" peak resident {peak / 2**20:.0f} MiB ({peak / budget:.1%} of the budget)")
    assert code == 0 and out.exists(), err
    assert peak <= budget * (1 + SLACK)


FAST_SIZE = 2048  # its painting alone (about 200 bytes a pixel: 0.6 GB) is more than the budget leaves


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB and VmRSS are Linux's")
def test_the_fast_method_stays_within_max_memory_by_painting_smaller(tmp_path):
    """``--method fast`` at a print size under a budget its painting at the output size would break:
    refused with the least it needs below that, and within the budget above it, at the output size."""
    content, style, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "o.png"
    scene(FAST_SIZE, FAST_SIZE * 3 // 4).save(content)
    stripes(256).save(style)
    args = [str(content), str(style), "-o", str(out), "--method", "fast", "--size", str(FAST_SIZE), "--quiet"]

    code, err, _ = _child([*args, "--max-memory", "100M"])
    found = NEEDS.search(err)
    assert code == 2 and found and "but max_memory is 100M; raise max_memory or lower the size." in err, err
    least, held = (parse_bytes(v) for v in found.groups())

    # A quarter of the way from the least to what painting at the output size needs, both planned
    # here without what a process holds (as above): painted smaller, then enlarged.
    settings = Settings(method="fast", size=FAST_SIZE, device="cpu")
    sizes = (FAST_SIZE, FAST_SIZE * 3 // 4)
    whole_here = plan_fast(settings.replace(max_memory=2**40), sizes, CPU, held=0).tensors
    least_here = least_fast_budget(settings, sizes, CPU, held=0)
    budget = least + (whole_here - least_here) // 4
    assert plan_fast(settings.replace(max_memory=budget - least + least_here), sizes, CPU, held=0).enlarged

    code, err, peak = _child([*args, "--max-memory", str(budget)])
    print(f"fast {FAST_SIZE} px: budget {format_bytes(budget)}, held before the run {format_bytes(held)},"
          f" peak resident {peak / 2**20:.0f} MiB ({peak / budget:.1%} of the budget)")
    assert code == 0, err
    with Image.open(out) as result:
        assert result.size == sizes  # enlarged to the output
    assert peak <= budget * (1 + SLACK)
