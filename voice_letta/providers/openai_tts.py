"""Text-to-speech through OpenAI's ``/v1/audio/speech`` with ``response_format="pcm"``.

The response body (raw 24 kHz mono PCM16, little-endian) is streamed: each chunk is yielded as soon as
it arrives, re-aligned to whole samples.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai

from voice_letta.agent.ports import SpeechChunk, TextToSpeech
from voice_letta.providers._errors import map_provider_errors
from voice_letta.providers._openai_client import OpenAIClientHolder

DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
OPENAI_PCM_RATE_HZ = 24000
DEFAULT_CHUNK_BYTES = 4800  # 100 ms at 24 kHz


class OpenAITTS(OpenAIClientHolder, TextToSpeech):
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
        super().__init__(api_key=api_key, base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                         client=client)

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
