"""Speech-to-text through OpenAI's ``/v1/audio/transcriptions`` (or any server speaking that API).

PCM16 is wrapped in an in-memory WAV and posted as multipart; SDK errors become voice-letta
``ProviderError`` subclasses through ``map_provider_errors``.
"""

from __future__ import annotations

import io
import time
import wave

import openai

from voice_letta.agent.ports import SpeechToText, Transcript
from voice_letta.providers._errors import map_provider_errors
from voice_letta.providers._openai_client import OpenAIClientHolder

DEFAULT_STT_MODEL = "gpt-4o-mini-transcribe"


def pcm16_to_wav(pcm16: bytes, sample_rate_hz: int) -> bytes:
    """A complete mono 16-bit WAV file holding ``pcm16``."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(pcm16[: len(pcm16) - len(pcm16) % 2])
    return buf.getvalue()


class OpenAISTT(OpenAIClientHolder, SpeechToText):
    """OpenAI transcription. Pass ``client`` to share one ``AsyncOpenAI``; otherwise one is built."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_STT_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        language: str | None = "en",
        prompt: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 1,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = model
        self.language = language
        self.prompt = prompt
        super().__init__(api_key=api_key, base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                         client=client)

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript:
        duration_ms = len(pcm16) // 2 * 1000.0 / sample_rate_hz
        started = time.perf_counter()
        client = await self._get_client()
        async with map_provider_errors("openai-stt", secrets=(self._api_key,)):
            result = await client.audio.transcriptions.create(
                model=self.model,
                file=("audio.wav", pcm16_to_wav(pcm16, sample_rate_hz), "audio/wav"),
                response_format="json",
                language=self.language or openai.omit,
                prompt=self.prompt or openai.omit,
            )
        text = getattr(result, "text", result if isinstance(result, str) else "")
        return Transcript(
            text=str(text).strip(),
            language=self.language,
            duration_ms=duration_ms,
            processing_ms=(time.perf_counter() - started) * 1000.0,
        )
