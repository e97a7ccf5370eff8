"""Scripted speech engines implementing ``agent.ports`` SpeechToText / TextToSpeech (fast, deterministic).

    stt = ScriptedSTT(["hello there", "what is the weather"])   # one text per utterance, in order
    tts = ScriptedTTS(ms_per_char=40, sample_rate_hz=22050)      # a tone whose length follows the text

``ScriptedSTT`` returns its texts in order (then ``default``), or what a function of the audio says;
``delay_s`` simulates a slow model with ``asyncio.sleep`` (it never blocks the loop); ``partials`` and
``punctuates`` declare the capabilities the session reads from a speech engine (captions, end of turn on
words). ``ScriptedTTS`` yields ``chunk_ms`` chunks of a 220 Hz tone, ``ms_per_char`` per character, after
``first_chunk_delay_s``; every synthesized text is recorded.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from voice_letta.agent.ports import SpeechChunk, Transcript


class ScriptedSTT:
    def __init__(self, texts: list[str] | Callable[[bytes, int], str] | None = None, *, default: str = "hello",
                 delay_s: float = 0.0, min_audio_ms: float = 0.0, partials: bool = False,
                 punctuates: bool = False, record: bool = True) -> None:
        self._texts = texts if callable(texts) else list(texts or [])
        self.partials = partials  # the session may re-transcribe open utterances for captions
        self.punctuates = punctuates  # its texts end complete sentences with punctuation (end of turn on words)
        self.min_audio_ms = min_audio_ms  # shorter audio (e.g. an early partial) transcribes to ""
        self.default = default
        self.delay_s = delay_s
        self.calls: list[tuple[int, int]] = []  # (bytes, sample rate) of each request (when ``record``)
        self.record = record  # benches that run for long turn it off: the list would grow without end
        self.count = 0

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript:
        started = time.perf_counter()
        self.count += 1
        if self.record:
            self.calls.append((len(pcm16), sample_rate_hz))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if len(pcm16) / 2 * 1000 / sample_rate_hz < self.min_audio_ms:
            text = ""
        elif callable(self._texts):
            text = self._texts(pcm16, sample_rate_hz)
        else:
            text = self._texts.pop(0) if self._texts else self.default
        return Transcript(text=text, language="en", duration_ms=len(pcm16) / 2 * 1000 / sample_rate_hz,
                          processing_ms=(time.perf_counter() - started) * 1000)


def tone(ms: float, sample_rate_hz: int, *, freq_hz: float = 220.0, amplitude: float = 0.3) -> bytes:
    n = int(sample_rate_hz * ms / 1000)
    t = np.arange(n) / sample_rate_hz
    return (np.sin(2 * math.pi * freq_hz * t) * amplitude * 32767).astype("<i2").tobytes()


class ScriptedTTS:
    def __init__(self, *, ms_per_char: float = 40.0, sample_rate_hz: int = 22050, chunk_ms: float = 100.0,
                 first_chunk_delay_s: float = 0.0) -> None:
        self.ms_per_char = ms_per_char
        self.sample_rate_hz = sample_rate_hz
        self.chunk_ms = chunk_ms
        self.first_chunk_delay_s = first_chunk_delay_s
        self.texts: list[str] = []
        self.started_at: list[float] = []

    def audio_ms(self, text: str) -> float:
        return len(text) * self.ms_per_char

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]:
        self.texts.append(text)
        self.started_at.append(time.monotonic())
        if self.first_chunk_delay_s:
            await asyncio.sleep(self.first_chunk_delay_s)
        total = self.audio_ms(text)
        done = 0.0
        while done < total:
            ms = min(self.chunk_ms, total - done)
            yield SpeechChunk(tone(ms, self.sample_rate_hz), self.sample_rate_hz)
            done += ms
            await asyncio.sleep(0)
