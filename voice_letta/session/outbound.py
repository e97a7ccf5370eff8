"""The writer stage of a session: JSON messages at once, audio paced by ``core.Pacer``, one socket.

- ``send(message)`` queues a message (a session event, encoded by the transport); it goes out before any audio
  frame that is not yet due.
- ``begin_response()`` opens a response's audio stream and returns its number; ``push_audio(pcm, stream)``
  queues PCM16 at the session's output rate; the writer releases 20 ms frames so that at most ``lead_ms`` is
  ahead of real time. It waits (backpressure on TTS) while more than ``max_buffered_ms`` is queued.
- ``send_after_audio(message, stream)`` queues a message that must follow the audio pushed so far
  (``AudioFinished``); ``audio_drained()`` waits until all pushed audio has been written.
- ``clear()`` drops unsent audio at once (a barge-in takes effect before the next frame), closes the current
  stream and returns how much of the current response's audio was written.

A closed stream takes nothing more: the speaker of a cut response is cancelled a loop iteration after the
clear, and may run once more before that (a TTS part that just arrived, or room that the clear just made);
its push is dropped, so no frame of a response follows its ``PlaybackCleared`` and no leftover partial frame
starts the next response. The writer also stops mid-batch when a clear happens while it awaits the socket.

Only ``run()`` touches the socket, so a slow client never blocks the reader or the turn.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from voice_letta.core.audio import pcm16_ms
from voice_letta.core.pacing import Pacer

SendMessage = Callable[[Any], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]

MAX_QUEUED_MESSAGES = 2048


class OutboundOverflow(Exception):
    """The client stopped reading: too many messages are waiting."""


class Outbound:
    def __init__(
        self,
        send_message: SendMessage,
        send_bytes: SendBytes,
        sample_rate_hz: int,
        *,
        frame_ms: int = 20,
        lead_ms: float = 80.0,
        max_buffered_ms: float = 2000.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._send_message = send_message
        self._send_bytes = send_bytes
        self._frame_ms = frame_ms
        self._lead_ms = lead_ms
        self._max_buffered_ms = max_buffered_ms
        self._clock = clock or asyncio.get_running_loop().time
        self._msgs: deque[Any] = deque()
        self._ordered: deque[tuple[float, Any]] = deque()  # (pushed-audio position it must follow, message)
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._stream = 0  # number of the open audio stream; bumped by begin_response() and clear()
        self.set_rate(sample_rate_hz)
        self._on_first_audio: Callable[[float], None] | None = None

    def set_rate(self, sample_rate_hz: int) -> None:
        """Output rate for the next responses (call between responses)."""
        self._rate = sample_rate_hz
        self._pacer = Pacer(sample_rate_hz, self._frame_ms, self._lead_ms)
        self._pushed_ms = 0.0
        self._sent_ms = 0.0
        self._resp_sent_ms = 0.0
        self._resp_first_at: float | None = None

    @property
    def sample_rate_hz(self) -> int:
        return self._rate

    # -- producers (sync unless they must wait) ---------------------------------------------------------
    def send(self, message: Any) -> None:
        if len(self._msgs) >= MAX_QUEUED_MESSAGES:
            raise OutboundOverflow("client is not reading")
        self._msgs.append(message)
        self._wake.set()

    def begin_response(self, on_first_audio: Callable[[float], None] | None = None) -> int:
        """Open a response's audio stream; returns the number to push it with."""
        self._stream += 1
        self._resp_sent_ms = 0.0
        self._resp_first_at = None
        self._on_first_audio = on_first_audio
        return self._stream

    async def push_audio(self, pcm: bytes, stream: int) -> None:
        """Queue audio of ``stream``; dropped when that stream was cleared (before or while waiting)."""
        while self._pacer.queued_ms > self._max_buffered_ms and stream == self._stream:
            self._space.clear()
            await self._space.wait()
        if pcm and stream == self._stream:
            self._pacer.push(pcm)
            self._pushed_ms += pcm16_ms(len(pcm), self._rate)
            self._drained.clear()
            self._wake.set()

    def send_after_audio(self, message: Any, stream: int) -> None:
        if stream != self._stream:
            return
        self._pacer.flush()
        self._ordered.append((self._pushed_ms, message))
        self._wake.set()

    async def audio_drained(self) -> None:
        await self._drained.wait()

    def clear(self) -> float:
        """Drop all unsent audio and audio-ordered messages; returns ms of this response's audio written."""
        self._stream += 1
        self._pacer.clear()
        self._pushed_ms = self._sent_ms
        self._ordered.clear()
        self._space.set()
        self._drained.set()
        return self._resp_sent_ms

    @property
    def response_sent_ms(self) -> float:
        return self._resp_sent_ms

    def ahead_ms(self) -> float:
        """Audio written but, at real-time playback, not yet played."""
        return self._pacer.ahead_ms(self._clock())

    # -- the writer task --------------------------------------------------------------------------------
    async def run(self) -> None:
        pacer = self._pacer
        while True:
            self._wake.clear()
            while self._msgs:
                await self._send_message(self._msgs.popleft())
            pacer = self._pacer
            now = self._clock()
            stream = self._stream
            for frame in pacer.pop_due(now):
                if stream != self._stream:
                    break  # cleared while we were sending: the rest of this batch is dropped
                if self._resp_first_at is None:
                    self._resp_first_at = now
                    if self._on_first_audio is not None:
                        self._on_first_audio(now)
                await self._send_bytes(frame)
                ms = pcm16_ms(len(frame), self._rate)
                self._sent_ms += ms
                self._resp_sent_ms += ms
            while self._ordered and self._ordered[0][0] <= self._sent_ms + 1e-6:
                await self._send_message(self._ordered.popleft()[1])
            if pacer.queued_ms <= self._max_buffered_ms:
                self._space.set()
            if not pacer.queued_ms and not self._ordered:
                self._drained.set()
            if self._msgs or self._wake.is_set():
                continue
            due = pacer.next_due(self._clock())
            if due == math.inf:
                await self._wake.wait()
                continue
            delay = due - self._clock()
            if delay <= 0:
                continue
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
