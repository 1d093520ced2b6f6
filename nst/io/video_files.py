"""Video clips in and out, with PyAV (FFmpeg in its wheel): checked before any frame is styled,
read a frame at a time, written under a temporary name and renamed when complete.

* **Read**: MP4/MOV, WebM/MKV and animated GIF, recognised by their first bytes (never by the
  file's name), each opened with its own demuxer only, as :data:`nst.io.images.FORMATS` keeps
  Pillow's other plugins away from uploads. :func:`probe` reads the headers and counts the
  frames' packets without decoding a picture, so every limit (:data:`MAX_SECONDS`,
  :data:`MAX_FRAMES`, :data:`MAX_FRAME_PIXELS`, :data:`MAX_VIDEO_BYTES`) is checked up front.
* **Write**: :class:`ClipWriter` keeps the input's frame rate and, where the output's container
  takes it, its sound: the audio packets are copied, not re-encoded (an MP4 takes AAC, MP3 or
  ALAC; a WebM takes Opus or Vorbis; other sound is encoded to AAC or Opus; a GIF has none). The
  sound is written alongside the frames, so a clip that stops early ends with its sound.
  H.264 and VP9 need even sides: an odd side gets its last row or column repeated.
* **Recipe**: in the container's ``comment`` tag (MP4, MOV, WebM) and in a sidecar JSON file
  beside the clip (:func:`sidecar_path`), since GIF has no such tag.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Mapping

import av
import numpy as np
from PIL import Image

from nst.core.errors import VideoError

MAX_SECONDS = 60.0
MAX_FRAMES = 60 * 60  # a minute at 60 frames per second
MAX_FRAME_PIXELS = 3840 * 2160
MAX_VIDEO_BYTES = 512 * 1024 * 1024
RECIPE_TAG = "comment"
# First bytes -> (the one demuxer that opens it, what a person calls it).
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_MATROSKA = b"\x1a\x45\xdf\xa3"
_GIFS = (b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class Output:
    """How a clip of one suffix is written."""

    container: str
    codec: str
    pix_fmt: str
    copies: frozenset[str]  # input sound codecs copied as they are
    sound: str | None  # the codec other sound is encoded to; None: no sound
    options: Mapping[str, str]


_H264 = {"crf": "18", "preset": "veryfast"}
OUTPUTS: dict[str, Output] = {
    ".mp4": Output("mp4", "libx264", "yuv420p", frozenset({"aac", "mp3", "alac"}), "aac", _H264),
    ".mov": Output("mov", "libx264", "yuv420p", frozenset({"aac", "mp3", "alac", "pcm_s16le"}), "aac", _H264),
    ".webm": Output("webm", "libvpx-vp9", "yuv420p", frozenset({"opus", "vorbis"}), "libopus",
                    {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}),
    ".gif": Output("gif", "gif", "pal8", frozenset(), None, {}),
}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found: the size of a frame, the rate, how many frames, how long, and the sound."""

    width: int
    height: int
    fps: Fraction
    frames: int
    seconds: float
    codec: str
    audio: str | None  # the sound's codec; None: a silent clip
    container: str
    label: str


def _demuxer(head: bytes) -> str | None:
    if head[4:8] in _MP4_BOXES:
        return "mov"
    if head.startswith(_MATROSKA):
        return "matroska"
    if head.startswith(_GIFS):
        return "gif"
    return None


def _label(path: Path, name: str | None) -> str:
    return f'"{name or path.name}"'


def clip_kind(path: str | os.PathLike) -> str | None:
    """The demuxer that reads ``path`` as a clip ("mov", "matroska" or "gif"), told by its first
    bytes; None for anything else (or a file that cannot be read)."""
    try:
        with open(path, "rb") as file:
            return _demuxer(file.read(16))
    except OSError:
        return None


def is_video(path: str | os.PathLike) -> bool:
    """True when ``path`` starts like a clip this module reads (not whether it is a sound one:
    :func:`probe` says that). A GIF counts only with more than one frame: a still GIF is a picture."""
    kind = clip_kind(path)
    if kind != "gif":
        return kind is not None
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except Exception:  # a damaged GIF: let probe say what is wrong with it
        return True


def probe(path: str | os.PathLike, *, max_seconds: float = MAX_SECONDS, name: str | None = None) -> VideoInfo:
    """The clip's facts, every limit checked, no picture decoded; :class:`VideoError` with one
    sentence otherwise."""
    path = Path(path)
    label = _label(path, name)
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise VideoError(f"{label} cannot be read ({exc.strerror or exc}).") from exc
    if size > MAX_VIDEO_BYTES:
        raise VideoError(f"{label} is {size / 2**20:.0f} MB; the limit for a clip is {MAX_VIDEO_BYTES // 2**20} MB.")
    demuxer = _demuxer(head)
    if demuxer is None:
        raise VideoError(f"{label} is not a video clip this app reads (MP4, MOV, WebM, MKV or animated GIF).")
    try:
        with av.open(str(path), format=demuxer) as container:
            return _facts(container, label, max_seconds)
    except VideoError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoError(f"{label} is not a readable video clip (truncated or corrupt file).") from exc


def _facts(container: Any, label: str, max_seconds: float) -> VideoInfo:
    if not container.streams.video:
        raise VideoError(f"{label} has no video in it.")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise VideoError(f"{label} does not say how large its frames are.")
    if width * height > MAX_FRAME_PIXELS:
        raise VideoError(f"{label} has frames of {width}×{height} pixels; the limit is "
                         f"{MAX_FRAME_PIXELS / 1e6:.1f} megapixels a frame.")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        raise VideoError(f"{label} does not say its frame rate.")
    fps = Fraction(rate)
    frames = 0
    for packet in container.demux(stream):  # packets only: nothing is decoded
        if packet.size:
            frames += 1
            if frames > MAX_FRAMES:
                raise VideoError(f"{label} has more than {MAX_FRAMES} frames, the limit for a clip.")
    if frames == 0:
        raise VideoError(f"{label} has no frames.")
    if frames == 1:
        raise VideoError(f"{label} has one frame: that is a picture, not a clip.")
    seconds = float(frames / fps)
    if seconds > max_seconds:
        raise VideoError(f"{label} is {seconds:.1f} s long; the limit is {max_seconds:g} s.")
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return VideoInfo(width, height, fps, frames, seconds, stream.codec_context.name, audio,
                     container.format.name, label)


def read_frames(path: str | os.PathLike, info: VideoInfo) -> Iterator[np.ndarray]:
    """The clip's frames, one (H, W, 3) uint8 RGB array at a time (never all held), at most
    ``info.frames`` of them; :class:`VideoError` names the frame where a damaged clip breaks."""
    index = 0
    try:
        with av.open(str(path), format=clip_kind(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if index >= info.frames:
                    break
                yield frame.to_ndarray(format="rgb24")
                index += 1
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoError(f"{info.label} is damaged at frame {index + 1} of {info.frames}.") from exc
    if index == 0:
        raise VideoError(f"{info.label} has no frame that can be decoded.")


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the recipe of the clip at ``path`` is written beside it."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def read_clip_recipe(path: str | os.PathLike) -> dict | None:
    """The recipe a :class:`ClipWriter` wrote: from the sidecar when it is there, else from the
    container's tag; None when neither holds one."""
    sidecar = sidecar_path(path)
    if sidecar.exists():
        return json.loads(sidecar.read_text())
    with av.open(str(path), format=clip_kind(path)) as container:
        text = container.metadata.get(RECIPE_TAG)
    return json.loads(text) if text else None


class ClipWriter:
    """Writes frames to ``path`` (its suffix picks the format, :data:`OUTPUTS`) at ``fps``, with
    the sound of ``sound_from`` (the input clip) where it has any; under a temporary name until
    :meth:`close`, which renames it and writes the recipe's sidecar. :meth:`abort` (or leaving
    the ``with`` block by an exception) removes everything written."""

    def __init__(self, path: str | os.PathLike, fps: Fraction, *, sound_from: str | os.PathLike | None = None,
                 recipe: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in OUTPUTS:
            raise VideoError(f"{self.path.name}: a clip is written as {', '.join(OUTPUTS)}, not {suffix or 'no suffix'}.")
        self.output = OUTPUTS[suffix]
        self.fps = Fraction(fps)
        self.frames = 0
        self.recipe = dict(recipe) if recipe is not None else None
        self._part = self.path.with_name(f".{self.path.stem}.part-{os.getpid()}{suffix}")
        self._container = av.open(str(self._part), "w", format=self.output.container)
        if self.recipe is not None and self.output.container != "gif":
            self._container.metadata[RECIPE_TAG] = json.dumps(self.recipe, separators=(",", ":"))
        self._video: Any = None
        self._ended = False
        self._sound = _Sound(self._container, sound_from, self.output) if sound_from is not None else None

    @property
    def codec(self) -> str:
        """The video codec the clip is written with (H.264 is ``libx264``)."""
        return self.output.codec

    @property
    def sound(self) -> str | None:
        """What happens to the input's sound: ``"copied"``, ``"encoded as X"`` or None (none kept)."""
        return self._sound.how if self._sound is not None else None

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._ended:
            return
        if kind is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; every frame has the first one's size."""
        frame = np.ascontiguousarray(frame)
        if self._video is None:
            self._open_video(*frame.shape[:2])
        if self.output.pix_fmt == "yuv420p":
            frame = _even(frame)
        for packet in self._video.encode(self._frame(frame)):
            self._container.mux(packet)
        self.frames += 1
        if self._sound is not None:
            self._sound.until(self.frames / self.fps)

    def close(self) -> Path:
        """Finish the clip and move it into place (with its sidecar recipe); the final path."""
        if self._video is None:
            self.abort()
            raise VideoError(f"{self.path.name}: no frame was written.")
        for packet in self._video.encode():
            self._container.mux(packet)
        if self._sound is not None:
            self._sound.finish(self.frames / self.fps)
        self._container.close()
        self._ended = True
        os.replace(self._part, self.path)
        if self.recipe is not None:
            sidecar = sidecar_path(self.path)
            part = sidecar.with_name(f".{sidecar.name}.part-{os.getpid()}")
            part.write_text(json.dumps(self.recipe, indent=1))
            os.replace(part, sidecar)
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the temporary file: nothing half-written is left behind."""
        self._ended = True
        if self._sound is not None:
            self._sound.drop()
        try:
            self._container.close()
        except Exception:  # an encoder that never started cannot flush: the file goes anyway
            pass
        self._part.unlink(missing_ok=True)

    def _open_video(self, height: int, width: int) -> None:
        stream = self._container.add_stream(self.output.codec, rate=self.fps, options=dict(self.output.options))
        even = self.output.pix_fmt == "yuv420p"
        stream.width, stream.height = (width + width % 2, height + height % 2) if even else (width, height)
        stream.pix_fmt = self.output.pix_fmt
        self._video = stream

    def _frame(self, frame: np.ndarray) -> av.VideoFrame:
        if self.output.pix_fmt != "pal8":
            return av.VideoFrame.from_ndarray(frame, format="rgb24")
        # A GIF frame: its own 256-colour palette, dithered (swscale's fixed palette bands badly).
        indexed = Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT,
                                                  dither=Image.Dither.FLOYDSTEINBERG)
        palette = np.zeros((256, 4), np.uint8)  # PyAV takes each entry as A, R, G, B
        colours = np.array(indexed.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
        palette[:, 0], palette[: len(colours), 1:] = 255, colours
        return av.VideoFrame.from_ndarray((np.asarray(indexed), palette), format="pal8")


def _even(frame: np.ndarray) -> np.ndarray:
    """The frame with its last row and column repeated where a side is odd (H.264 and VP9 in 4:2:0
    need even sides)."""
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return frame


class _Sound:
    """The input's sound, written into the output as the frames advance: packets copied where the
    container takes the codec, else decoded and encoded to the output's sound codec."""

    def __init__(self, out: Any, source: str | os.PathLike, output: Output) -> None:
        self.how: str | None = None
        self._out = out
        self._in: Any = None
        if output.sound is None:
            return
        source_container = av.open(str(source), format=clip_kind(source))
        if not source_container.streams.audio:
            source_container.close()
            return
        self._in = source_container
        stream = source_container.streams.audio[0]
        self._copy = stream.codec_context.name in output.copies
        if self._copy:
            self._stream = out.add_stream_from_template(stream)
            self.how = "copied"
        else:
            self._stream = out.add_stream(output.sound, rate=48000 if output.sound == "libopus" else
                                          stream.codec_context.sample_rate or 44100)
            self._stream.layout = "stereo" if stream.codec_context.channels > 1 else "mono"
            self._resampler = av.AudioResampler(format=self._stream.codec_context.format,
                                                layout=self._stream.layout, rate=self._stream.rate)
            self.how = f"encoded as {output.sound}"
        self._packets = iter(source_container.demux(stream))
        self._pending: Any = None

    def until(self, seconds: float | Fraction) -> None:
        """Write the sound up to ``seconds`` into the clip."""
        if self._in is None:
            return
        while True:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                self._packets = iter(())
                return
            if packet.dts is None:  # the demuxer's flush packet
                continue
            start = packet.pts * packet.time_base if packet.pts is not None else 0
            if start >= seconds:
                self._pending = packet
                return
            self._write(packet)

    def finish(self, seconds: float | Fraction) -> None:
        """Write the sound up to the clip's end, flush the encoder and close the input."""
        if self._in is None:
            return
        self.until(seconds)
        if not self._copy:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
        self.drop()

    def drop(self) -> None:
        if self._in is not None:
            self._in.close()
            self._in = None

    def _write(self, packet: Any) -> None:
        if self._copy:
            packet.stream = self._stream
            self._out.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                for out_packet in self._stream.encode(resampled):
                    self._out.mux(out_packet)
