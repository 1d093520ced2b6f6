"""The engine, the CLI and the studio without a Ray cluster: nothing imports Ray unless an address
is set, and an address nobody answers is one line from the CLI and one sentence in the studio's
job (each in a fresh Python, marked slow: whether Ray was imported is a property of the process);
and the cluster's plain parts in this process: its settings from the environment and the queue
that tells each waiting run its place. The runs on a real cluster: tests/test_cluster.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.synthetic import scene, stripes
from nst.run.cluster import ClusterConfig
from nst.run.remote import RunQueue
from studio.services.jobs import FAILED

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow  # a fresh Python imports torch
def test_the_engine_cli_and_studio_run_without_importing_ray(tmp_path: Path) -> None:
    scene(64, 48).save(tmp_path / "c.png")
    stripes(48).save(tmp_path / "s.png")
    code = f"""
import sys
import nst, nst.run.cluster, nst.run.batch, studio.services.jobs, studio.services.executors, studio.session.resources
from nst.cli.main import main
assert main([{str(tmp_path / 'c.png')!r}, {str(tmp_path / 's.png')!r}, "-o", {str(tmp_path / 'o.png')!r},
             "--size", "32", "--steps", "2", "--quiet"]) == 0
assert studio.services.executors.default_executor().__class__.__name__ == "LocalExecutor"
print("ray" in sys.modules)
"""
    done = _python(code, {"NST_RAY_ADDRESS": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False" and (tmp_path / "o.png").is_file()


@pytest.mark.slow  # a fresh Python imports torch
@pytest.mark.parametrize("address, message", [
    ("127.0.0.1:{port}", "The Ray cluster at 127.0.0.1:{port} cannot be reached"),
    ("ray://127.0.0.1:10001", "Ray Client address"),
])
def test_a_cluster_that_cannot_be_reached_is_one_line_from_the_cli(tmp_path: Path, address: str,
                                                                    message: str) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scene(64, 48).save(tmp_path / "c.png")
    stripes(48).save(tmp_path / "s.png")
    done = subprocess.run([sys.executable, "-m", "nst", str(tmp_path / "c.png"), str(tmp_path / "s.png"),
                           "-o", str(tmp_path / "o.png"), "--size", "32", "--steps", "2",
                           "--ray-address", address.format(port=port)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    err = done.stderr.strip()
    assert done.returncode == 2 and message.format(port=port) in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow  # a fresh Python imports torch
def test_a_cluster_that_cannot_be_reached_fails_the_studios_job_with_one_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = """
from tests.support.synthetic import scene, stripes
from nst import Settings
from studio.services.jobs import Job
job = Job(scene(64, 48), [stripes(48)], Settings(size=32, steps=2, device="cpu")).start()
assert job.join(60)
snap = job.snapshot()
print(snap.status)
print(snap.message)
"""
    done = _python(code, {"NST_RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert done.returncode == 0, done.stderr
    status, message = done.stdout.strip().splitlines()
    assert status == FAILED
    assert message.startswith(f"The Ray cluster at 127.0.0.1:{port} cannot be reached") and message.endswith(".")


@pytest.mark.parametrize("environ, expected", [
    ({}, None),
    ({"NST_RAY_ADDRESS": " "}, None),
    ({"NST_RAY_ADDRESS": "10.0.0.5:6379"}, ClusterConfig("10.0.0.5:6379", 1, None)),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CPUS": "4", "NST_RAY_RESOURCE": "gpu_slot"}, ClusterConfig("auto", 4, "gpu_slot")),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CPUS": "0"}, ClusterConfig("auto", 1, None)),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CPUS": "lots"}, ClusterConfig("auto", 1, None)),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CLIP_CHUNKS": "0"}, ClusterConfig("auto", 1, None, clip_chunks=0)),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CLIP_CHUNKS": "3"}, ClusterConfig("auto", 1, None, clip_chunks=3)),
    ({"NST_RAY_ADDRESS": "auto", "NST_RAY_CLIP_CHUNKS": "-1"}, ClusterConfig("auto", 1, None)),
])
def test_the_cluster_is_the_one_the_environment_names(environ: dict[str, str], expected) -> None:
    assert ClusterConfig.from_env(environ) == expected


def test_the_queue_tells_each_waiting_run_its_place_among_its_kind() -> None:
    async def places() -> list[list[int]]:
        queue, seen = RunQueue(), []
        for ticket, kind in (("a", "cpu"), ("b", "gpu"), ("c", "cpu"), ("d", "cpu")):
            await queue.enqueue(ticket, kind)
        seen.append([await queue.place(t) for t in "abcd"])
        await queue.start("a")  # a worker took it
        await queue.stop("c")  # its reader left the queue
        seen.append([await queue.place(t) for t in "abcd"])
        await queue.forget("d")
        seen.append([await queue.place(t) for t in "abcd"] + [await queue.size()])
        return seen

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, places()).result() == [[1, 1, 2, 3], [0, 1, 0, 1], [0, 1, 0, 0, 1]]
