"""Speech: speech-to-text and text-to-speech."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration_ms: float = 0.0  # length of the audio transcribed
    processing_ms: float = 0.0


class SpeechToText(Protocol):
    """Transcribes one utterance of PCM16 mono audio. Blocking inference runs off the event loop."""

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript: ...


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    pcm16: bytes  # mono, little-endian
    sample_rate_hz: int


class TextToSpeech(Protocol):
    """Synthesizes text to PCM16 chunks as soon as each is ready."""

    sample_rate_hz: int

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]: ...
