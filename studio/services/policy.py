"""How the studio shares its devices, read from the environment once, when first needed.

* ``NST_MAX_RUNS_PER_DEVICE`` (default 1): runs using one device at a time; the rest queue.
* ``NST_HEARTBEAT_TIMEOUT`` (seconds, default 20): a run whose page has sent no heartbeat for
  this long, and whose browser session is gone, stops itself.
* ``NST_MAX_RUN_MINUTES`` (default 20; 0: no limit): the longest run a session may start, by its
  estimate on this device (:meth:`Policy.run_refusal`). The CLI, one user's tool, has no limit.
* ``NST_RAY_ADDRESS`` (``auto`` or ``host:port``; unset: runs stay in this process), with
  ``NST_RAY_CPUS`` and ``NST_RAY_RESOURCE``: runs go to that Ray cluster
  (:class:`nst.run.cluster.ClusterConfig`; this process must be a node of it).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from nst.plan.budget import share_among
from nst.run.cluster import ClusterConfig
from studio.services.timefmt import duration

log = logging.getLogger(__name__)

ENV_MAX_RUNS = "NST_MAX_RUNS_PER_DEVICE"
ENV_HEARTBEAT_TIMEOUT = "NST_HEARTBEAT_TIMEOUT"
ENV_MAX_RUN_MINUTES = "NST_MAX_RUN_MINUTES"


@dataclass(frozen=True)
class Policy:
    max_runs_per_device: int = 1
    heartbeat_timeout: float = 20.0  # a live session's keepalive renews it, so it may be short
    cluster: ClusterConfig | None = None  # runs go to this Ray cluster; None: to this process's devices
    # The longest run one session may start (0: no limit). With one run per device, everyone behind
    # it waits that long: 20 minutes holds the 15-minute goal of a 4096 px print with the fast preset
    # (docs/benchmarks.md, Print sizes) with room for a disturbed estimate, and refuses an hour-long CPU run.
    max_run_minutes: float = 20.0

    def run_refusal(self, seconds: float | None) -> str | None:
        """Why a run estimated at ``seconds`` on this server's device may not start (one sentence
        naming the estimate, the limit and its variable), or None. An unknown estimate (the device
        not timed yet, a cluster's worker) is not refused."""
        limit = self.max_run_minutes * 60
        if seconds is None or not limit or seconds <= limit:
            return None
        return (f"This run would take about {duration(seconds)} here, longer than the {self.max_run_minutes:g} min"
                f" a run may take on this shared server ({ENV_MAX_RUN_MINUTES}): lower the size or the steps, or"
                " use Continue at 2× on a smaller result.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Policy":
        """The policy the environment sets; a bad value is logged and its default used."""
        default = cls()
        return cls(max_runs_per_device=_read(environ, ENV_MAX_RUNS, default.max_runs_per_device, _slots),
                   heartbeat_timeout=_read(environ, ENV_HEARTBEAT_TIMEOUT, default.heartbeat_timeout, _seconds),
                   max_run_minutes=_read(environ, ENV_MAX_RUN_MINUTES, default.max_run_minutes, _minutes),
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


def _minutes(raw: str) -> float | None:
    """A limit in minutes: 0 or more (0: none)."""
    try:
        minutes = float(raw)
    except ValueError:
        return None
    return minutes if minutes >= 0 and math.isfinite(minutes) else None


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
    """This process's policy (the environment at first use); the Auto memory budget is split among
    the runs it lets share a device (nst.plan.budget.default_budget)."""
    chosen = Policy.from_env()
    share_among(chosen.max_runs_per_device)
    return chosen
