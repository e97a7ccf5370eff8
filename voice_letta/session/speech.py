"""The speech engines of one process, shared by every session so models load once.

``SpeechEngines`` holds the STT and TTS adapters (``agent.ports``) and makes Silero VAD detectors. The STT
and TTS adapters already run inference in worker threads behind a per-process semaphore; ``stt_slots``
additionally bounds how many utterances wait in line per process, so a burst of sessions cannot queue
unbounded work. Silero sessions are built off the loop (``new_silero``) because loading ONNX blocks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from voice_letta.agent.ports import SpeechToText, TextToSpeech, Transcript
from voice_letta.config import INFERENCE_THREADS
from voice_letta.core.vad import SileroVad
from voice_letta.errors import ConfigError, ProviderUnavailable

log = logging.getLogger(__name__)

#: How many utterances may wait for (or run) STT per process before new ones are refused.
MAX_PENDING_STT = 64


@dataclass
class SpeechEngines:
    stt: SpeechToText | None
    tts: TextToSpeech | None
    stt_name: str = "none"
    tts_name: str = "none"
    max_pending_stt: int = MAX_PENDING_STT
    _pending: int = field(default=0, init=False)
    _running: int = field(default=0, init=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False)

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript:
        """STT through the shared adapter, bounded per process; errors are ``ProviderError``s."""
        if self.stt is None:
            raise ConfigError("no speech-to-text engine is configured on this server", code="stt_unavailable")
        if self._pending >= self.max_pending_stt:
            raise ProviderUnavailable("speech recognition is overloaded, try again", code="stt_overloaded")
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(INFERENCE_THREADS, 1) * 2)
        self._pending += 1
        try:
            async with self._slots:
                self._running += 1
                try:
                    return await self.stt.transcribe(pcm16, sample_rate_hz)
                finally:
                    self._running -= 1
        finally:
            self._pending -= 1

    async def transcribe_partial(self, pcm16: bytes, sample_rate_hz: int) -> Transcript | None:
        """A caption's transcription: None at once (skipped) when no inference worker is free, so captions
        never queue in front of final transcripts."""
        if not self.partials or self._running >= max(INFERENCE_THREADS, 1):
            return None
        return await self.transcribe(pcm16, sample_rate_hz)

    @property
    def partials(self) -> bool:
        """Whether the engine is cheap enough to re-transcribe an utterance while it is spoken (captions)."""
        return bool(getattr(self.stt, "partials", False))

    @property
    def punctuates(self) -> bool:
        """Whether the engine punctuates complete sentences (``core.eot`` reads missing punctuation)."""
        return bool(getattr(self.stt, "punctuates", False))

    async def new_silero(self) -> SileroVad:
        """A Silero detector (its own recurrent state) built in a worker thread."""
        return await asyncio.to_thread(SileroVad)

    async def preload(self) -> None:
        """Load models now (off the loop) so the first turn is not slow; adapters without it are skipped."""
        for engine in (self.stt, self.tts):
            preload = getattr(engine, "preload", None)
            if preload is not None:
                try:
                    await preload()
                except Exception as exc:  # a missing optional model must not stop the server
                    log.warning("preloading %s failed: %s", type(engine).__name__, exc)
