"""Streaming sample-rate conversion of PCM16 over ``soxr.ResampleStream`` (no hand-rolled filters).

The soxr stream keeps its filter state between chunks, so resampling a stream chunk by chunk gives the same
samples as resampling it in one go (within 1 LSB of rounding). soxr runs in float32 and we round to int16
ourselves: soxr's own int16 output adds random dither, which would make the core non-deterministic.
The filter has a small group delay: the first chunks come out a little shorter than ``len * out/in`` and
``flush()`` returns the tail at the end of a stream.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

from voice_letta.core.codecs import array_to_pcm16, pcm16_to_array
from voice_letta.errors import ProtocolViolation

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]

_SCALE = np.float32(32768.0)


def _to_pcm16(out: npt.NDArray[np.float32]) -> bytes:
    """float32 in [-1, 1) -> PCM16, rounded to nearest and clipped (deterministic, no dither)."""
    return array_to_pcm16(np.clip(np.rint(out * _SCALE), -32768, 32767).astype(np.int16))


class StreamResampler:
    """Resample mono PCM16 from ``in_rate_hz`` to ``out_rate_hz``, chunk by chunk.

    ``feed(pcm) -> bytes`` takes PCM16 LE bytes of any even length and returns the resampled bytes produced
    so far; ``flush() -> bytes`` drains the filter at the end of a stream and makes the resampler ready for
    a new one. When the rates are equal it is a passthrough (odd lengths still rejected).
    """

    __slots__ = ("_in_rate_hz", "_out_rate_hz", "_quality", "_stream")

    def __init__(self, in_rate_hz: int, out_rate_hz: int, *, quality: Quality = "HQ") -> None:
        if in_rate_hz <= 0 or out_rate_hz <= 0:
            raise ProtocolViolation(f"sample rates must be positive, got {in_rate_hz} -> {out_rate_hz}")
        self._in_rate_hz = in_rate_hz
        self._out_rate_hz = out_rate_hz
        self._quality: Quality = quality
        self._stream: soxr.ResampleStream | None = self._new_stream()

    @property
    def in_rate_hz(self) -> int:
        return self._in_rate_hz

    @property
    def out_rate_hz(self) -> int:
        return self._out_rate_hz

    @property
    def passthrough(self) -> bool:
        return self._in_rate_hz == self._out_rate_hz

    def _new_stream(self) -> soxr.ResampleStream | None:
        if self._in_rate_hz == self._out_rate_hz:
            return None
        return soxr.ResampleStream(self._in_rate_hz, self._out_rate_hz, 1, dtype="float32", quality=self._quality)

    def feed(self, pcm: bytes) -> bytes:
        """Resample one chunk; raises ProtocolViolation on an odd byte count."""
        samples = pcm16_to_array(pcm)
        if self._stream is None:
            return pcm
        if samples.size == 0:
            return b""
        out: npt.NDArray[np.float32] = self._stream.resample_chunk(samples.astype(np.float32) / _SCALE, last=False)
        return _to_pcm16(out)

    def flush(self) -> bytes:
        """Drain the filter's tail (end of stream) and start afresh for the next stream."""
        if self._stream is None:
            return b""
        out: npt.NDArray[np.float32] = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream = self._new_stream()
        return _to_pcm16(out)

    def reset(self) -> None:
        """Drop the filter state (for example after a barge-in discards the rest of a stream)."""
        self._stream = self._new_stream()
