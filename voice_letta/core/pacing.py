"""Pacer: real-time pacing of outbound audio, sans-I/O.

TTS produces audio faster than real time. Sending it all at once would fill the client's buffer, so a
barge-in could not stop what is already queued there. The Pacer cuts pushed audio into ``frame_ms``
frames and releases a frame only when doing so keeps the audio sent at most ``lead_ms`` ahead of real time:

    frame k (0-based, audio offset t_k ms) is due at   play_start + (t_k + frame_ms - lead_ms) / 1000

where ``play_start`` is the wall time the stream started playing. After an underrun (all audio played, the
queue empty) the timeline restarts at the next ``pop_due`` so silence gaps are not made up by a burst.
``clear()`` drops everything not yet sent, so a stop takes effect within the audio already sent (at most
``lead_ms``) and no further frame is released. The driver loops:
``sleep(next_due(now) - now); send(pop_due(now))``.
"""

from __future__ import annotations

import math
from collections import deque


class Pacer:
    __slots__ = (
        "_bps",
        "_frame_bytes",
        "_frame_ms",
        "_lead_ms",
        "_partial",
        "_play_start",
        "_queue",
        "_rate",
        "_sent_ms",
        "_stream_ms",
    )

    def __init__(
        self, sample_rate_hz: int, frame_ms: int = 20, lead_ms: float = 100.0, *, bytes_per_sample: int = 2
    ) -> None:
        if sample_rate_hz <= 0 or frame_ms <= 0 or bytes_per_sample not in (1, 2):
            raise ValueError("sample_rate_hz and frame_ms must be positive, bytes_per_sample 1 or 2")
        if lead_ms < frame_ms:
            raise ValueError(f"lead_ms ({lead_ms}) must be at least one frame ({frame_ms} ms)")
        self._rate = sample_rate_hz
        self._frame_ms = frame_ms
        self._lead_ms = lead_ms
        self._bps = bytes_per_sample
        self._frame_bytes = sample_rate_hz * frame_ms // 1000 * bytes_per_sample
        self._queue: deque[bytes] = deque()
        self._partial = bytearray()
        self._play_start: float | None = None  # wall time of offset 0 of the current stream
        self._stream_ms = 0.0  # audio sent in the current stream
        self._sent_ms = 0.0  # audio sent since creation

    # -- input ------------------------------------------------------------------------------------------
    def push(self, pcm: bytes) -> None:
        """Queue audio (any length; a trailing partial frame waits for more or for ``flush()``)."""
        self._partial += pcm
        n = len(self._partial) // self._frame_bytes
        if n:
            size = self._frame_bytes
            data = bytes(self._partial[: n * size])
            del self._partial[: n * size]
            self._queue.extend(data[i * size : (i + 1) * size] for i in range(n))

    def flush(self) -> None:
        """End of the pushed audio: queue the trailing partial frame (whole samples) as a short frame."""
        tail = len(self._partial) // self._bps * self._bps
        if tail:
            self._queue.append(bytes(self._partial[:tail]))
        self._partial.clear()

    def clear(self) -> float:
        """Drop all audio not yet sent; returns the ms dropped. The next push starts a fresh stream."""
        dropped = self.queued_ms
        self._queue.clear()
        self._partial.clear()
        self._play_start = None
        self._stream_ms = 0.0
        return dropped

    # -- timing -----------------------------------------------------------------------------------------
    def _ms(self, frame: bytes) -> float:
        return len(frame) // self._bps * 1000.0 / self._rate

    def _restart_if_idle(self, now: float) -> None:
        if self._play_start is None or now >= self._play_start + self._stream_ms / 1000.0:
            # Nothing is playing any more: the next frame starts a new timeline at ``now``.
            self._play_start = now
            self._stream_ms = 0.0

    def next_due(self, now: float) -> float:
        """Wall time at which the next frame may be sent (``now`` if already due; ``inf`` if none queued)."""
        if not self._queue:
            return math.inf
        if self._play_start is None or now >= self._play_start + self._stream_ms / 1000.0:
            return now
        frame_ms = self._ms(self._queue[0])
        due = self._play_start + (self._stream_ms + frame_ms - self._lead_ms) / 1000.0
        return max(now, due)

    def pop_due(self, now: float) -> list[bytes]:
        """Frames whose send time has come; afterwards at most ``lead_ms`` of audio is ahead of ``now``."""
        out: list[bytes] = []
        if not self._queue:
            return out
        self._restart_if_idle(now)
        assert self._play_start is not None
        elapsed_ms = (now - self._play_start) * 1000.0
        while self._queue:
            frame_ms = self._ms(self._queue[0])
            if self._stream_ms + frame_ms - elapsed_ms > self._lead_ms + 1e-6:
                break
            out.append(self._queue.popleft())
            self._stream_ms += frame_ms
            self._sent_ms += frame_ms
        return out

    def ahead_ms(self, now: float) -> float:
        """Audio sent but not yet due to have played, at ``now``."""
        if self._play_start is None:
            return 0.0
        return max(0.0, self._stream_ms - (now - self._play_start) * 1000.0)

    # -- introspection ----------------------------------------------------------------------------------
    @property
    def sent_ms(self) -> float:
        """Total audio released since creation (across streams and clears)."""
        return self._sent_ms

    @property
    def stream_sent_ms(self) -> float:
        """Audio released in the current stream (reset by ``clear()``)."""
        return self._stream_ms

    @property
    def queued_ms(self) -> float:
        return sum(self._ms(f) for f in self._queue) + len(self._partial) // self._bps * 1000.0 / self._rate

    @property
    def lead_ms(self) -> float:
        return self._lead_ms

    @property
    def frame_ms(self) -> int:
        return self._frame_ms
