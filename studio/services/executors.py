"""Which executor the studio's runs go to: this process (behind the per-device limiter) or, when
``NST_RAY_ADDRESS`` is set, the Ray cluster this process is a node of. Nothing here imports Ray
unless a cluster is configured, and nothing connects until a run is submitted."""

from __future__ import annotations

import logging
from functools import lru_cache

from nst.run.cluster import ClusterConfig, RayExecutor
from nst.core.errors import NSTError
from nst.run.executor import Executor
from studio.services.limiter import local_executor
from studio.services.policy import policy

log = logging.getLogger(__name__)


def default_executor() -> Executor:
    """Where a :class:`studio.services.jobs.Job` runs unless told otherwise."""
    config = policy().cluster
    return local_executor() if config is None else cluster_executor(config)


@lru_cache(maxsize=1)
def cluster_executor(config: ClusterConfig) -> RayExecutor:
    """The process-wide executor for ``config`` (it joins the cluster on the first run)."""
    return RayExecutor.from_config(config)


def cluster_gpus() -> int | None:
    """GPUs on the configured cluster's nodes; None without a cluster or when it cannot be reached
    (the run itself then reports why)."""
    config = policy().cluster
    if config is None:
        return None
    try:
        return int(sum(node.get("GPU", 0) for node in cluster_executor(config).nodes()))
    except NSTError as exc:
        log.warning("%s", exc)
        return None
