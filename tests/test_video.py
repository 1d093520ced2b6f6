"""Stylising a clip (nst.video.stylize_video) with the real fast network on synthetic clips of known
motion: every frame styled and written with the input's rate and sound, the flicker falling with
consistency on, a scene cut starting afresh, Stop keeping a playable shorter clip."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from nst.core.errors import SettingsError, VideoError
from nst.core.settings import Settings
from nst.io.video_files import read_clip_recipe
from nst.io.video_files import probe
from nst.video import StyledFrame, VideoOptions, stylize_video
from nst.video import write_clip as write_styled
from nst.video.fast_frames import CARRY_MARGIN, carried_pixels
from tests.support.clips import moving_square, pan, read_back, scene_cut, texture, write_clip
from PIL import Image

pytestmark = pytest.mark.unit

FAST = Settings(method="fast", size=192, device="cpu")  # the clips' own size: frames compare pixel for pixel


@pytest.fixture(scope="module")
def style():
    return Image.fromarray(texture(96, 96, seed=7)[:, ::-1].copy())


def _run(source, out, style, consistency, settings=FAST, stop=None):
    records = list(stylize_video(source, [style], settings, out, VideoOptions(consistency=consistency), stop=stop))
    return records[:-1], records[-1]


def test_every_frame_is_styled_into_a_clip_with_the_input_rate_and_sound(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(192, 128, frames=14, step=3), 14, 12, tone=330.0)
    frames, last = _run(source, tmp_path / "out.mp4", style, 0.7)
    assert [r.index for r in frames] == list(range(14)) and all(r.total == 14 for r in frames)
    assert last.done and not last.stopped and last.path == tmp_path / "out.mp4"
    assert last.codec == "libx264" and last.sound == "copied"
    back = read_back(last.path)
    assert (back["frames"], back["fps"], back["audio"]) == (14, 12, "aac")
    assert back["images"][0].shape == (128, 192, 3)
    recipe = read_clip_recipe(last.path)
    assert recipe["settings"]["method"] == "fast" and recipe["video"]["consistency"] == 0.7
    assert frames[0].flicker is None and all(r.flicker is not None for r in frames[1:])
    assert frames[-1].fps is not None and frames[-1].fps > 0


def test_consistency_lowers_the_flicker_on_the_same_clip(tmp_path, style):
    source = write_clip(tmp_path / "square.mp4", moving_square(192, 128, side=32, step=4), 10, 10)
    alone, _ = _run(source, tmp_path / "alone.mp4", style, 0.0)
    steady, _ = _run(source, tmp_path / "steady.mp4", style, 0.7)
    error_alone = np.mean([r.flicker for r in alone[1:]])
    error_steady = np.mean([r.flicker for r in steady[1:]])
    # consistency c keeps (1 - c) of a frame's own change where the flow is reliable: 0.3 here
    assert error_steady < 0.75 * error_alone
    # and the style is not faded out: the frames still differ from the input as much
    source_frames = read_back(source)["images"]
    change = [np.abs(r.image.astype(float) - f).mean() for r, f in zip(steady, source_frames)]
    change_alone = [np.abs(r.image.astype(float) - f).mean() for r, f in zip(alone, source_frames)]
    assert np.mean(change) > 0.8 * np.mean(change_alone)


def test_consistency_carries_pixels_whole_so_the_strokes_keep_their_contrast(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(192, 128, frames=12, step=2), 12, 12)
    alone, _ = _run(source, tmp_path / "alone.mp4", style, 0.0)
    steady, _ = _run(source, tmp_path / "steady.mp4", style, 0.75)
    # a blend of two paintings would average their strokes away: the fine detail (what a 3 px blur
    # removes) would fall towards 1/sqrt(2) of frame by frame's at an even mix; carried whole, it stays
    def detail(image):
        image = image.astype(np.float32)
        return float(np.abs(image - cv2.GaussianBlur(image, (0, 0), 3.0)).mean())
    ratio = np.mean([detail(r.image) for r in steady[4:]]) / np.mean([detail(r.image) for r in alone[4:]])
    assert ratio > 0.9, ratio
    assert np.mean([r.flicker for r in steady[1:]]) < 0.75 * np.mean([r.flicker for r in alone[1:]])


def test_the_carried_pixels_are_the_consistency_share_of_the_reliable_ones():
    painted = texture(160, 120, seed=3)
    reliable = np.ones((120, 160), np.float32)
    reliable[:, :40] = 0  # a disocclusion: painted afresh, whatever the consistency, and a margin beside it
    clear = 40 + CARRY_MARGIN
    for consistency in (0.25, 0.75):
        keep = carried_pixels(reliable, consistency, painted)
        assert not keep[:, :clear].any() and keep[:, clear:clear + 4].any()
        assert keep[:, clear:].mean() == pytest.approx(consistency, abs=0.02)
    # the same painting draws the same pixels (repeatable runs, parts on a cluster); another, others
    assert np.array_equal(carried_pixels(reliable, 0.5, painted), carried_pixels(reliable, 0.5, painted))
    assert not np.array_equal(carried_pixels(reliable, 0.5, painted), carried_pixels(reliable, 0.5, painted[::-1]))


def test_a_scene_cut_starts_afresh(tmp_path, style):
    source = write_clip(tmp_path / "cut.mp4", scene_cut(192, 128, cut=5, step=3), 9, 10)
    alone, _ = _run(source, tmp_path / "alone.mp4", style, 0.0)
    steady, _ = _run(source, tmp_path / "steady.mp4", style, 0.9)
    assert [r.cut for r in steady] == [False] * 5 + [True] + [False] * 3
    assert steady[5].flicker is None
    # nothing of the first shot is carried into the cut frame: it is the frame painted alone
    assert np.array_equal(steady[5].image, alone[5].image)
    assert not np.array_equal(steady[6].image, alone[6].image)  # and the new shot is held from there


def test_stop_keeps_a_playable_shorter_clip(tmp_path, style):
    source = write_clip(tmp_path / "pan.mp4", pan(192, 128, frames=20, step=2), 20, 10, tone=220.0)
    stop = threading.Event()
    records = []
    for record in stylize_video(source, [style], FAST, tmp_path / "short.mp4", stop=stop):
        records.append(record)
        if record.index == 3 and not record.done:
            stop.set()
    last = records[-1]
    assert last.done and last.stopped and last.path is not None
    back = read_back(last.path)
    assert back["frames"] == 4
    assert back["audio_seconds"] == pytest.approx(0.4, abs=0.1)


def test_what_a_clip_cannot_be_styled_with_is_refused_before_it_is_opened(tmp_path, style):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(SettingsError, match="at most 1920 px"):  # the optimiser is taken (tests/test_video_optimise.py)
        next(stylize_video(missing, [style], FAST.replace(method="gatys", size=2048), tmp_path / "o.mp4"))
    with pytest.raises(SettingsError, match="consistency must be between 0 and 1"):
        next(stylize_video(missing, [style], FAST, tmp_path / "o.mp4", VideoOptions(consistency=2)))
    with pytest.raises(VideoError, match="cannot be read"):
        next(stylize_video(missing, [style], FAST, tmp_path / "o.mp4"))
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_the_first_frame_keeps_the_frames_done_as_a_playable_clip(tmp_path):
    """Nothing made is lost: a frame that cannot be decoded or styled mid-clip ends it like a stop,
    the closing record saying why."""
    source = write_clip(tmp_path / "pan.mp4", pan(96, 64, frames=8, step=2), 8, 8, tone=440.0)
    info = probe(source)

    def frames():
        for index, image in enumerate(read_back(source)["images"][:3]):
            yield StyledFrame(index, image, None, False)
        raise VideoError("frame 4 of pan.mp4 could not be decoded")

    records = list(write_styled(frames(), info, tmp_path / "out.mp4", sound_from=source, recipe={}))
    last = records[-1]
    assert last.done and last.stopped and last.path == tmp_path / "out.mp4"
    assert last.error == "The clip failed after 3 of 8 frames (frame 4 of pan.mp4 could not be decoded)."
    assert read_back(last.path)["frames"] == 3


def test_a_failure_before_the_first_frame_is_raised_and_leaves_no_file(tmp_path):
    source = write_clip(tmp_path / "pan.mp4", pan(96, 64, frames=4, step=2), 4, 8)

    def frames():
        raise VideoError("frame 1 of pan.mp4 could not be decoded")
        yield  # a generator

    with pytest.raises(VideoError):
        list(write_styled(frames(), probe(source), tmp_path / "out.mp4", sound_from=source, recipe={}))
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob("*.part*"))


@pytest.mark.parametrize("settings", [
    FAST.replace(builtin_styles=(3,), style_blend=(0.6, 0.4), strength=0.7),
    FAST.replace(preserve_color="luminance"),
    FAST.replace(preserve_color="histogram", builtin_styles=(5,), style_blend=(0.5, 0.5)),
], ids=["blend-strength-builtin", "luminance", "histogram"])
def test_a_clips_first_frame_is_the_image_methods_result_with_the_same_settings(tmp_path, style, settings):
    """Style, blends, strength, colour modes and built-in styles behave for a clip as for an image:
    its first frame (nothing carried into it) is what nst.stylize paints for that frame."""
    from nst.engine import stylize

    source = write_clip(tmp_path / "pan.mp4", pan(192, 128, frames=2, step=3), 2, 8)
    first = read_back(source)["images"][0]
    records = list(stylize_video(source, [style], settings, tmp_path / "out.mp4", VideoOptions()))
    image = list(stylize(Image.fromarray(first), [style], settings))[-1].image
    # Both paint the same uint8 frame with the same network at the same size; each rounds to uint8 once.
    assert np.abs(records[0].image.astype(int) - image.astype(int)).max() <= 1
