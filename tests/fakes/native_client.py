"""A client of the native voice protocol (``/v1/voice``) over a real WebSocket (``websockets``).

It records every message as ``(arrival_time, message)`` (binary audio as ``bytes``) and behaves like a
real player: audio of a response "plays" in real time from its first frame; while playing it sends
``playback.progress`` every ``report_every_s``; on ``playback.clear`` it stops and sends
``playback.stopped`` with the position reached; at ``response.audio.done`` it sends a final report when
the audio would have finished. ``report=False`` turns all reports off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

FIXTURES = Path(__file__).resolve().parents[2] / "audio_fixtures"


def load_wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(FIXTURES / name), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes()), w.getframerate()


def resample(pcm: bytes, src_hz: int, dst_hz: int) -> bytes:
    if src_hz == dst_hz:
        return pcm
    import soxr

    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    y = soxr.resample(x, src_hz, dst_hz)
    return (np.clip(y, -1, 0.99997) * 32768).astype("<i2").tobytes()


def silence(ms: float, rate: int = 16000) -> bytes:
    return b"\x00\x00" * int(rate * ms / 1000)


class _Playback:
    def __init__(self, response_id: str, rate: int) -> None:
        self.response_id = response_id
        self.rate = rate
        self.received_ms = 0.0
        self.started: float | None = None
        self.stopped_at_ms: float | None = None
        self.done = False

    def position(self, now: float) -> float:
        if self.stopped_at_ms is not None:
            return self.stopped_at_ms
        if self.started is None:
            return 0.0
        return min(self.received_ms, (now - self.started) * 1000)


class NativeClient:
    def __init__(self, ws: ClientConnection, *, report: bool = True, report_every_s: float = 0.1) -> None:
        self.ws = ws
        self.report = report
        self.report_every_s = report_every_s
        self.messages: list[tuple[float, Any]] = []
        self.audio: dict[str, bytearray] = {}
        self.playback: dict[str, _Playback] = {}
        self._current: str | None = None
        self._cond = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, base_url: str, *, agent: str | None = None, token: str | None = None,
                   **kw: Any) -> NativeClient:
        url = base_url.replace("http://", "ws://") + "/v1/voice"
        params = [f"agent={agent}"] if agent else []
        if token:
            params.append(f"token={token}")
        if params:
            url += "?" + "&".join(params)
        ws = await connect(url, subprotocols=["voice-letta.v1"], max_size=None)  # type: ignore[list-item]
        client = cls(ws, **kw)
        client._tasks.append(asyncio.create_task(client._recv()))
        client._tasks.append(asyncio.create_task(client._reporter()))
        await client.wait_for("session.created")
        return client

    async def aclose(self) -> None:
        await self.ws.close()
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def __aenter__(self) -> NativeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sending ---------------------------------------------------------------------------------------
    async def send(self, **msg: Any) -> None:
        await self.ws.send(json.dumps(msg))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def stream(self, pcm: bytes, *, rate: int = 16000, chunk_ms: float = 20, speed: float = 1.0) -> None:
        """Send audio in ``chunk_ms`` chunks at ``speed`` × real time (``speed=0``: as fast as possible)."""
        step = int(rate * chunk_ms / 1000) * 2
        t0 = time.monotonic()
        for i, off in enumerate(range(0, len(pcm), step)):
            await self.ws.send(pcm[off:off + step])
            if speed > 0:
                due = t0 + (i + 1) * chunk_ms / 1000 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)

    # -- receiving -------------------------------------------------------------------------------------
    async def _recv(self) -> None:
        try:
            async for raw in self.ws:
                now = time.monotonic()
                if isinstance(raw, bytes):
                    msg: Any = raw
                    if self._current is not None:
                        self.audio[self._current] += raw
                        pb = self.playback[self._current]
                        if pb.started is None:
                            pb.started = now
                        pb.received_ms += len(raw) / 2 * 1000 / pb.rate
                else:
                    msg = json.loads(raw)
                    await self._on_json(msg, now)
                async with self._cond:
                    self.messages.append((now, msg))
                    self._cond.notify_all()
        finally:
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    async def _on_json(self, msg: dict[str, Any], now: float) -> None:
        kind = msg["type"]
        if kind == "response.audio.start":
            rid = msg["response_id"]
            self._current = rid
            self.audio[rid] = bytearray()
            self.playback[rid] = _Playback(rid, msg["sample_rate_hz"])
        elif kind == "playback.clear":
            pb = self.playback.get(msg["response_id"])
            if pb is not None and pb.stopped_at_ms is None:
                pb.stopped_at_ms = pb.position(now)
                pb.done = True
                if self.report:
                    await self.send(type="playback.stopped", response_id=pb.response_id,
                                    played_ms=round(pb.stopped_at_ms, 1), reason="cleared")
            self._current = None
        elif kind == "response.audio.done":
            pb = self.playback.get(msg["response_id"])
            if pb is not None:
                pb.done = True
            self._current = None

    async def _reporter(self) -> None:
        while True:
            await asyncio.sleep(self.report_every_s)
            if not self.report:
                continue
            now = time.monotonic()
            for pb in list(self.playback.values()):
                if pb.stopped_at_ms is not None or pb.started is None:
                    continue
                pos = pb.position(now)
                if pb.done and pos >= pb.received_ms:
                    pb.stopped_at_ms = pos
                    await self.send(type="playback.stopped", response_id=pb.response_id, played_ms=round(pos, 1),
                                    reason="finished")
                else:
                    await self.send(type="playback.progress", response_id=pb.response_id, played_ms=round(pos, 1))

    # -- queries ---------------------------------------------------------------------------------------
    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if isinstance(m, dict) and (kind is None or m["type"] == kind)]

    def timed(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if isinstance(m, dict) and m["type"] == kind]

    async def wait_for(self, kind: str, *, count: int = 1, timeout_s: float = 10.0, **match: Any) -> dict[str, Any]:
        """The ``count``-th message of type ``kind`` whose fields equal ``match``."""
        def found() -> list[dict[str, Any]]:
            return [m for m in self.events(kind) if all(m.get(k) == v for k, v in match.items())]

        async with asyncio.timeout(timeout_s), self._cond:
            while len(found()) < count:
                if self.closed.is_set():
                    raise ConnectionError(f"closed while waiting for {kind}; got {[m['type'] for m in self.events()]}")
                await self._cond.wait()
        return found()[count - 1]

    def response_text(self, response_id: str) -> str:
        out = []
        for m in self.events("response.chunk"):
            if m["response_id"] == response_id:
                for c in m["chunk"]["choices"]:
                    out.append(c["delta"].get("content") or "")
        return "".join(out)
