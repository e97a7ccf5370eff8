"""Defects found by driving ``GET /v1/realtime`` as an outside client would (stock ``openai`` SDK, real server,
scripted speech engines, the fake OpenAI LLM over HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.fakes.native_client import load_wav, resample
from tests.fakes.openai_server import Pause, Text
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


async def test_a_response_cut_by_the_next_utterance_is_not_reported_as_cancelled_by_the_client(
        voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    """Audio appended faster than real time (a file, a reconnecting client) ends an utterance while the agent is
    still answering the one before: that response was reported ``client_cancelled``, though the client never sent
    ``response.cancel``."""
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?", "And tomorrow?"]))
    agent = await vs.create_agent()
    vs.fake.script([Pause(3.0), Text("It is sunny.")], [Text("Rain tomorrow.")])
    pcm, rate = load_wav("weather.wav")
    speech = resample(pcm, rate, 24000) + bytes(24000 * 2)  # the utterance, then a second of silence
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await rt.wait_for("session.updated")
        await rt.append_audio(speech + speech)  # the next utterance ends before the first is answered
        first = await rt.wait_for("response.done", timeout_s=20)
        assert first.response.status == "cancelled"
        assert first.response.status_details.reason == "turn_detected"
        second = await rt.wait_for("response.done", timeout_s=20)
        assert second.response.status == "completed"
        # the client's own cancel is still client_cancelled
        await rt.conn.conversation.item.create(item={"type": "message", "role": "user",
                                                     "content": [{"type": "input_text", "text": "Go on."}]})
        vs.fake.script([Pause(3.0), Text("Fine.")])
        await rt.conn.response.create()
        while len(rt.of("response.created")) < 3:
            await rt.wait_for("response.created")
        await rt.conn.response.cancel()
        third = await rt.wait_for("response.done", timeout_s=20)
        assert third.response.status_details.reason == "client_cancelled"


async def test_a_response_cancelled_before_it_began_still_ends_and_keeps_the_users_words(vs: VoiceServer) -> None:
    """``response.create`` then at once ``response.cancel`` (a framework interrupting right after asking for a
    reply): there was no ``response.created`` nor ``response.done`` (LiveKit waits for the created event), and the
    user's words, acknowledged with ``conversation.item.added``, were never stored."""
    agent = await vs.create_agent()
    vs.fake.script([Text("Here is the story.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        for n in range(3):
            await rt.conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": f"Tell me story number {n}."}]})
            await rt.conn.response.create(response={"metadata": {"n": str(n)}})
            await rt.conn.response.cancel()
            created = await rt.wait_for("response.created")
            assert created.response.metadata == {"n": str(n)}
            done = await rt.wait_for("response.done")
            assert done.response.id == created.response.id and done.response.status == "cancelled"
            assert done.response.status_details.reason == "client_cancelled"
        assert not rt.of("error")
        await rt.conn.response.create()  # the words wait for the next response
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
    asked = vs.fake.requests[-1]["messages"][-1]["content"]
    assert all(f"Tell me story number {n}." in asked for n in range(3)), asked
    users = [m.content for m in await vs.store.list_messages(agent, limit=20) if m.role == "user"]
    assert len(users) == 1 and all(f"story number {n}" in users[0] for n in range(3))
