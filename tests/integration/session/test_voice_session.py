"""The native voice protocol over a real WebSocket with scripted STT/TTS and the fake OpenAI LLM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.fakes.native_client import NativeClient, load_wav, resample, silence
from tests.fakes.openai_server import Pause, Text, ToolCall
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.integration.session.conftest import VoiceServer
from voice_letta import ids
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.models import Block, Passage
from voice_letta.server.http_memory import MEMORY_SEARCH
from voice_letta.server.keys import BUS

LONG_REPLY = ("The first thing to know is that the river is long. It runs past many old towns and farms. "
              "People fish there all summer and skate on it in winter. The water is cold even in August. "
              "Many birds nest along the banks every spring.")


async def test_audio_turn_transcribes_and_answers(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny and warm.")])
    pcm, rate = load_wav("weather.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=0)
        tr = await c.wait_for("transcript.final")
        assert tr["text"] == "What is the weather like today?" and tr["source"] == "audio"
        assert 1300 < tr["audio_ms"] < 2600
        done = await c.wait_for("response.done")
        assert done["status"] == "completed"
        assert c.response_text(done["response_id"]) == "It is sunny and warm."
        assert len(c.audio[done["response_id"]]) > 0
        kinds = [m["type"] for m in c.events()]
        assert kinds.index("speech.started") < kinds.index("speech.stopped") < kinds.index("transcript.final")
        assert {"stt_ms", "first_token_ms", "transcript_to_audio_ms", "voice_to_voice_ms"} <= set(done["timings_ms"])
    assert len(vs.stt.calls) >= 1 and vs.stt.calls[-1][1] == 16000


async def test_input_at_48k_and_output_at_16k(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["hello"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("Hi.")])
    pcm, rate = load_wav("hello.wav")
    async with await vs.client() as c:
        await c.send(type="session.update", session={"agent": "voice-agent", "input_sample_rate_hz": 48000,
                                                      "output_sample_rate_hz": 16000})
        upd = await c.wait_for("session.updated")
        assert upd["session"]["agent"] == agent and upd["session"]["input_sample_rate_hz"] == 48000
        await c.stream(resample(pcm, rate, 48000), rate=48000, chunk_ms=37, speed=0)
        done = await c.wait_for("response.done")
        start = await c.wait_for("response.audio.start")
        assert start["sample_rate_hz"] == 16000
        assert len(c.audio[done["response_id"]]) / 32 == (await c.wait_for("response.audio.done"))["audio_ms"]


async def test_noise_and_silence_make_no_turn(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    noise, _ = load_wav("low_noise.wav")
    quiet, _ = load_wav("silence.wav")
    async with await vs.client(agent) as c:
        await c.stream(noise + quiet, speed=0)
        await c.send(type="ping", event_id="p1")
        await c.wait_for("pong", event_id="p1")
        await asyncio.sleep(0.2)
        assert not c.events("speech.started") and not c.events("transcript.final")
    assert vs.stt.calls == []


async def test_two_turns_in_one_stream(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["Hello, how are you today?", "What is the weather like today?"],
                                                         min_audio_ms=1500))
    agent = await vs.create_agent()
    vs.fake.script([Text("Fine.")], [Text("Sunny.")])
    pcm, rate = load_wav("two_turns.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=2.0)
        await c.wait_for("response.done", count=2)
        assert [t["text"] for t in c.events("transcript.final")] == \
            ["Hello, how are you today?", "What is the weather like today?"]
        assert [d["status"] for d in c.events("response.done")] == ["completed", "completed"]


async def test_push_to_talk_waits_for_commit(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["Turn off the lights"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("Done.")])
    pcm, rate = load_wav("lights_off.wav")
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"turn_mode": "push_to_talk"})
        await c.wait_for("session.updated")
        await c.stream(pcm, rate=rate, speed=0)
        await c.send(type="ping", event_id="p")
        await c.wait_for("pong")
        await asyncio.sleep(0.1)
        assert not c.events("transcript.final")
        await c.send(type="input_audio.commit")
        tr = await c.wait_for("transcript.final")
        assert tr["text"] == "Turn off the lights"
        assert tr["audio_ms"] > 2500  # push-to-talk keeps all audio since the last commit
        done = await c.wait_for("response.done")
        assert c.response_text(done["response_id"]) == "Done."
        # a clear drops what was said; a commit after it has nothing to transcribe
        await c.stream(pcm, rate=rate, speed=0)
        await c.send(type="input_audio.clear")
        await c.send(type="input_audio.commit")
        await c.send(type="ping", event_id="p2")
        await c.wait_for("pong", event_id="p2")
        await asyncio.sleep(0.1)
        assert len(c.events("transcript.final")) == 1


async def test_filler_audio_plays_before_the_tool_result(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    args = json.dumps({"pre_exec_msg": "Let me check my notes.", "query": "sister lives where"})
    vs.fake.script([ToolCall("search_memory", args, fragment_chars=4, delay_s=0.05)],
                   [Text("I could not find that.")])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Where does my sister live?")
        done = await c.wait_for("response.done", timeout_s=15)
        assert done["status"] == "completed"
        started = await c.wait_for("tool.started")
        assert started["name"] == "search_memory" and started["filler"] == "Let me check my notes."
        t_finished = c.timed("tool.finished")[0][0]
        t_first_audio = next(t for t, m in c.messages if isinstance(m, bytes))
        assert t_first_audio < t_finished
        assert vs.tts.texts[0] == "Let me check my notes."
        assert vs.tts.texts[-1] == "I could not find that."


async def test_barge_in_truncates_reply_to_heard_text(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]],
) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["Wait, stop, I have a different question."]),
                                    tts=ScriptedTTS(ms_per_char=45))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)], [Text("Sure, go ahead.")])
    speech, rate = load_wav("barge_in.wav")
    speech = speech[int(1.2 * rate) * 2:]
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Tell me about the river.")
        await c.wait_for("response.audio.start")
        await c.stream(silence(1200), speed=1.0)  # the user listens for a while (keeping the mic open)
        await c.stream(speech, rate=rate, speed=1.0)
        first = (await c.wait_for("response.done", timeout_s=15))
        assert first["status"] == "cancelled" and first["finish_reason"] == "barge_in"
        clear = await c.wait_for("playback.clear")
        assert clear["response_id"] == first["response_id"]
        heard = first["heard_text"]
        assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) // 2
        second = await c.wait_for("response.done", count=2, timeout_s=15)
        assert second["status"] == "completed"
        pb = c.playback[first["response_id"]]
        assert pb.stopped_at_ms is not None
    rows = [m for m in await vs.assistant_rows(agent) if m.turn_id == first["turn_id"]]
    assert len(rows) == 1 and rows[0].interrupted
    assert rows[0].content == heard
    # the heard position matches the client's report: words up to about stopped_at_ms of audio
    words_ms = len(heard) * 45
    assert words_ms <= pb.stopped_at_ms + 45 * 15


async def test_response_cancel_stops_at_once_and_truncates(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Tell me about the river.")
        start = await c.wait_for("response.audio.start")
        await asyncio.sleep(0.6)
        await c.send(type="response.cancel")
        done = await c.wait_for("response.done")
        assert done["status"] == "cancelled" and done["finish_reason"] == "client_cancelled"
        assert done["response_id"] == start["response_id"]
        t_clear = c.timed("playback.clear")[0][0]
        late = [t for t, m in c.messages if isinstance(m, bytes) and t > t_clear + 0.05]
        assert late == []
        assert 0 < len(done["heard_text"]) < len(LONG_REPLY)
    rows = [m for m in await vs.assistant_rows(agent) if m.turn_id == done["turn_id"]]
    assert rows[0].interrupted and rows[0].content == done["heard_text"]


async def test_cancel_without_reports_never_counts_more_than_sent(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)])
    async with await vs.client(agent, report=False) as c:
        await c.send(type="input_text", text="Tell me about the river.")
        await c.wait_for("response.audio.start")
        await asyncio.sleep(0.5)
        await c.send(type="response.cancel")
        done = await c.wait_for("response.done")
        received_ms = len(c.audio[done["response_id"]]) / 48
        assert len(done["heard_text"]) * 40 <= received_ms + 40 * 12


async def test_backchannel_does_not_interrupt(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["uh huh"]))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY[:120])])
    speech, rate = load_wav("barge_in.wav")
    blip = speech[int(1.5 * rate) * 2:int(1.85 * rate) * 2]  # 350 ms of speech: over min_speech, under barge-in
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Tell me about the river.")
        await c.wait_for("response.audio.start")
        await c.stream(silence(400) + blip + silence(1000), speed=1.0)
        done = await c.wait_for("response.done", timeout_s=15)
        assert done["status"] == "completed"
        assert not c.events("playback.clear")
    assert vs.stt.calls == []


async def test_bad_input_gets_typed_errors_and_session_goes_on(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Still here.")])
    async with await vs.client() as c:
        await c.send_raw(b"\x00\x00" * 160)
        assert (await c.wait_for("error"))["code"] == "session_not_configured"
        await c.send(type="input_text", text="hi")
        assert (await c.wait_for("error", count=2))["code"] == "no_agent"
        await c.send(type="session.update", session={"agent": agent})
        await c.wait_for("session.updated")
        cases: list[tuple[str | bytes, str]] = [
            (b"\x00" * 321, "odd_frame_length"),
            (b"\x00\x00" * 60_000, "frame_too_large"),
            ("{not json", "invalid_json"),
            ("[1, 2]", "invalid_json"),
            (json.dumps({"type": "nope", "event_id": "e-nope"}), "unknown_event"),
            (json.dumps({"kind": "input_text"}), "invalid_event"),
            (json.dumps({"type": "input_text", "text": "x", "extra": 1, "event_id": "e-extra"}), "invalid_event"),
            (json.dumps({"type": "session.update", "session": {"input_sample_rate_hz": 44100}, "event_id": "e-rate"}),
             "invalid_event"),
            (json.dumps({"type": "session.update", "session": {"agent": "nobody"}}), "agent_not_found"),
            (json.dumps({"type": "playback.progress", "response_id": "r", "played_ms": -5}), "invalid_event"),
            ("x" * 20_000, "frame_too_large"),
        ]
        for i, (raw, code) in enumerate(cases, start=3):
            await c.send_raw(raw)
            err = await c.wait_for("error", count=i)
            assert err["code"] == code, (raw[:40], err)
            assert err["retryable"] is False and err["message"]
            if isinstance(raw, str) and raw.startswith("{") and raw.endswith("}"):  # names the refused message
                assert err["event_id"] == json.loads(raw).get("event_id"), err
        await c.send(type="input_text", text="hi")
        done = await c.wait_for("response.done")
        assert c.response_text(done["response_id"]) == "Still here."
    async with aiohttp.ClientSession() as s, s.get(vs.url + "/metrics") as r:
        text = await r.text()
    assert 'voice_letta_voice_errors_total{code="odd_frame_length"} 1' in text
    assert "voice_letta_sessions_active" in text
    assert "voice_letta_voice_transcript_to_audio_seconds_count 1" in text


async def test_unknown_agent_in_query_is_an_error_not_a_close(vs: VoiceServer) -> None:
    async with await vs.client("nobody") as c:
        assert (await c.wait_for("error"))["code"] == "agent_not_found"
        created = c.events("session.created")[0]
        assert created["protocol"] == "voice-letta.v1" and created["session"]["agent"] is None


async def test_memory_updates_reach_the_client(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    async with await vs.client(agent) as c:
        await c.send(type="ping")
        await c.wait_for("pong")
        bus: MemoryBus = vs.app[BUS]
        bus.publish(MemoryUpdated(agent, (Block(id="b1", label="human", value="Likes tea.", version=2),),
                                  passages_added=1))
        ev = await c.wait_for("memory.updated")
        assert ev["blocks"][0] == {"label": "human", "value": "Likes tea.", "version": 2}


async def test_opening_a_session_loads_the_agents_memory_index(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    search = vs.app[MEMORY_SEARCH]
    embedder = await search.embedder_for(agent)
    if embedder is None:
        pytest.skip("no embedder configured")
    await vs.store.insert_passages([
        Passage(id=ids.passage_id(), agent_id=agent, text="I like tea", synopsis="likes tea",
                embedding=[1.0] + [0.0] * (embedder.dim - 1), embedding_model=embedder.model,
                embedding_dim=embedder.dim)])
    assert agent not in search.indexes.loaded
    async with await vs.client(agent) as c:
        await c.send(type="ping")
        await c.wait_for("pong")
        for _ in range(300):
            if agent in search.indexes.loaded:
                break
            await asyncio.sleep(0.01)
        assert search.indexes.loaded[agent].size == 1  # loaded before the first utterance


async def test_several_sessions_at_once(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(default="Hello, how are you today?", delay_s=0.3))
    agents = [await vs.create_agent(name=f"a{i}") for i in range(6)]
    vs.fake.default_turn = [Text("Fine, "), Pause(0.05), Text("thanks for asking.")]
    pcm, rate = load_wav("hello.wav")

    async def one(agent: str) -> None:
        async with await vs.client(agent) as c:
            await c.stream(pcm, rate=rate, speed=3.0)
            done = await c.wait_for("response.done", timeout_s=20)
            assert done["status"] == "completed"
            assert c.response_text(done["response_id"]) == "Fine, thanks for asking."
            assert len(c.audio[done["response_id"]]) > 0

    await asyncio.gather(*(one(a) for a in agents))


async def test_session_end_persists_and_notifies_memory(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)])
    ended: list[str] = []
    voice_agent = vs.app[__import__("voice_letta.server.keys", fromlist=["AGENT"]).AGENT]
    original = voice_agent.end_session

    async def end_session(agent_id: str) -> None:
        ended.append(agent_id)
        await original(agent_id)

    voice_agent.end_session = end_session  # type: ignore[method-assign]
    c = await NativeClient.open(vs.url, agent=agent)
    await c.send(type="input_text", text="Tell me about the river.")
    await c.wait_for("response.audio.start")
    await asyncio.sleep(0.3)
    await c.aclose()
    for _ in range(50):
        if ended:
            break
        await asyncio.sleep(0.05)
    assert ended == [agent]
    rows = await vs.assistant_rows(agent)
    assert rows and rows[-1].interrupted and LONG_REPLY.startswith(rows[-1].content or "")
    users = [m for m in await vs.store.list_messages(agent, limit=10) if m.role == "user"]
    assert users[-1].content == "Tell me about the river."
