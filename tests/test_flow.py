"""Optical flow on input frames (nst.model.flow) on clips with known motion: the flow found, the
warp it gives, where it is trusted, and scene cuts."""

from __future__ import annotations

import numpy as np
import pytest

from nst.model.flow import FlowEstimator, is_cut, warp, warping_error
from tests.support.clips import moving_square, pan, scene_cut

pytestmark = pytest.mark.unit


def test_a_pan_gives_its_known_flow_and_warps_onto_the_next_frame():
    frames = pan(96, 64, frames=4, step=2)
    motion = FlowEstimator().motion(frames(1), frames(2))
    inner = motion.flow[8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.25)  # frame t at p = frame t-1 at p + 2 px
    assert np.median(np.abs(inner[..., 1])) < 0.25
    assert motion.reliable[8:-8, 8:-8].mean() > 0.9
    warped = warp(frames(1), motion.flow).astype(float)
    before = np.abs(frames(1).astype(float) - frames(2)).mean()
    after = np.abs(warped - frames(2))[8:-8, 8:-8].mean()
    assert after < before / 4


def test_the_flow_is_trusted_where_it_is_right_and_not_at_the_moving_edges():
    """DIS smooths a moving object's flow over its neighbours; the mask keeps the pixels where the
    warp is right and drops the square's edges, where it is not."""
    frames = moving_square(192, 128, side=32, step=4)
    estimator = FlowEstimator()
    for t in (3, 6):
        motion = estimator.motion(frames(t - 1), frames(t))
        error = np.abs(warp(frames(t - 1), motion.flow).astype(float) - frames(t)).mean(-1)
        trusted = motion.reliable > 0
        assert 0.8 < trusted.mean() < 1.0
        assert error[trusted].mean() < error[~trusted].mean() / 5
        assert motion.reliable[:24].mean() == 1.0  # rows the square never reaches


def test_a_scene_cut_is_found_and_a_pan_is_not():
    frames = scene_cut(96, 64, cut=3)
    estimator = FlowEstimator()
    cuts = [is_cut(frames(t - 1), frames(t), estimator.motion(frames(t - 1), frames(t))) for t in range(1, 6)]
    assert cuts == [False, False, True, False, False]


def test_the_warping_error_is_small_for_consistent_results_and_large_for_flicker():
    frames = pan(96, 64, frames=4, step=2)
    motion = FlowEstimator().motion(frames(1), frames(2))
    steady = warping_error(frames(1), frames(2), motion)
    noise = np.random.default_rng(0).integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    flicker = warping_error(noise[0], noise[1], motion)
    assert steady < 0.03 < 0.2 < flicker
