"""Video clips in and out (nst.io.video_files): facts and limits before any frame is styled, frames
streamed, the rate, count, duration and sound kept, the recipe written, hostile files refused in
one sentence, nothing half-written left behind."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from nst.core.errors import VideoError
from nst.io.video_files import ClipWriter, is_video, probe, read_clip_recipe, read_frames, sidecar_path
from tests.support.clips import moving_square, pan, read_back, write_clip

pytestmark = pytest.mark.unit


@pytest.fixture
def clip(tmp_path):
    """1.2 s at 10 fps of a pan, with a 440 Hz tone (AAC) as its sound."""
    return write_clip(tmp_path / "pan.mp4", pan(), 12, 10, tone=440.0)


def _restyle(path, out, frames=None, **kwargs):
    info = probe(path)
    with ClipWriter(out, info.fps, sound_from=path, **kwargs) as writer:
        for index, frame in enumerate(read_frames(path, info)):
            if frames is not None and index == frames:
                break
            writer.write(255 - frame)
    return writer


def test_probe_reads_the_facts_without_decoding(clip):
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frames) == (96, 64, Fraction(10), 12)
    assert info.seconds == pytest.approx(1.2)
    assert info.audio == "aac" and info.codec == "h264"
    assert is_video(clip)


def test_frames_stream_in_order(clip):
    frames = list(read_frames(clip, probe(clip)))
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3) and frames[0].dtype == np.uint8
    source = pan()
    # H.264 at its default quality (crf 23) on fine grain: close to the source, not equal
    assert np.abs(frames[5].astype(int) - source(5).astype(int)).mean() < 12


def test_mp4_keeps_rate_count_duration_and_copies_the_sound(clip, tmp_path):
    out = tmp_path / "out.mp4"
    writer = _restyle(clip, out, recipe={"format": "nst-recipe/1", "settings": {"method": "fast"}})
    assert writer.sound == "copied" and writer.codec == "libx264"
    back = read_back(out)
    assert (back["frames"], back["fps"], back["codec"], back["audio"]) == (12, 10, "h264", "aac")
    assert back["audio_seconds"] == pytest.approx(1.2, abs=0.05)
    assert json.loads(back["tags"]["comment"])["settings"] == {"method": "fast"}
    assert json.loads(sidecar_path(out).read_text())["format"] == "nst-recipe/1"
    assert read_clip_recipe(out)["settings"] == {"method": "fast"}
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_webm_encodes_the_sound_it_cannot_copy(clip, tmp_path):
    writer = _restyle(clip, tmp_path / "out.webm")
    assert writer.sound == "encoded as libopus" and writer.codec == "libvpx-vp9"
    back = read_back(tmp_path / "out.webm")
    assert (back["frames"], back["codec"], back["audio"]) == (12, "vp9", "opus")
    assert back["audio_seconds"] is None or back["audio_seconds"] == pytest.approx(1.2, abs=0.1)


def test_gif_keeps_the_frames_and_has_no_sound(clip, tmp_path):
    writer = _restyle(clip, tmp_path / "out.gif", recipe={"format": "nst-recipe/1"})
    assert writer.sound is None
    back = read_back(tmp_path / "out.gif")
    assert back["frames"] == 12 and back["audio"] is None
    assert read_clip_recipe(tmp_path / "out.gif") == {"format": "nst-recipe/1"}  # from the sidecar
    # a 256-colour palette per frame, dithered: close to the frame
    assert np.abs(back["images"][3].astype(int) - (255 - read_back(clip)["images"][3]).astype(int)).mean() < 12


def test_a_clip_stopped_early_is_shorter_and_its_sound_ends_with_it(clip, tmp_path):
    _restyle(clip, tmp_path / "short.mp4", frames=5)
    back = read_back(tmp_path / "short.mp4")
    assert back["frames"] == 5
    assert back["audio_seconds"] == pytest.approx(0.5, abs=0.1)


def test_odd_sides_are_padded_for_h264(tmp_path):
    clip = write_clip(tmp_path / "odd.mp4", moving_square(96, 64), 4, 10)
    info = probe(clip)
    with ClipWriter(tmp_path / "odd-out.mp4", info.fps) as writer:
        for frame in read_frames(clip, info):
            writer.write(frame[:63, :95])
    back = read_back(tmp_path / "odd-out.mp4")
    assert back["images"][0].shape == (64, 96, 3) and back["frames"] == 4


def test_a_failed_write_leaves_nothing(clip, tmp_path):
    out = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError):
        with ClipWriter(out, Fraction(10), sound_from=clip, recipe={"a": 1}) as writer:
            writer.write(np.zeros((64, 96, 3), np.uint8))
            raise RuntimeError("the run failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pan.mp4"]


def _refused(path, match, **kwargs):
    with pytest.raises(VideoError, match=match) as caught:
        probe(path, **kwargs)
    message = str(caught.value)
    assert message.count(".") >= 1 and "\n" not in message and "Traceback" not in message
    return message


def test_hostile_files_are_refused_in_one_sentence(clip, tmp_path):
    picture = tmp_path / "photo.mp4"
    Image.new("RGB", (32, 32), "red").save(picture, format="PNG")  # a picture renamed .mp4
    assert not is_video(picture)
    _refused(picture, "not a video clip this app reads")

    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the index is at the end
    _refused(truncated, "not a readable video clip|damaged|no frames")

    garbage = tmp_path / "garbage.mkv"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 40)
    _refused(garbage, "not a readable video clip|has no video|no frames")

    still = tmp_path / "still.gif"
    Image.new("RGB", (32, 32), "blue").save(still)
    assert not is_video(still)
    _refused(still, "one frame: that is a picture")

    _refused(clip, r"1\.2 s long; the limit is 1 s", max_seconds=1)


def test_a_clip_with_no_video_or_no_frames_is_refused(tmp_path):
    sound_only = tmp_path / "sound.mp4"
    with av.open(str(sound_only), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        size = stream.codec_context.frame_size or 1024
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, size), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, index * size, Fraction(1, 48000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    _refused(sound_only, "has no video in it")

    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        out.start_encoding()  # the header, with a video stream and no frame
    _refused(empty, "no frames|has no video in it|not a readable video clip")  # the demuxer drops an empty track


def test_a_frame_size_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.mp4"  # tiny on disk (two black frames compress to nothing), 16.8 MP a frame
    with av.open(str(bomb), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 4096, 4096, "yuv420p"
        black = av.VideoFrame.from_ndarray(np.zeros((4096, 4096, 3), np.uint8), format="rgb24")
        for _ in range(2):
            for packet in stream.encode(black):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert bomb.stat().st_size < 200_000
    _refused(bomb, r"4096×4096 pixels; the limit is 8\.3 megapixels a frame")
