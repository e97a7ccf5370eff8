"""Re-frame arbitrary PCM16 chunks into frames of exactly 10, 20 or 30 ms (what webrtcvad requires)."""

from __future__ import annotations

from voice_letta.core.audio import VALID_FRAME_MS
from voice_letta.errors import ProtocolViolation

#: Rates the Framer accepts (webrtcvad itself takes 8/16/32/48 kHz; 24 kHz is for TTS output).
FRAMER_RATES_HZ: tuple[int, ...] = (8000, 16000, 24000, 32000, 48000)


class Framer:
    """``feed(pcm) -> list[bytes]`` of exact ``frame_ms`` PCM16 frames; the remainder waits for more input.

    Chunks may have any length, including odd byte counts (a sample split across two messages is joined
    again). ``flush()`` returns the incomplete tail, ``reset()`` drops it.
    """

    __slots__ = ("_buf", "_frame_bytes", "_frame_ms", "_sample_rate_hz")

    def __init__(self, sample_rate_hz: int, frame_ms: int) -> None:
        if sample_rate_hz not in FRAMER_RATES_HZ:
            raise ProtocolViolation(
                f"unsupported sample rate {sample_rate_hz} Hz; supported: {', '.join(map(str, FRAMER_RATES_HZ))}"
            )
        if frame_ms not in VALID_FRAME_MS:
            raise ProtocolViolation(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        self._sample_rate_hz = sample_rate_hz
        self._frame_ms = frame_ms
        self._frame_bytes = sample_rate_hz * frame_ms // 1000 * 2
        self._buf = bytearray()

    @property
    def sample_rate_hz(self) -> int:
        return self._sample_rate_hz

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    @property
    def frame_bytes(self) -> int:
        return self._frame_bytes

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)

    def feed(self, pcm: bytes) -> list[bytes]:
        self._buf += pcm
        n = len(self._buf) // self._frame_bytes
        if n == 0:
            return []
        size = self._frame_bytes
        view = bytes(self._buf[: n * size])
        del self._buf[: n * size]
        return [view[i * size : (i + 1) * size] for i in range(n)]

    def flush(self) -> bytes:
        """Return and forget the incomplete tail (whole samples only)."""
        tail = bytes(self._buf[: len(self._buf) // 2 * 2])
        self._buf.clear()
        return tail

    def reset(self) -> None:
        self._buf.clear()
