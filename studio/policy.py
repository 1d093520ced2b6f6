"""How the studio shares its devices, read from the environment once, when first needed.

* ``NST_MAX_RUNS_PER_DEVICE`` (default 1): runs using one device at a time; the rest queue.
* ``NST_HEARTBEAT_TIMEOUT`` (seconds, default 20): a run whose page has sent no heartbeat for
  this long, and whose browser session is gone, stops itself.
* ``NST_RAY_ADDRESS`` (``auto`` or ``host:port``; unset: runs stay in this process), with
  ``NST_RAY_CPUS`` and ``NST_RAY_RESOURCE``: runs go to that Ray cluster
  (:class:`nst.cluster.ClusterConfig`; this process must be a node of it).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from nst.cluster import ClusterConfig

log = logging.getLogger(__name__)

ENV_MAX_RUNS = "NST_MAX_RUNS_PER_DEVICE"
ENV_HEARTBEAT_TIMEOUT = "NST_HEARTBEAT_TIMEOUT"


@dataclass(frozen=True)
class Policy:
    max_runs_per_device: int = 1
    heartbeat_timeout: float = 20.0  # a live session's keepalive renews it, so it may be short
    cluster: ClusterConfig | None = None  # runs go to this Ray cluster; None: to this process's devices

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Policy":
        """The policy the environment sets; a bad value is logged and its default used."""
        default = cls()
        return cls(max_runs_per_device=_read(environ, ENV_MAX_RUNS, default.max_runs_per_device, _slots),
                   heartbeat_timeout=_read(environ, ENV_HEARTBEAT_TIMEOUT, default.heartbeat_timeout, _seconds),
                   cluster=ClusterConfig.from_env(environ))


def _slots(raw: str) -> int | None:
    try:
        return max(1, int(raw))
    except ValueError:
        return None


def _seconds(raw: str) -> float | None:
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if seconds > 0 and math.isfinite(seconds) else None


def _read(environ: Mapping[str, str], name: str, default, parse):
    raw = environ.get(name)
    if raw is None:
        return default
    value = parse(raw)
    if value is None:
        log.warning("%s=%r is not usable; using %s", name, raw, default)
        return default
    return value


@lru_cache(maxsize=1)
def policy() -> Policy:
    """This process's policy (the environment at first use)."""
    return Policy.from_env()
