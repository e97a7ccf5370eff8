"""A simulated Twilio Media Streams peer (the phone side of a ``<Connect><Stream>`` call), over a real WebSocket.

It follows Twilio's documented message shapes (docs/telephony.md, reference peers.md §4):

- on connect it sends ``connected`` then ``start`` (``streamSid``, ``callSid``, ``customParameters``,
  ``mediaFormat`` audio/x-mulaw 8000 mono);
- the "microphone" sends ``media`` messages of 20 ms (160 µ-law bytes, base64) with ``sequenceNumber``,
  ``chunk`` and ``timestamp``: ``stream()`` sends audio directly (real time × ``speed``, 0 = as fast as
  possible); with ``continuous=True`` a mic task sends a frame every 20 ms like a real call, silence unless
  ``say()`` queued speech;
- the "speaker" plays received ``media`` at real time from arrival (an underrun restarts the clock); a
  received ``mark`` is echoed when the audio queued before it has played; on ``clear`` the unplayed audio
  is dropped and every pending mark is echoed at once (as Twilio does);
- ``hang_up()`` sends ``stop`` and closes;
- ``echo_marks=False`` simulates stalled playback: marks come back only with a ``clear``.

Everything received is recorded as ``(monotonic time, message)``; ``played_pcm()`` is the 8 kHz PCM16 the
caller actually heard, ``clears`` the time and the ms heard of the current reply at each ``clear``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.fakes.native_client import load_wav, resample
from voice_letta.core.codecs import pcm16_to_ulaw, ulaw_to_pcm16

RATE = 8000
FRAME_MS = 20
FRAME_BYTES = 160
ULAW_SILENCE = b"\xff" * FRAME_BYTES


def to_ulaw_8k(pcm: bytes, rate: int) -> bytes:
    return pcm16_to_ulaw(resample(pcm, rate, RATE))


def fixture_ulaw(name: str) -> bytes:
    """A 16 kHz fixture WAV as 8 kHz µ-law (what the phone network would deliver)."""
    pcm, rate = load_wav(name)
    return to_ulaw_8k(pcm, rate)


@dataclass
class _Frame:
    play_at: float  # when this 20 ms frame starts playing at the caller
    ulaw: bytes


@dataclass
class Clear:
    at: float
    heard_ms: float  # ms of the reply audio (since the previous clear / mark-less gap) played by then
    dropped_ms: float  # ms received but never played


class TwilioCaller:
    def __init__(self, ws: ClientConnection, *, stream_sid: str, call_sid: str, echo_marks: bool = True) -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.echo_marks = echo_marks
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.frames: list[_Frame] = []
        self.marks_echoed: list[tuple[float, str]] = []
        self.clears: list[Clear] = []
        self._seq = 0
        self._chunk = 0
        self._t0 = time.monotonic()
        self._play_end = 0.0  # when the audio received so far finishes playing
        self._segment_start_idx = 0  # first frame of the reply audio since the last clear
        self._pending_marks: deque[tuple[float, str]] = deque()
        self._wake = asyncio.Event()
        self._cond = asyncio.Condition()
        self._speech: deque[bytes] = deque()  # µ-law frames queued by say()
        self._speech_done = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()

    @classmethod
    async def call(cls, base_url: str, *, agent_id: str | None = None, custom_parameters: dict[str, str] | None = None,
                   stream_sid: str = "MZ00000000000000000000000000000001",
                   call_sid: str = "CA00000000000000000000000000000001", continuous: bool = False,
                   headers: dict[str, str] | None = None, echo_marks: bool = True) -> TwilioCaller:
        url = base_url.replace("http://", "ws://") + "/twilio/stream"
        ws = await connect(url, additional_headers=headers or {}, max_size=None)
        caller = cls(ws, stream_sid=stream_sid, call_sid=call_sid, echo_marks=echo_marks)
        caller._tasks.append(asyncio.create_task(caller._recv()))
        caller._tasks.append(asyncio.create_task(caller._speaker()))
        params = dict(custom_parameters or {})
        if agent_id is not None:
            params.setdefault("agent_id", agent_id)
        await caller.send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, seq=False)
        await caller.send({"event": "start", "streamSid": stream_sid, "start": {
            "streamSid": stream_sid, "accountSid": "AC00000000000000000000000000000001", "callSid": call_sid,
            "tracks": ["inbound"], "customParameters": params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1}}})
        if continuous:
            caller._tasks.append(asyncio.create_task(caller._mic()))
        return caller

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.ws.close()

    async def __aenter__(self) -> TwilioCaller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sending -------------------------------------------------------------------------------------------
    async def send(self, msg: dict[str, Any], *, seq: bool = True) -> None:
        if seq:
            self._seq += 1
            msg = {"event": msg["event"], "sequenceNumber": str(self._seq), **msg}
        await self.ws.send(json.dumps(msg))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def _media(self, ulaw: bytes) -> None:
        self._chunk += 1
        ts = int((time.monotonic() - self._t0) * 1000)
        await self.send({"event": "media", "streamSid": self.stream_sid, "media": {
            "track": "inbound", "chunk": str(self._chunk), "timestamp": str(ts),
            "payload": base64.b64encode(ulaw).decode()}})

    async def stream(self, ulaw: bytes, *, speed: float = 1.0) -> None:
        """Send µ-law audio as 20 ms media messages at ``speed`` × real time (0: as fast as possible)."""
        t0 = time.monotonic()
        for i, off in enumerate(range(0, len(ulaw), FRAME_BYTES)):
            frame = ulaw[off:off + FRAME_BYTES]
            await self._media(frame + b"\xff" * (FRAME_BYTES - len(frame)))
            if speed > 0:
                delay = t0 + (i + 1) * FRAME_MS / 1000 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)

    async def say(self, ulaw: bytes) -> None:
        """(continuous mode) Queue speech on the mic and wait until it has been sent."""
        self._speech_done.clear()
        self._speech.extend(ulaw[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
                            for i in range(0, len(ulaw), FRAME_BYTES))
        await self._speech_done.wait()

    async def _mic(self) -> None:
        t0 = time.monotonic()
        i = 0
        while True:
            if self._speech:
                await self._media(self._speech.popleft())
                if not self._speech:
                    self._speech_done.set()
            else:
                await self._media(ULAW_SILENCE)
            i += 1
            delay = t0 + i * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid,
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def hang_up(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid,
                         "stop": {"accountSid": "AC00000000000000000000000000000001", "callSid": self.call_sid}})
        await self.ws.close()

    # -- receiving: the speaker ------------------------------------------------------------------------------
    async def _recv(self) -> None:
        try:
            async for raw in self.ws:
                now = time.monotonic()
                msg = json.loads(raw)
                event = msg.get("event")
                if event == "media":
                    ulaw = base64.b64decode(msg["media"]["payload"])
                    start = max(now, self._play_end)
                    self.frames.append(_Frame(start, ulaw))
                    self._play_end = start + len(ulaw) / RATE
                elif event == "mark":
                    due = max(now, self._play_end) if self.echo_marks else float("inf")  # stalled: only a clear
                    self._pending_marks.append((due, msg["mark"]["name"]))
                    self._wake.set()
                elif event == "clear":
                    self._on_clear(now)
                async with self._cond:
                    self.messages.append((now, msg))
                    self._cond.notify_all()
        finally:
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    def _on_clear(self, now: float) -> None:
        segment = self.frames[self._segment_start_idx:]
        played = [f for f in segment if f.play_at < now]
        heard_ms = sum(min(len(f.ulaw) / RATE, now - f.play_at) for f in played) * 1000
        kept = [f for f in self.frames if f.play_at < now]
        dropped_ms = (len(self.frames) - len(kept)) * FRAME_MS
        self.frames = kept
        self._segment_start_idx = len(self.frames)
        self._play_end = min(self._play_end, now)
        self.clears.append(Clear(now, heard_ms, dropped_ms))
        # Twilio returns every pending mark at once on a clear
        self._pending_marks = deque((now, name) for _, name in self._pending_marks)
        self._wake.set()

    async def _speaker(self) -> None:
        while True:
            if not self._pending_marks:
                self._wake.clear()
                await self._wake.wait()
                continue
            due, name = self._pending_marks[0]
            delay = due - time.monotonic()
            if delay == float("inf"):
                self._wake.clear()
                await self._wake.wait()
                continue
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            self._pending_marks.popleft()
            self.marks_echoed.append((time.monotonic(), name))
            with contextlib.suppress(Exception):
                await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    # -- queries ---------------------------------------------------------------------------------------------
    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if event is None or m.get("event") == event]

    def timed(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if m.get("event") == event]

    def played_pcm(self, until: float | None = None) -> bytes:
        """8 kHz PCM16 of the audio played (or, for frames still queued, to be played) by ``until``."""
        until = time.monotonic() if until is None else until
        return ulaw_to_pcm16(b"".join(f.ulaw for f in self.frames if f.play_at < until))

    def received_ms(self) -> float:
        return sum(len(m["media"]["payload"]) * 3 // 4 for m in self.events("media")) / RATE * 1000

    async def wait_for(self, event: str, *, count: int = 1, timeout_s: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s), self._cond:
            while len(self.events(event)) < count:
                if self.closed.is_set():
                    raise ConnectionError(f"closed while waiting for {event}")
                await self._cond.wait()
        return self.events(event)[count - 1]

    async def wait_closed(self, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            await self.closed.wait()

    async def wait_quiet(self, quiet_s: float = 0.5, timeout_s: float = 20.0) -> None:
        """Until no media has arrived for ``quiet_s`` and all received audio has played."""
        async with asyncio.timeout(timeout_s):
            while True:
                last = max((t for t, m in self.messages if m.get("event") == "media"), default=0.0)
                now = time.monotonic()
                if now - last >= quiet_s and now >= self._play_end:
                    return
                await asyncio.sleep(0.05)
