"""Text-to-speech through OpenAI's ``/v1/audio/speech`` with ``response_format="pcm"``.

The response body (raw 24 kHz mono PCM16, little-endian) is streamed: each chunk is yielded as soon as
it arrives, re-aligned to whole samples.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai

from voice_letta.agent.ports import SpeechChunk, TextToSpeech
from voice_letta.providers._errors import map_provider_errors

DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
OPENAI_PCM_RATE_HZ = 24000
DEFAULT_CHUNK_BYTES = 4800  # 100 ms at 24 kHz


class OpenAITTS(TextToSpeech):
    sample_rate_hz = OPENAI_PCM_RATE_HZ

    def __init__(
        self,
        *,
        model: str = DEFAULT_TTS_MODEL,
        voice: str = DEFAULT_VOICE,
        instructions: str | None = None,
        speed: float | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 1,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = model
        self.voice = voice
        self.instructions = instructions
        self.speed = speed
        self.chunk_bytes = chunk_bytes
        self._api_key = api_key
        self._owns_client = client is None
        self._client = client
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._client_lock = asyncio.Lock()

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]:
        if not text.strip():
            return
        carry = b""
        client = await self._get_client()
        async with (
            map_provider_errors("openai-tts", secrets=(self._api_key,)),
            client.audio.speech.with_streaming_response.create(
                model=self.model,
                voice=voice or self.voice,
                input=text,
                response_format="pcm",
                instructions=self.instructions or openai.omit,
                speed=openai.omit if self.speed is None else self.speed,
            ) as response,
        ):
            async for data in response.iter_bytes(self.chunk_bytes):
                data = carry + data
                cut = len(data) - len(data) % 2
                carry = data[cut:]
                if cut:
                    yield SpeechChunk(data[:cut], OPENAI_PCM_RATE_HZ)

    async def _get_client(self) -> openai.AsyncOpenAI:
        # Building a client reads CA certificates and imports the transport: do it off the loop, once.
        client = self._client
        if client is None:
            async with self._client_lock:
                client = self._client
                if client is None:
                    client = self._client = await asyncio.to_thread(self._make_client)
        return client

    def _make_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._api_key, base_url=self._base_url, timeout=self._timeout_s, max_retries=self._max_retries
        )

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()
