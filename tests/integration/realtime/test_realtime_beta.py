"""``GET /v1/realtime`` for clients of the *beta* Realtime interface: the stock ``openai`` SDK's
``client.beta.realtime.connect`` (it sends ``OpenAI-Beta: realtime=v1``) and browsers offering the
``openai-beta.realtime-v1`` subprotocol get beta event names and a flat session, over a real WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import connect

from tests.fakes.native_client import load_wav, resample
from tests.fakes.openai_server import Text
from tests.fakes.realtime_client import RealtimeClient
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.integration.session.conftest import VoiceServer
from voice_letta.core import codecs

GA_ONLY = {"conversation.item.added", "conversation.item.done", "response.output_audio.delta",
           "response.output_audio.done", "response.output_audio_transcript.delta",
           "response.output_audio_transcript.done", "response.output_text.delta", "response.output_text.done"}


def spoken(rt: RealtimeClient, response_id: str) -> tuple[bytes, str]:
    audio = b"".join(base64.b64decode(e.delta) for e in rt.of("response.audio.delta") if e.response_id == response_id)
    words = "".join(e.delta for e in rt.of("response.audio_transcript.delta") if e.response_id == response_id)
    return audio, words


async def test_the_sdks_beta_client_gets_beta_events_for_a_text_turn(
        voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT([]), tts=ScriptedTTS(ms_per_char=20, sample_rate_hz=22050))
    agent = await vs.create_agent()
    vs.fake.script([Text("Your sister lives in Porto.")])
    async with RealtimeClient.open(vs.url, model=agent, beta=True) as rt:
        created = await rt.wait_for("session.created")
        session = created.session
        assert session.modalities == ["text", "audio"] and session.input_audio_format == "pcm16"
        assert session.output_audio_format == "pcm16" and session.turn_detection.type == "server_vad"
        assert session.voice
        await rt.conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Where does my sister live?"}]})
        added = await rt.wait_for("conversation.item.created")
        assert added.item.role == "user" and added.item.content[0].text == "Where does my sister live?"
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed" and done.response.modalities == ["text", "audio"]
        assert done.response.output_audio_format == "pcm16"
        [message] = done.response.output
        assert message.content[0].type == "audio" and message.content[0].transcript == "Your sister lives in Porto."
        audio, words = spoken(rt, done.response.id)
        assert words == "Your sister lives in Porto."
        assert abs(len(audio) / 2 / 24 - 20 * len(words)) < 30  # 24 kHz PCM16 at 20 ms a character
        kinds = rt.types()
        assert not GA_ONLY & set(kinds), sorted(GA_ONLY & set(kinds))
        order = ["response.created", "response.output_item.added", "conversation.item.created",
                 "response.content_part.added", "response.audio_transcript.delta", "response.audio.delta",
                 "response.audio.done", "response.audio_transcript.done", "response.content_part.done",
                 "response.output_item.done", "response.done"]
        response_kinds = kinds[kinds.index("response.created"):]
        assert [response_kinds.index(k) for k in order] == sorted(response_kinds.index(k) for k in order)
    rows = await vs.store.list_messages(agent, limit=10)
    assert [(m.role, m.content) for m in rows][-2:] == [("user", "Where does my sister live?"),
                                                     ("assistant", "Your sister lives in Porto.")]


async def test_a_flat_beta_session_update_sets_formats_voice_and_turn_detection(
        voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?"]),
                                    tts=ScriptedTTS(ms_per_char=40, sample_rate_hz=22050))
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny.")])
    async with RealtimeClient.open(vs.url, model=agent, beta=True) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={
            "modalities": ["text", "audio"], "input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw",
            "turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}})
        updated = (await rt.wait_for("session.updated")).session
        assert updated.input_audio_format == updated.output_audio_format == "g711_ulaw"
        assert updated.turn_detection is None
        # no server VAD: the client commits; G.711 mu-law at 8 kHz both ways
        pcm, rate = load_wav("weather.wav")
        ulaw = codecs.pcm16_to_ulaw(resample(pcm, rate, 8000))
        for i in range(0, len(ulaw), 1600):
            await rt.conn.input_audio_buffer.append(audio=base64.b64encode(ulaw[i:i + 1600]).decode())
        await rt.conn.input_audio_buffer.commit()
        committed = await rt.wait_for("input_audio_buffer.committed")
        heard = await rt.wait_for("conversation.item.input_audio_transcription.completed", timeout_s=20)
        assert heard.item_id == committed.item_id and heard.transcript == "What is the weather like today?"
        await rt.conn.response.create(response={"modalities": ["text", "audio"]})
        done = await rt.wait_for("response.done", timeout_s=20)
        assert done.response.status == "completed" and done.response.output_audio_format == "g711_ulaw"
        audio, words = spoken(rt, done.response.id)
        assert words == "It is sunny."
        assert abs(len(audio) / 8 - 40 * len(words)) < 30  # one mu-law byte a sample at 8 kHz


async def test_a_beta_text_only_response(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT([]), tts=ScriptedTTS(ms_per_char=20, sample_rate_hz=22050))
    agent = await vs.create_agent()
    vs.fake.script([Text("Tuesday at nine.")])
    async with RealtimeClient.open(vs.url, model=agent, beta=True) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"modalities": ["text"]})
        assert (await rt.wait_for("session.updated")).session.modalities == ["text"]
        await rt.conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "When is the dentist?"}]})
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert "".join(e.delta for e in rt.of("response.text.delta")) == "Tuesday at nine."
        assert (await rt.wait_for("response.text.done")).text == "Tuesday at nine."
        assert done.response.output[0].content[0].type == "text"
        assert not rt.of("response.audio.delta")


async def test_beta_errors_are_typed_and_the_session_keeps_working(
        voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT([]), tts=ScriptedTTS(ms_per_char=20, sample_rate_hz=22050))
    agent = await vs.create_agent()
    vs.fake.script([Text("Still here.")])
    ws_url = vs.url.replace("http://", "ws://") + f"/v1/realtime?model={agent}"
    async with connect(ws_url, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        async def next_of(kind: str) -> dict[str, Any]:
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if event["type"] == kind:
                    return event  # type: ignore[no-any-return]

        await next_of("session.created")
        await ws.send(json.dumps({"type": "session.update", "event_id": "e1",
                                  "session": {"input_audio_format": "pcm8"}}))
        error = await next_of("error")
        assert error["error"]["code"] == "invalid_value" and error["error"]["event_id"] == "e1"
        assert error["error"]["param"] == "session.audio.input.format.type"
        await ws.send("{not json")
        assert (await next_of("error"))["error"]["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Are you there?"}]}}))
        await ws.send(json.dumps({"type": "response.create", "response": {"modalities": ["text"]}}))
        done = await next_of("response.done")
        assert done["response"]["status"] == "completed" and done["response"]["modalities"] == ["text"]


async def test_a_browser_offering_the_beta_subprotocol_gets_beta_names(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    ws_url = vs.url.replace("http://", "ws://") + f"/v1/realtime?model={agent}"
    protocols = ["realtime", "openai-beta.realtime-v1"]
    async with connect(ws_url, subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        created = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert created["type"] == "session.created" and created["session"]["input_audio_format"] == "pcm16"
        assert "audio" not in created["session"]
    # without it (and without the header), the same server speaks GA
    async with connect(ws_url, subprotocols=["realtime"]) as ws:  # type: ignore[list-item]
        created = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert created["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
