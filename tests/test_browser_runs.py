"""One service owns each browser's work (studio/services/browser_runs.py): its Layer explorer
reconstructions run as its own, one at a time, through the same shared queue as its runs, and stop
when the page that waits for them goes away. Real tiny runs on the CPU."""

from __future__ import annotations

import threading

import pytest

from nst import Settings
from nst.plan.device import device_key
from studio.services import browser_runs
from studio.services.jobs import DONE, STOPPED, Snapshot
from studio.services.limiter import shared_limiter
from tests.support.apptest import new_owner, wait_for
from tests.support.synthetic import gradient

pytestmark = pytest.mark.unit

PHOTO = gradient(48, 32, seed=3)


def _settings(steps: int) -> Settings:
    return Settings(size=32, steps=steps, init="noise", multiscale="off", style_weight=0.0, device="cpu",
                    preview_every=steps)


def test_a_reconstruction_is_waited_for_with_its_progress_and_returns_its_image():
    seen: list[Snapshot] = []
    snap = browser_runs.reconstruct(new_owner(), PHOTO, [], _settings(3), seen.append)
    assert snap.status == DONE and snap.result.shape == (21, 32, 3)
    assert all(not s.finished for s in seen)  # told while it ran, not after


def test_a_browsers_new_reconstruction_stops_the_one_it_had_going():
    owner, first = new_owner(), {}
    started = threading.Event()

    def wait_first() -> None:
        first["snap"] = browser_runs.reconstruct(owner, PHOTO, [], _settings(5000),
                                                 lambda s: started.set() if s.step >= 1 else None)

    waiter = threading.Thread(target=wait_first)
    waiter.start()
    assert started.wait(120), "the first reconstruction never took a step"
    second = browser_runs.reconstruct(owner, PHOTO, [], _settings(2), lambda s: None)
    waiter.join(60)
    assert first["snap"].status == STOPPED and second.status == DONE


def test_a_reconstruction_whose_page_goes_away_stops():
    class PageGone(Exception):
        pass

    steps: list[int] = []

    def update(snap: Snapshot) -> None:
        steps.append(snap.step)
        if snap.step >= 1:
            raise PageGone  # as Streamlit stops a script whose page has gone

    with pytest.raises(PageGone):
        browser_runs.reconstruct(new_owner(), PHOTO, [], _settings(5000), update)
    # Nothing of it is left running: its 5000 steps would hold the device for minutes.
    wait_for(lambda: shared_limiter().busy(device_key("cpu")) == 0, timeout=30, what="the device to be let go")
