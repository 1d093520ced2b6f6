"""A generated sine tone as a clip's sound: the bundled example clip's and the test clips' one rule
for it (nothing is recorded or shipped)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np

RATE = 48000


def add_tone(container: Any, *, codec: str = "aac") -> Any:
    """A mono audio stream for the tone in ``container`` (an open PyAV output), added before any
    packet is muxed; pass it to :func:`write_tone` once the video is written."""
    stream = container.add_stream(codec, rate=RATE)
    stream.layout = "mono"
    return stream


def write_tone(container: Any, stream: Any, hz: float, seconds: float, volume: float = 0.3) -> None:
    """``seconds`` of a sine of ``hz`` into ``stream`` (from :func:`add_tone`), encoder flushed."""
    size = stream.codec_context.frame_size or 960
    samples = (volume * np.sin(2 * np.pi * hz * np.arange(int(RATE * seconds)) / RATE)).astype(np.float32)
    for start in range(0, len(samples), size):
        chunk = samples[start:start + size]
        if len(chunk) < size:
            chunk = np.pad(chunk, (0, size - len(chunk)))
        audio = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
        audio.sample_rate, audio.pts, audio.time_base = RATE, start, Fraction(1, RATE)
        for packet in stream.encode(audio):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
