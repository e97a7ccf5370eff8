"""OpenAISTT, OpenAITTS and OpenAIEmbedder through the real ``openai`` SDK against a fake server."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from tests.fakes.openai_audio_server import FakeOpenAIAudio, fake_vector
from tests.integration.serve_process import free_port
from voice_letta.errors import (
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderUnavailable,
)
from voice_letta.providers.openai_embed import OpenAIEmbedder
from voice_letta.providers.openai_stt import OpenAISTT
from voice_letta.providers.openai_tts import OpenAITTS

KEY = "sk-test-0123456789abcdef"


def tone_pcm(seconds: float, rate_hz: int) -> bytes:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


# ------------------------------------------------------------------------------------------------- STT


async def test_stt_posts_a_wav_as_multipart_and_returns_the_text(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.transcript = "  What is the weather like today?  "
    stt = OpenAISTT(api_key=KEY, base_url=fake_audio.base_url)
    pcm = tone_pcm(1.5, 24000)
    try:
        result = await stt.transcribe(pcm, 24000)
    finally:
        await stt.aclose()
    assert result.text == "What is the weather like today?"
    assert result.duration_ms == pytest.approx(1500)
    assert result.processing_ms > 0
    (upload,) = fake_audio.uploads
    assert upload.model == "gpt-4o-mini-transcribe"
    assert upload.language == "en"
    assert upload.filename == "audio.wav" and upload.content_type == "audio/wav"
    assert upload.sample_rate_hz == 24000 and upload.pcm16 == pcm
    assert fake_audio.auth_headers == [f"Bearer {KEY}"]


async def test_stt_model_is_configurable(fake_audio: FakeOpenAIAudio) -> None:
    stt = OpenAISTT(api_key=KEY, base_url=fake_audio.base_url, model="whisper-1", language=None)
    await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    await stt.aclose()
    assert fake_audio.uploads[0].model == "whisper-1"
    assert fake_audio.uploads[0].language is None


async def test_stt_429_becomes_provider_rate_limited(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.fail_next = [(429, "Rate limit reached for requests", {"retry-after": "0"})]
    stt = OpenAISTT(api_key=KEY, base_url=fake_audio.base_url, max_retries=0)
    with pytest.raises(ProviderRateLimited) as info:
        await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    await stt.aclose()
    assert info.value.retryable
    assert "Rate limit reached" in info.value.message
    assert KEY not in str(info.value)


async def test_stt_retries_a_429_once_then_succeeds(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.fail_next = [(429, "slow down", {"retry-after-ms": "10"})]
    stt = OpenAISTT(api_key=KEY, base_url=fake_audio.base_url, max_retries=1)
    result = await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    await stt.aclose()
    assert result.text == "hello from the fake"
    assert len(fake_audio.auth_headers) == 2


async def test_stt_400_is_a_bad_request_and_500_is_unavailable(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.fail_next = [(400, "Invalid file format", {}), (500, "boom", {})]
    stt = OpenAISTT(api_key=KEY, base_url=fake_audio.base_url, max_retries=0)
    with pytest.raises(ProviderBadRequest) as bad:
        await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    assert not bad.value.retryable
    with pytest.raises(ProviderUnavailable):
        await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    await stt.aclose()


async def test_stt_connection_refused_is_unavailable() -> None:
    stt = OpenAISTT(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(ProviderUnavailable):
        await stt.transcribe(tone_pcm(0.2, 16000), 16000)
    await stt.aclose()


# ------------------------------------------------------------------------------------------------- TTS


async def test_tts_streams_pcm_before_the_body_is_complete(fake_audio: FakeOpenAIAudio) -> None:
    pcm = tone_pcm(1.0, 24000)
    fake_audio.speech_pcm = pcm
    fake_audio.hold_after_first = True
    tts = OpenAITTS(api_key=KEY, base_url=fake_audio.base_url, voice="coral")
    assert tts.sample_rate_hz == 24000
    stream = tts.synthesize("Hello there.")
    async with asyncio.timeout(5):
        first = await anext(stream)  # the server is still holding the rest of the body
    assert not fake_audio.release.is_set()
    fake_audio.release.set()
    rest = [chunk async for chunk in stream]
    await tts.aclose()
    chunks = [first, *rest]
    assert all(c.sample_rate_hz == 24000 and len(c.pcm16) % 2 == 0 for c in chunks)
    assert b"".join(c.pcm16 for c in chunks) == pcm
    (req,) = fake_audio.speech_requests
    assert req == {"model": "gpt-4o-mini-tts", "voice": "coral", "input": "Hello there.", "response_format": "pcm"}


async def test_tts_voice_per_call_overrides_the_default(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.speech_pcm = tone_pcm(0.1, 24000)
    tts = OpenAITTS(api_key=KEY, base_url=fake_audio.base_url, model="tts-1", instructions="Speak calmly.")
    chunks = [c async for c in tts.synthesize("Hi.", voice="sage")]
    await tts.aclose()
    assert chunks
    req = fake_audio.speech_requests[0]
    assert (req["voice"], req["model"], req["instructions"]) == ("sage", "tts-1", "Speak calmly.")


async def test_tts_can_be_abandoned_mid_stream(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.speech_pcm = tone_pcm(1.0, 24000)
    fake_audio.hold_after_first = True
    tts = OpenAITTS(api_key=KEY, base_url=fake_audio.base_url)
    stream = tts.synthesize("A long answer.")
    await anext(stream)
    await stream.aclose()  # barge-in: the response must be closed without waiting for the body
    await tts.aclose()


async def test_tts_429_becomes_provider_rate_limited(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.fail_next = [(429, "Rate limit reached", {})]
    tts = OpenAITTS(api_key=KEY, base_url=fake_audio.base_url, max_retries=0)
    with pytest.raises(ProviderRateLimited):
        _ = [c async for c in tts.synthesize("Hello.")]
    await tts.aclose()


# ------------------------------------------------------------------------------------------ embeddings


async def test_embedder_decodes_base64_vectors_in_input_order(fake_audio: FakeOpenAIAudio) -> None:
    emb = OpenAIEmbedder(api_key=KEY, base_url=fake_audio.base_url)
    assert (emb.model, emb.dim) == ("text-embedding-3-small", 1536)
    texts = ["my sister lives in Paris", "favorite color blue", ""]
    vectors = await emb.embed(texts)
    await emb.aclose()
    (req,) = fake_audio.embedding_requests
    assert req["model"] == "text-embedding-3-small"
    assert req["encoding_format"] == "base64"  # what the SDK sends by default
    assert "dimensions" not in req
    assert req["input"] == ["my sister lives in Paris", "favorite color blue", " "]
    for text, vec in zip(["my sister lives in Paris", "favorite color blue", " "], vectors, strict=True):
        assert len(vec) == 1536
        assert np.allclose(vec, fake_vector(text, 1536), atol=1e-6)


async def test_embedder_asks_for_a_configured_dimension(fake_audio: FakeOpenAIAudio) -> None:
    emb = OpenAIEmbedder(api_key=KEY, base_url=fake_audio.base_url, model="text-embedding-3-large", dim=256)
    (vec,) = await emb.embed(["hello"])
    await emb.aclose()
    assert len(vec) == 256
    assert fake_audio.embedding_requests[0]["dimensions"] == 256
    assert await OpenAIEmbedder(api_key=KEY, base_url=fake_audio.base_url).embed([]) == []


async def test_embedder_429_becomes_provider_rate_limited(fake_audio: FakeOpenAIAudio) -> None:
    fake_audio.fail_next = [(429, "Rate limit reached", {})]
    emb = OpenAIEmbedder(api_key=KEY, base_url=fake_audio.base_url, max_retries=0)
    with pytest.raises(ProviderRateLimited):
        await emb.embed(["x"])
    await emb.aclose()


def test_fake_base64_matches_what_the_sdk_decodes() -> None:
    vec = fake_vector("abc", 8)
    raw = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes())
    assert np.allclose(np.frombuffer(base64.b64decode(raw), dtype="<f4"), vec)
