"""A Realtime client built on the stock ``openai`` SDK (``AsyncOpenAI(...).realtime.connect``) that records events.

    async with RealtimeClient.open(server_url, model=agent_id) as rt:
        await rt.conn.conversation.item.create(item={...})
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")

Every server event is kept as ``(arrival_time, event)`` (SDK objects; ``rt.raw`` has them as dicts);
``wait_for`` returns the next event of a type not yet consumed by an earlier ``wait_for`` of that type.
``audio(response_id)`` joins the decoded ``response.output_audio.delta`` bytes of a response.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from openai import AsyncOpenAI


class RealtimeClient:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.events: list[tuple[float, Any]] = []
        self._seen: dict[str, int] = {}
        self._cond = asyncio.Condition()
        self._task = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str, *, model: str | None = None, api_key: str = "unused", beta: bool = False,
                   **connect: Any) -> AsyncIterator[RealtimeClient]:
        """``beta``: the SDK's ``client.beta.realtime.connect`` (sends ``OpenAI-Beta: realtime=v1``, beta events)."""
        ws_url = base_url.replace("http://", "ws://") + "/v1"
        client = AsyncOpenAI(api_key=api_key, base_url=base_url + "/v1", websocket_base_url=ws_url)
        kwargs: dict[str, Any] = dict(connect)
        if model is not None:
            kwargs["model"] = model
        realtime = client.beta.realtime if beta else client.realtime
        async with realtime.connect(**kwargs) as conn:
            rt = cls(conn)
            try:
                yield rt
            finally:
                rt._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await rt._task
        await client.close()

    async def _read(self) -> None:
        try:
            async for event in self.conn:
                async with self._cond:
                    self.events.append((time.monotonic(), event))
                    self._cond.notify_all()
        finally:
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    @property
    def raw(self) -> list[dict[str, Any]]:
        return [e.model_dump() if hasattr(e, "model_dump") else dict(e) for _, e in self.events]

    def types(self) -> list[str]:
        return [getattr(e, "type", None) or e.get("type") for _, e in self.events]

    def of(self, kind: str) -> list[Any]:
        return [e for _, e in self.events if getattr(e, "type", None) == kind]

    async def wait_for(self, kind: str, timeout_s: float = 10.0, **match: Any) -> Any:
        """The next not-yet-returned event of this type (matching ``match`` attributes)."""
        key = kind + repr(sorted(match.items()))
        async with asyncio.timeout(timeout_s), self._cond:
            while True:
                found = [e for e in self.of(kind) if all(getattr(e, k, None) == v for k, v in match.items())]
                if len(found) > self._seen.get(key, 0):
                    self._seen[key] = self._seen.get(key, 0) + 1
                    return found[self._seen[key] - 1]
                if self.closed.is_set():
                    raise ConnectionError(f"closed before {kind}; got {self.types()}")
                await self._cond.wait()

    def audio(self, response_id: str) -> bytes:
        return b"".join(base64.b64decode(e.delta) for e in self.of("response.output_audio.delta")
                        if e.response_id == response_id)

    def transcript(self, response_id: str) -> str:
        return "".join(e.delta for e in self.of("response.output_audio_transcript.delta")
                       if e.response_id == response_id)

    async def append_audio(self, pcm: bytes, *, chunk_bytes: int = 4800, pace_s: float = 0.0) -> None:
        """Append PCM16 (already at the session's input rate) in chunks (100 ms at 24 kHz by default)."""
        for i in range(0, len(pcm), chunk_bytes):
            await self.conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i:i + chunk_bytes]).decode())
            if pace_s:
                await asyncio.sleep(pace_s)
