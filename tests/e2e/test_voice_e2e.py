"""The voice path for real: faster-whisper tiny.en + Piper (joe) over the native WebSocket.

The LLM is the fake OpenAI server (deterministic replies) or, in one test, the embedded local model
(``provider: local``). Latency stages are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.native_client import load_wav, silence
from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.session.conftest import VoiceServer, start_voice_server

pytest.importorskip("faster_whisper")
pytest.importorskip("piper")

from voice_letta.providers.piper_tts import PiperTTS, available
from voice_letta.providers.whisper_stt import WhisperSTT

if not available():  # pragma: no cover - depends on the machine
    pytest.skip("Piper voice not installed", allow_module_level=True)

TRANSCRIPTS = json.loads((Path(__file__).resolve().parents[2] / "audio_fixtures" / "transcripts.json").read_text())


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split()


def word_errors(ref: str, hyp: str) -> int:
    a, b = words(ref), words(hyp)
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


@pytest.fixture
async def real(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[VoiceServer]:
    stt, tts = WhisperSTT(), PiperTTS()
    await stt.preload()
    await tts.preload()
    server = await start_voice_server(tmp_path, fake_openai, stt=stt, tts=tts, local_llm=True)
    try:
        yield server
    finally:
        await server.runner.cleanup()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["weather.wav", "name_color.wav", "lights_off.wav"])
async def test_real_speech_round_trip(real: VoiceServer, name: str) -> None:
    agent = await real.create_agent()
    real.fake.script([Text("Sure. "), Text("Here is a short answer for you.")])
    pcm, rate = load_wav(name)
    expected = TRANSCRIPTS["files"][name]["text"]
    async with await real.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        tr = await c.wait_for("transcript.final", timeout_s=30)
        assert word_errors(expected, tr["text"]) <= 2, (expected, tr["text"])
        done = await c.wait_for("response.done", timeout_s=30)
        assert done["status"] == "completed"
        audio = c.audio[done["response_id"]]
        assert len(audio) / 2 / 24000 > 1.0  # Piper spoke the answer at the session's 24 kHz
        t = done["timings_ms"]
        print(f"\n{name}: transcript={tr['text']!r} timings={ {k: v for k, v in t.items() if '.' not in k} }")
        assert t["voice_to_voice_ms"] < 600 + 5000  # loose: CI machines are shared; see bench/voice_latency.py


@pytest.mark.timeout(120)
async def test_real_barge_in_and_truncation(real: VoiceServer) -> None:
    agent = await real.create_agent()
    long_reply = ("Rivers have shaped the history of many towns along their banks. People fished, traded and "
                  "travelled on them for centuries. Today many rivers are protected, and their water is cleaner "
                  "than it was fifty years ago. Some of them are popular with swimmers in the summer.")
    real.fake.script([Text(long_reply)], [Text("Of course, what is it?")])
    speech, rate = load_wav("barge_in.wav")
    async with await real.client(agent) as c:
        await c.send(type="input_text", text="Tell me about rivers.")
        await c.wait_for("response.audio.start", timeout_s=30)
        await c.stream(silence(1500), speed=1.0)
        await c.stream(speech[int(1.3 * rate) * 2:], rate=rate, speed=1.0)
        first = await c.wait_for("response.done", timeout_s=30)
        assert first["status"] == "cancelled" and first["finish_reason"] == "barge_in"
        assert first["heard_text"] and long_reply.startswith(first["heard_text"])
        tr = await c.wait_for("transcript.final", source="audio", timeout_s=30)
        assert word_errors("Wait, stop, I have a different question.", tr["text"]) <= 3, tr["text"]
        second = await c.wait_for("response.done", count=2, timeout_s=30)
        assert second["status"] == "completed"
    rows = [m for m in await real.assistant_rows(agent) if m.turn_id == first["turn_id"]]
    assert rows[0].interrupted and rows[0].content == first["heard_text"]


@pytest.mark.timeout(300)
async def test_real_speech_with_the_embedded_local_llm(real: VoiceServer) -> None:
    pytest.importorskip("llama_cpp")
    from voice_letta.errors import ConfigError
    from voice_letta.providers.local_llm import local_model_path

    try:
        local_model_path()
    except ConfigError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no local GGUF: {exc}")
    agent = await real.create_agent(name="local-voice", turn_budget_s=200, llm={"provider": "local", "max_tokens": 48,
                                                             "temperature": 0.0})
    pcm, rate = load_wav("hello.wav")
    async with await real.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        tr = await c.wait_for("transcript.final", timeout_s=30)
        assert word_errors("Hello, how are you today?", tr["text"]) <= 2
        done = await c.wait_for("response.done", timeout_s=120)
        assert done["status"] == "completed", (done, c.events("error"))
        assert c.response_text(done["response_id"]).strip()
        assert len(c.audio[done["response_id"]]) > 0
        print(f"\nlocal llm: {c.response_text(done['response_id'])!r} timings={done['timings_ms']}")
