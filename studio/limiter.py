"""The studio's per-device queue: at most N runs use a device at a time, the rest wait in order.

A :class:`Limiter` is the :class:`nst.executor.Gate` of the studio's local executor; nothing
here imports Streamlit.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from nst.executor import Cancelled, LocalExecutor
from studio.policy import policy


class Limiter:
    """At most ``slots`` concurrent runs per device key; the rest wait first come, first served."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: dict[str, list[object]] = {}
        self._running: dict[str, set[object]] = {}

    def acquire(self, device: str, ticket: object, cancelled: Cancelled, poll: float = 0.2) -> bool:
        """Block until ``ticket`` may run on ``device`` (True) or ``cancelled()`` turns true (False)."""
        with self._cond:
            queue = self._waiting.setdefault(device, [])
            running = self._running.setdefault(device, set())
            queue.append(ticket)
            try:
                while True:
                    if cancelled():
                        return False
                    if queue[0] is ticket and len(running) < self.slots:
                        queue.pop(0)
                        running.add(ticket)
                        return True
                    self._cond.wait(poll)
            finally:
                if ticket in queue:
                    queue.remove(ticket)
                self._cond.notify_all()

    def release(self, device: str, ticket: object) -> None:
        """Give ``ticket``'s slot to the next waiter."""
        with self._cond:
            self._running.get(device, set()).discard(ticket)
            self._cond.notify_all()

    def position(self, device: str, ticket: object) -> int:
        """1-based place of a waiting ticket in its device's queue; 0 when not waiting."""
        with self._cond:
            queue = self._waiting.get(device, [])
            return queue.index(ticket) + 1 if ticket in queue else 0

    def busy(self, device: str) -> int:
        """Runs now holding a slot on ``device``."""
        with self._cond:
            return len(self._running.get(device, ()))

    def wake(self) -> None:
        """Let waiters re-check their cancel flags now."""
        with self._cond:
            self._cond.notify_all()


@lru_cache(maxsize=1)
def shared_limiter() -> Limiter:
    """The process-wide limiter every session's runs queue on (sized by the policy)."""
    return Limiter(policy().max_runs_per_device)


def local_executor() -> LocalExecutor:
    """The studio's executor: runs in this process, queued per device by :func:`shared_limiter`."""
    return LocalExecutor(gate=shared_limiter())
