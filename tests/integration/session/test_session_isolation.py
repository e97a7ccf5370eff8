"""Sessions share one event loop and one STT engine: a slow transcription in one must not hold up another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tests.fakes.native_client import load_wav, silence
from tests.fakes.openai_server import Text
from tests.fakes.scripted_speech import ScriptedSTT
from tests.integration.session.conftest import VoiceServer
from voice_letta.agent.ports import Transcript

SLOW_STT_S = 3.0
SPEED = 2.0  # B streams at twice real time, so its whole turn fits inside A's slow transcription


class SlowForOneVoice(ScriptedSTT):
    """Instant, except for audio that contains ``marker`` (one 20 ms frame of session A's fixture): 3 s."""

    def __init__(self, marker: bytes) -> None:
        super().__init__(lambda pcm, _rate: "what is the weather" if marker in pcm else "hello there")
        self.marker = marker
        self.slow_calls = 0

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript:
        if self.marker in pcm16:
            self.slow_calls += 1
            await asyncio.sleep(SLOW_STT_S)
        return await super().transcribe(pcm16, sample_rate_hz)


async def test_slow_stt_in_one_session_does_not_delay_another_sessions_audio(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]],
) -> None:
    weather, _ = load_wav("weather.wav")
    hello, _ = load_wav("hello.wav")
    # 16 kHz input in 20 ms chunks passes through unresampled and frame-aligned, so a voiced frame from the
    # middle of A's audio appears verbatim in every utterance cut from A's stream, and never in B's.
    marker = weather[50 * 640 : 51 * 640]
    assert marker not in hello
    vs = await voice_server_factory(stt=SlowForOneVoice(marker))
    agent_a = await vs.create_agent(name="a")
    agent_b = await vs.create_agent(name="b")
    vs.fake.script([Text("Hi there.")], [Text("It is sunny.")])
    async with await vs.client(agent_a) as a, await vs.client(agent_b) as b:
        await a.stream(weather + silence(1000), speed=0)
        await a.wait_for("speech.stopped")
        assert vs.stt.slow_calls >= 1  # A's transcription is in flight now (speculative or final)
        a_stopped = time.monotonic()

        t0 = time.monotonic()
        await b.stream(hello + silence(1000), speed=SPEED)
        done = await b.wait_for("response.done", timeout_s=SLOW_STT_S)
        assert done["status"] == "completed"
        assert b.events("transcript.final")[0]["text"] == "hello there"
        # B's frames were handled as they arrived: speech.started came once min_speech_ms of voiced audio had
        # been sent (at SPEED x real time), not after A's transcription.
        (started_at, started), = b.timed("speech.started")
        voiced_sent_at = t0 + (started["audio_start_ms"] + 200) / 1000 / SPEED
        assert started_at - voiced_sent_at < 0.3, started_at - voiced_sent_at
        # ... and its own STT (instant) answered at once after its turn ended.
        (stopped_at, _), = b.timed("speech.stopped")
        (final_at, _), = b.timed("transcript.final")
        assert final_at - stopped_at < 0.5, final_at - stopped_at
        # A is still waiting for its slow transcription while B is already done.
        assert not a.events("transcript.final")
        assert time.monotonic() - a_stopped < SLOW_STT_S

        tr = await a.wait_for("transcript.final", timeout_s=SLOW_STT_S + 2)
        assert tr["text"] == "what is the weather"
        assert time.monotonic() - a_stopped >= SLOW_STT_S - 0.5
