"""A local Ray cluster on the loopback interface, for the tests and ``bench/load.py --ray``.

A head node that runs nothing (0 CPUs) and worker nodes of ``cpus`` CPUs and one unit of the
custom resource ``nst_slot`` each (a stand-in for a GPU slot: every run asks for one, so a node
runs one at a time whatever its CPUs). Ray's processes inherit this process's environment, in
which ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray a single-host cluster: the GCS and the
raylets bind 127.0.0.1 and talk only there (a loopback node IP alone is replaced by the machine's
address). :func:`off_loopback` checks it on the live processes.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
SLOT = "nst_slot"
OBJECT_STORE_BYTES = 80 * 2**20  # per node; runs move small images only
# Notice a removed node within about a second (the default takes tens of seconds).
FAST_HEALTH_CHECKS = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300,
                      "health_check_failure_threshold": 3}


# Set on import, so that Ray (imported below) and every process started from here inherit it.
os.environ[LOOPBACK_ENV] = "0"


def _loopback_ray() -> Any:
    """Ray, imported with the loopback switch on (it is read once, when Ray is imported)."""
    already = "ray" in sys.modules
    import ray
    from ray._private import ray_constants

    if already and ray_constants.ENABLE_RAY_CLUSTER:
        raise RuntimeError(f"Ray was imported before {LOOPBACK_ENV}=0 was set; this cluster would not stay on"
                           " 127.0.0.1. Import tests.support.raycluster first.")
    return ray


@dataclass
class LocalCluster:
    """The running cluster: its GCS address (what NST_RAY_ADDRESS names) and its worker nodes."""

    cluster: Any  # ray.cluster_utils.Cluster
    cpus: int
    workers: list[Any] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.cluster.address

    def add_worker(self, **resources: float) -> Any:
        """One more worker node (``cpus`` CPUs, one slot, plus ``resources``), once it is up."""
        node = self.cluster.add_node(num_cpus=self.cpus, object_store_memory=OBJECT_STORE_BYTES,
                                     resources={SLOT: 1, **resources})
        self.cluster.wait_for_nodes()
        self.workers.append(node)
        return node

    def remove_worker(self, node_id: str) -> None:
        """Kill the worker node with this id at once, as a crash would (no graceful drain)."""
        node = next(n for n in self.workers if n.node_id == node_id)
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def ensure_workers(self, count: int) -> None:
        while len(self.workers) < count:
            self.add_worker()

    def task_process(self, task: str, timeout: float = 60.0) -> Any:
        """The one worker process running the Ray task named ``task`` (Ray titles it ``ray::<task>``
        while it runs), as a psutil Process."""
        psutil, deadline = _psutil(), time.monotonic() + timeout
        while True:
            found = []
            for pid in self.pids():
                try:
                    if " ".join(psutil.Process(pid).cmdline()).startswith(f"ray::{task}"):
                        found.append(psutil.Process(pid))
                except psutil.Error:  # it has ended meanwhile
                    continue
            if len(found) == 1:
                return found[0]
            assert time.monotonic() < deadline, f"{len(found)} worker processes run ray::{task}, not one"
            time.sleep(0.1)

    def pids(self) -> list[int]:
        """This process and every process the cluster started (GCS, raylets, agents, workers)."""
        psutil = _psutil()
        me = psutil.Process()
        return [me.pid, *(child.pid for child in me.children(recursive=True))]


@contextmanager
def local_cluster(workers: int = 2, cpus: int = 1) -> Iterator[LocalCluster]:
    """Start the cluster; shut it down (and this process's connection to it) when the block ends."""
    ray = _loopback_ray()
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=0, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
        _system_config=FAST_HEALTH_CHECKS))
    local = LocalCluster(cluster, cpus)
    try:
        for _ in range(workers):
            local.add_worker()
        yield local
    finally:
        ray.shutdown()
        cluster.shutdown()


def off_loopback(pids: list[int]) -> list[str]:
    """Every TCP socket of these processes with an end not on 127.0.0.1, described; [] when none."""
    psutil = _psutil()
    found = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            connections = process.net_connections(kind="tcp")
            name = process.name()
        except psutil.Error:  # it has ended meanwhile
            continue
        for conn in connections:
            ends = [conn.laddr, *([conn.raddr] if conn.raddr else [])]
            if not all(_loopback(end.ip) for end in ends):
                found.append(f"{name} (pid {pid}): {conn.laddr} -> {conn.raddr or '-'} {conn.status}")
    return found


def _psutil() -> Any:
    _loopback_ray()  # Ray ships psutil in its thirdparty_files, on the path once Ray is imported
    import psutil

    return psutil


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return str(mapped or address) == "127.0.0.1"


__all__ = ["LOOPBACK_ENV", "SLOT", "LocalCluster", "local_cluster", "off_loopback"]
