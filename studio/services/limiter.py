"""The studio's per-device queue: at most N runs use a device at a time, the rest wait in order.

A :class:`Limiter` is the :class:`nst.run.executor.Gate` of the studio's local executor; nothing
here imports Streamlit.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Callable, Sequence, TypeVar

from nst.run.executor import Cancelled, LocalExecutor
from studio.services.policy import policy


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
        """1-based place of a waiting ticket in its device's queue; 0 when it is not waiting behind
        another run (it holds a slot, or it is about to take a free one)."""
        with self._cond:
            queue = self._waiting.get(device, [])
            if ticket not in queue:
                return 0
            place = queue.index(ticket)
            return place + 1 if place or len(self._running.get(device, ())) >= self.slots else 0

    def ahead(self, device: str, ticket: object) -> tuple[list[object], list[object]]:
        """(the tickets holding ``device``, those waiting before ``ticket``) while ``ticket`` waits."""
        with self._cond:
            queue = self._waiting.get(device, [])
            before = queue[:queue.index(ticket)] if ticket in queue else []
            return list(self._running.get(device, ())), before

    def idle(self, device: str) -> bool:
        """True when no run holds or waits for ``device``."""
        with self._cond:
            return not self._running.get(device) and not self._waiting.get(device)

    def wait_idle(self, device: str, timeout: float | None = None) -> bool:
        """Block until ``device`` is idle (True) or ``timeout`` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running.get(device) and not self._waiting.get(device),
                                       timeout)

    def busy(self, device: str) -> int:
        """Runs now holding a slot on ``device``."""
        with self._cond:
            return len(self._running.get(device, ()))

    def wake(self) -> None:
        """Let waiters re-check their cancel flags now."""
        with self._cond:
            self._cond.notify_all()


def queue_wait(running_left: Sequence[float], queued: Sequence[float], slots: int) -> float:
    """Seconds until a run waiting behind ``queued`` (each run's whole estimate, in queue order)
    gets one of ``slots``, while the runs holding them have ``running_left`` seconds to go: each
    run ahead takes the slot that frees first."""
    free = sorted([*running_left, *[0.0] * max(0, slots - len(running_left))])[:slots] or [0.0]
    for seconds in queued:
        free[0] += seconds
        free.sort()
    return free[0]


class DeviceBusy:
    """A stop signal that is set while any run holds or waits for a device: what background work
    (the step-cost measurement) polls so that it gives way to a run at once."""

    def __init__(self, limiter: Limiter, device: str) -> None:
        self.limiter, self.device = limiter, device

    def is_set(self) -> bool:
        return not self.limiter.idle(self.device)


T = TypeVar("T")


def measure_when_idle(limiter: Limiter, device: str, measure: Callable[[DeviceBusy], T | None]) -> T:
    """``measure(busy)`` run only while ``device`` is idle, taking no place in its queue: it must
    return None when ``busy`` turns set (a run arrived), and is then tried again once the device
    is idle. So no run ever waits for it."""
    while True:
        limiter.wait_idle(device)
        result = measure(DeviceBusy(limiter, device))
        if result is not None:
            return result


@lru_cache(maxsize=1)
def shared_limiter() -> Limiter:
    """The process-wide limiter every session's runs queue on (sized by the policy)."""
    return Limiter(policy().max_runs_per_device)


def local_executor() -> LocalExecutor:
    """The studio's executor: runs in this process, queued per device by :func:`shared_limiter`."""
    return LocalExecutor(gate=shared_limiter())
