"""The optimise method for clips (Ruder et al. 2016, nst.video.optimised_frames) with the real VGG19
and fast network on synthetic clips of known motion, at a tiny size and few steps: every frame
written, the temporal term in the losses of each frame after a shot's first, the flicker lower
than frame-by-frame optimisation, a scene cut starting afresh, Stop inside a frame keeping a
playable shorter clip; and the engine's temporal term on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst.core.errors import SettingsError
from nst.core.settings import Settings
from nst.engine import run, to_tensor
from nst.io.video_files import read_clip_recipe
from nst.model.losses import Temporal
from nst.video import MAX_VIDEO_SIDE, VideoOptions, stylize_video
from nst.video.optimised_frames import following_steps
from tests.support.clips import pan, read_back, scene_cut, texture, write_clip

pytestmark = pytest.mark.unit

# The clips' own size (frames compare pixel for pixel), a single scale, few steps: 2 per frame after the first.
OPTIMISE = Settings(method="gatys", size=64, steps=6, device="cpu", multiscale="off")


@pytest.fixture(scope="module")
def style():
    return Image.fromarray(texture(64, 64, seed=7)[:, ::-1].copy())


def _run(source, out, style, settings=OPTIMISE, stop=None, **options):
    records = list(stylize_video(source, [style], settings, out, VideoOptions(**options), stop=stop))
    return records[:-1], records[-1]


def test_the_temporal_term_pulls_the_image_to_its_target_where_reliable_only():
    content = Image.fromarray(texture(64, 48, seed=3))
    target = torch.zeros(3, 48, 64)  # black: far from the texture everywhere
    reliable = torch.zeros(48, 64)
    reliable[:, :32] = 1  # the left half only
    settings = Settings(size=64, steps=8, device="cpu", multiscale="off", style_weight=0.0)
    held = run(content, [], settings, temporal=Temporal(target, reliable, 1e8))
    free = run(content, [], settings)
    assert "temporal" in held.losses and "temporal" in held.raw and "temporal" not in free.losses
    assert held.losses["temporal"] == pytest.approx(1e8 * held.raw["temporal"], rel=1e-5)
    photo = np.asarray(content, dtype=np.float32)
    dark = photo - held.image.astype(np.float32)
    # left: pulled towards black by far more than the content term alone moves it (free: ~0 at style 0)
    assert dark[:, :24].mean() > 40 and abs(dark[:, :24].mean() - (photo - free.image)[:, :24].mean()) > 40
    # right, beyond the content layer's reach of the edge: the photo as the free run keeps it
    assert np.abs(held.image[:, 48:].astype(np.float32) - free.image[:, 48:]).mean() < 0.25 * dark[:, :24].mean()


def test_every_frame_is_written_and_the_frames_after_the_first_carry_the_temporal_term(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(64, 48, frames=4, step=2), 4, 10)
    frames, last = _run(source, tmp_path / "out.mp4", style)
    assert [r.index for r in frames] == [0, 1, 2, 3] and last.done and not last.stopped
    assert read_back(last.path)["frames"] == 4
    assert "temporal" not in frames[0].losses
    assert all(r.losses["temporal"] > 0 for r in frames[1:])
    assert frames[0].flicker is None and all(r.flicker is not None for r in frames[1:])
    recipe = read_clip_recipe(last.path)
    assert recipe["settings"]["method"] == "gatys" and recipe["video"]["temporal_weight"] == VideoOptions().temporal_weight
    assert following_steps(OPTIMISE.steps) == 2


@pytest.mark.slow
def test_the_temporal_term_lowers_the_flicker_against_frame_by_frame_optimisation(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(64, 48, frames=5, step=2), 5, 10)
    alone, _ = _run(source, tmp_path / "alone.mp4", style, temporal_weight=0.0)
    steady, _ = _run(source, tmp_path / "steady.mp4", style)
    assert all("temporal" not in r.losses for r in alone)
    error_alone = np.mean([r.flicker for r in alone[1:]])
    error_steady = np.mean([r.flicker for r in steady[1:]])
    assert error_steady < 0.5 * error_alone
    # not by giving up the style: the frames still differ from the input about as much
    inputs = read_back(source)["images"]
    change = np.mean([np.abs(r.image.astype(float) - f).mean() for r, f in zip(steady, inputs)])
    change_alone = np.mean([np.abs(r.image.astype(float) - f).mean() for r, f in zip(alone, inputs)])
    assert change > 0.7 * change_alone


def test_a_scene_cut_starts_afresh_without_the_temporal_term(tmp_path, style):
    source = write_clip(tmp_path / "cut.mp4", scene_cut(64, 48, cut=2, step=2), 4, 10)
    frames, _ = _run(source, tmp_path / "out.mp4", style)
    assert [r.cut for r in frames] == [False, False, True, False]
    assert ["temporal" in r.losses for r in frames] == [False, True, False, True]
    assert frames[2].flicker is None


class StopInFrame:
    """A stop signal set during the second step of frame ``frame``'s run (the engine tells it what
    it does: every frame's run begins with 'step 1')."""

    def __init__(self, frame: int) -> None:
        self.frame, self.runs, self.set = frame, 0, False

    def progress(self, text: str) -> None:
        self.runs += text == "step 1"
        self.set = self.set or (self.runs == self.frame + 1 and text == "step 2")

    def is_set(self) -> bool:
        return self.set


def test_stop_inside_a_frame_keeps_the_frames_before_it_as_a_playable_clip(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(64, 48, frames=6, step=2), 6, 10, tone=220.0)
    stop = StopInFrame(frame=2)
    frames, last = _run(source, tmp_path / "short.mp4", style, stop=stop)
    assert stop.set and [r.index for r in frames] == [0, 1]  # the frame stopped inside is not written
    assert last.done and last.stopped and last.path is not None
    back = read_back(last.path)
    assert back["frames"] == 2 and back["audio_seconds"] == pytest.approx(0.2, abs=0.1)


def test_built_in_styles_and_colour_preservation_work_as_for_images(tmp_path):
    source = write_clip(tmp_path / "pan.mp4", pan(64, 48, frames=3, step=2), 3, 10)
    settings = OPTIMISE.replace(builtin_styles=(3,), preserve_color="luminance", init="fast")
    frames = list(stylize_video(source, [], settings, tmp_path / "out.mp4"))[:-1]
    assert len(frames) == 3 and all("temporal" in r.losses for r in frames[1:])
    inputs = read_back(source)["images"]
    for record, frame in zip(frames, inputs):
        # luminance mode: the content's chroma is kept, so each frame's hue follows its input's
        chroma = lambda image: image.astype(float) - image.astype(float).mean(-1, keepdims=True)  # noqa: E731
        assert np.abs(chroma(record.image) - chroma(frame)).mean() < 0.5 * np.abs(chroma(frame)).mean()


def test_a_clip_takes_the_optimiser_within_the_size_limit(tmp_path, style):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(SettingsError, match=f"at most {MAX_VIDEO_SIDE} px"):
        next(stylize_video(missing, [style], OPTIMISE.replace(size=MAX_VIDEO_SIDE + 8), tmp_path / "o.mp4"))
    with pytest.raises(SettingsError, match="temporal weight must be 0 or more"):
        next(stylize_video(missing, [style], OPTIMISE, tmp_path / "o.mp4", VideoOptions(temporal_weight=-1)))
