"""A fake OpenAI audio + embeddings server speaking the real wire format over real HTTP (aiohttp).

- ``POST /v1/audio/transcriptions``: multipart (``file``, ``model``, ``language``, ``response_format``)
  → ``{"text": ...}``; the uploaded WAV is parsed and kept in ``uploads``.
- ``POST /v1/audio/speech``: JSON → raw PCM16 streamed in ``speech_chunk_bytes`` pieces. When
  ``hold_after_first`` is set, the response waits on ``release`` after the first piece, so a test can
  prove the client yields audio before the body is complete.
- ``POST /v1/embeddings``: JSON → ``{"data": [{"embedding": ..., "index": i}], ...}``, honouring
  ``encoding_format="base64"`` (little-endian float32, what the SDK asks for by default) and
  ``dimensions``.

``fail_next`` holds ``(status, message, headers)`` answers served before the scripted ones.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests", 500: "server_error"}


def fake_vector(text: str, dim: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return (vec / np.linalg.norm(vec)).tolist()


@dataclass
class Upload:
    model: str
    language: str | None
    response_format: str | None
    filename: str
    content_type: str
    sample_rate_hz: int
    pcm16: bytes


@dataclass
class FakeOpenAIAudio:
    transcript: str = "hello from the fake"
    speech_pcm: bytes = b""
    speech_chunk_bytes: int = 4801  # odd on purpose: the client must re-align to whole samples
    hold_after_first: bool = False
    fail_next: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    speech_requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_requests: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    first_chunk_sent: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _failure(self, request: web.Request) -> web.Response | None:
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if not self.fail_next:
            return None
        status, message, headers = self.fail_next.pop(0)
        body = {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "error"),
                "param": None,
                "code": "rate_limit_exceeded" if status == 429 else None,
            }
        }
        return web.json_response(body, status=status, headers=headers)

    async def _transcriptions(self, request: web.Request) -> web.Response:
        if (failure := self._failure(request)) is not None:
            return failure
        assert request.content_type == "multipart/form-data", request.content_type
        fields: dict[str, str] = {}
        upload: tuple[str, str, bytes] | None = None
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                upload = (part.filename or "", part.headers.get("Content-Type", ""), await part.read())
            elif part.name:
                fields[part.name] = await part.text()
        if upload is None or "model" not in fields:
            return web.json_response(
                {"error": {"message": "file and model are required", "type": "invalid_request_error"}}, status=400
            )
        with wave.open(io.BytesIO(upload[2]), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
            self.uploads.append(
                Upload(
                    fields["model"],
                    fields.get("language"),
                    fields.get("response_format"),
                    upload[0],
                    upload[1],
                    w.getframerate(),
                    w.readframes(w.getnframes()),
                )
            )
        return web.json_response({"text": self.transcript, "usage": {"type": "duration", "seconds": 1}})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        if (failure := self._failure(request)) is not None:
            return failure
        body = await request.json()
        self.speech_requests.append(body)
        assert body["response_format"] == "pcm"
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        data = self.speech_pcm
        for i, start in enumerate(range(0, len(data), self.speech_chunk_bytes)):
            await resp.write(data[start : start + self.speech_chunk_bytes])
            if i == 0:
                self.first_chunk_sent.set()
                if self.hold_after_first:
                    await self.release.wait()
        await resp.write_eof()
        return resp

    async def _embeddings(self, request: web.Request) -> web.Response:
        if (failure := self._failure(request)) is not None:
            return failure
        body = await request.json()
        self.embedding_requests.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = int(body.get("dimensions") or 1536)
        data = []
        for i, text in enumerate(inputs):
            vec = fake_vector(text, dim)
            emb: Any = vec
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        data.reverse()  # the API does not promise order; clients must sort by index
        return web.json_response(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        )
