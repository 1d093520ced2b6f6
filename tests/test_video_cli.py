"""``python -m nst clip.mp4 painting.jpg -o out.mp4``: a clip recognised by its content, styled with
progress lines, and bad input refused with exit code 2 and one line."""

from __future__ import annotations

import numpy as np
import pytest

from nst.cli.main import main
from nst.core.masks import mask_labels
from nst.io.video_files import read_clip_recipe
from nst.video.optimised_frames import DEFAULT_TEMPORAL_WEIGHT
from nst.video import DEFAULT_CONSISTENCY
from tests.support.clips import pan, read_back, texture, write_clip
from PIL import Image

pytestmark = pytest.mark.unit


@pytest.fixture
def inputs(tmp_path):
    clip = write_clip(tmp_path / "holiday.bin", pan(128, 96, frames=8, step=2), 8, 8, tone=440.0)  # no suffix hint
    style = tmp_path / "painting.png"
    Image.fromarray(texture(64, 64, seed=4)).save(style)
    return clip, style


def test_a_clip_is_styled_by_its_content_with_progress_lines(inputs, tmp_path, capsys):
    clip, style = inputs
    out = tmp_path / "out.mp4"
    assert main([str(clip), str(style), "-o", str(out), "--size", "128", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "frame 8/8" in err and "frames/s" in err
    assert f"saved {out} (8 frames, libx264, sound copied" in err
    back = read_back(out)
    assert (back["frames"], back["fps"], back["audio"]) == (8, 8, "aac")
    recipe = read_clip_recipe(out)
    assert recipe["settings"]["method"] == "fast" and recipe["content"] == "holiday.bin"
    assert recipe["video"] == {"consistency": DEFAULT_CONSISTENCY, "max_seconds": 60.0,
                               "temporal_weight": DEFAULT_TEMPORAL_WEIGHT}


def _refused(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nst: error: ")
    return err[0]


def test_bad_clips_and_settings_get_one_line_and_exit_2(inputs, tmp_path, capsys):
    clip, style = inputs
    out = str(tmp_path / "out.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[:600])
    assert "not a readable video clip" in _refused(capsys, [str(truncated), str(style), "-o", out])
    assert "consistency must be between 0 and 1" in _refused(
        capsys, [str(clip), str(style), "-o", out, "--consistency", "1.5"])
    assert "temporal weight must be 0 or more" in _refused(
        capsys, [str(clip), str(style), "-o", out, "--method", "gatys", "--temporal-weight", "-1"])
    assert "is 1.0 s long; the limit is 0.5 s" in _refused(
        capsys, [str(clip), str(style), "-o", out, "--max-seconds", "0.5"])
    assert "a clip is written as .mp4, .mov, .webm, .gif" in _refused(
        capsys, [str(clip), str(style), "-o", str(tmp_path / "out.png")])
    assert "--from is for images" in _refused(capsys, [str(clip), str(style), "-o", out, "--from", str(style)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holiday.bin", "painting.png", "truncated.mp4"]


def test_an_animated_gif_is_a_clip_unless_written_as_a_picture(tmp_path, capsys):
    frames = pan(64, 48, frames=6, step=2)
    gif = tmp_path / "moving.gif"
    Image.fromarray(frames(0)).save(gif, save_all=True, append_images=[Image.fromarray(frames(t)) for t in range(1, 6)],
                                    duration=100, loop=0)
    style = tmp_path / "painting.png"
    Image.fromarray(texture(64, 64, seed=4)).save(style)
    assert main([str(gif), str(style), "-o", str(tmp_path / "out.gif"), "--size", "64", "--quiet"]) == 0
    assert read_back(tmp_path / "out.gif")["frames"] == 6
    assert main([str(gif), str(style), "-o", str(tmp_path / "still.png"), "--size", "64", "--method", "fast",
                 "--quiet"]) == 0
    assert Image.open(tmp_path / "still.png").size == (64, 48)


def test_a_clip_takes_the_optimiser_and_a_mask_drawn_for_its_first_frame(tmp_path, capsys):
    clip = write_clip(tmp_path / "pan.mp4", pan(64, 48, frames=3, step=2), 3, 10)
    style = tmp_path / "painting.png"
    Image.fromarray(texture(64, 64, seed=4)).save(style)
    mask = np.full((48, 64, 3), 255, np.uint8)
    mask[:, :32] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.mp4"
    assert main([str(clip), str(style), "-o", str(out), "--method", "gatys", "--steps", "3", "--size", "64",
                 "--multiscale", "off", "--device", "cpu", "--mask", str(tmp_path / "mask.png"),
                 "--region", "#ff0000=1", "--region", "#ffffff=photo", "--temporal-weight", "1e6", "--quiet"]) == 0
    assert read_back(out)["frames"] == 3
    recipe = read_clip_recipe(out)
    assert recipe["settings"]["method"] == "gatys" and recipe["video"]["temporal_weight"] == 1e6
    labels = mask_labels(recipe["settings"]["mask"], recipe["settings"]["regions"])  # the mask as drawn
    assert (labels[:, :32] == 0).all() and (labels[:, 32:] == 1).all()
