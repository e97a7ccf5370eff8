"""Defects found by driving ``GET /v1/realtime`` as an outside client would (stock ``openai`` SDK, real server,
scripted speech engines, the fake OpenAI LLM over HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.fakes.native_client import load_wav, resample
from tests.fakes.openai_server import Text
from tests.fakes.realtime_client import RealtimeClient
from tests.fakes.scripted_speech import ScriptedSTT
from tests.integration.session.conftest import VoiceServer


async def test_no_speech_events_when_the_client_takes_turns_itself(
        voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    """With ``turn_detection: null`` OpenAI sends no ``speech_started``/``speech_stopped``, and the clients that
    take turns themselves rely on it: Pipecat drops a response it still owes and truncates playback on
    ``speech_started``, LiveKit interrupts the agent. The utterance is still committed and transcribed."""
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?", "And tomorrow?"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny.")])
    pcm, rate = load_wav("weather.wav")
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        updated = await rt.wait_for("session.updated")
        assert updated.session.audio.input.turn_detection is None
        await rt.append_audio(resample(pcm, rate, 24000) + bytes(24000 * 2 // 2), pace_s=0.01)
        await asyncio.sleep(0.5)  # the server's VAD has heard all of it by now
        await rt.conn.input_audio_buffer.commit()
        committed = await rt.wait_for("input_audio_buffer.committed")
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
        heard = await rt.wait_for("conversation.item.input_audio_transcription.completed")
        assert heard.item_id == committed.item_id and heard.transcript
        assert "input_audio_buffer.speech_started" not in rt.types()
        assert "input_audio_buffer.speech_stopped" not in rt.types()
        # back to server VAD: speech is announced again
        await rt.conn.session.update(session={"type": "realtime",
                                              "audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
        await rt.append_audio(resample(pcm, rate, 24000), pace_s=0.01)
        started = await rt.wait_for("input_audio_buffer.speech_started")
        assert started.item_id
