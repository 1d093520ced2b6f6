"""A fresh server's first run never waits for the step-cost measurement, and the queue place is
shown only when another run is ahead (studio.services.limiter, nst.run.calibrate.measure_step_cost)."""

from __future__ import annotations

import threading

import pytest

from nst.plan.estimate import StepCost
from nst.run.calibrate import measure_step_cost
from studio.services.limiter import DeviceBusy, Limiter, measure_when_idle

pytestmark = pytest.mark.unit


class Counting:
    """A stop signal that counts its polls (one per engine step) and mirrors ``inner``."""

    def __init__(self, inner: DeviceBusy) -> None:
        self.inner, self.polls, self.polls_when_set = inner, 0, None
        self.polled = threading.Event()

    def is_set(self) -> bool:
        self.polls += 1
        self.polled.set()
        busy = self.inner.is_set()
        if busy and self.polls_when_set is None:
            self.polls_when_set = self.polls
        return busy


def test_a_measurement_stopped_before_it_ends_gives_no_cost() -> None:
    stop = threading.Event()
    stop.set()
    assert measure_step_cost("cpu", stop=stop) is None


def test_the_queue_place_counts_only_runs_ahead() -> None:
    limiter = Limiter(1)
    first, second, third = object(), object(), object()
    assert limiter.idle("cpu")
    assert limiter.acquire("cpu", first, cancelled=lambda: False)
    assert not limiter.idle("cpu")
    assert limiter.position("cpu", first) == 0  # running
    waiters = [threading.Thread(target=limiter.acquire, args=("cpu", t, lambda: False)) for t in (second, third)]
    waiters[0].start()
    while limiter.position("cpu", second) == 0:
        waiters[0].join(0.01)
    waiters[1].start()
    while limiter.position("cpu", third) == 0:
        waiters[1].join(0.01)
    assert (limiter.position("cpu", second), limiter.position("cpu", third)) == (1, 2)
    limiter.release("cpu", first)
    waiters[0].join(5)
    assert limiter.position("cpu", second) == 0 and limiter.position("cpu", third) == 1
    limiter.release("cpu", second)
    waiters[1].join(5)
    limiter.release("cpu", third)
    assert limiter.wait_idle("cpu", timeout=5) and limiter.idle("cpu")


def test_a_run_arriving_mid_measurement_starts_at_once_and_the_measurement_gives_way() -> None:
    limiter = Limiter(1)
    outcomes: list[StepCost | None] = []
    signals: list[Counting] = []

    def measure(busy: DeviceBusy) -> StepCost | None:
        signal = Counting(busy)
        signals.append(signal)
        cost = measure_step_cost("cpu", stop=signal)
        outcomes.append(cost)
        return cost

    worker = threading.Thread(target=lambda: outcomes.append(measure_when_idle(limiter, "cpu", measure)))
    worker.start()
    assert signals or worker.is_alive()
    while not signals:
        worker.join(0.01)
    assert signals[0].polled.wait(60)  # the measurement is stepping
    run = object()
    # The run takes the device at once: the measurement holds no place in the queue.
    assert limiter.position("cpu", run) == 0
    assert limiter.acquire("cpu", run, cancelled=lambda: False)
    try:
        while not outcomes:
            worker.join(0.05)
        # It gave way at its next step: no StepCost, and it polled no further after seeing the run.
        assert outcomes[0] is None
        assert signals[0].polls == signals[0].polls_when_set
        assert len(signals) == 1 and worker.is_alive()  # waiting for the device to be idle again
    finally:
        limiter.release("cpu", run)
    worker.join(120)
    assert not worker.is_alive()
    cost = outcomes[-1]
    assert isinstance(cost, StepCost) and cost.seconds(256 * 192) > 0
    assert len(signals) == 2  # measured again, whole, once the device was idle
