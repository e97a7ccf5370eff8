"""``GET /v1/realtime`` driven by the stock ``openai`` SDK (``AsyncOpenAI(...).realtime.connect``).

The real server runs with scripted speech engines and the fake OpenAI LLM over HTTP; the SDK speaks the GA
Realtime protocol to it over a real WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.native_client import load_wav, resample
from tests.fakes.openai_server import Text, ToolCall
from tests.fakes.realtime_client import RealtimeClient
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.integration.memory.conftest import finish_call, rethink_call, store_call
from tests.integration.session.conftest import VoiceServer
from voice_letta.agent.loop import NO_INPUT_CUE
from voice_letta.agent.memory_manager import MemoryManager
from voice_letta.agent.ports import MemoryJob
from voice_letta.core import codecs
from voice_letta.server.http_memory import MEMORY_MANAGER

LONG_REPLY = ("The first thing to know is that the river is long. It runs past many old towns and farms. "
              "People fish there all summer and skate on it in winter. The water is cold even in August. "
              "Many birds nest along the banks every spring.")
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}


def user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_audio_turn_from_a_fixture(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?"]),
                                    tts=ScriptedTTS(ms_per_char=40, sample_rate_hz=22050))
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny and warm.")])
    pcm, rate = load_wav("weather.wav")
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        created = await rt.wait_for("session.created")
        assert created.session.audio.input.format.rate == 24000
        assert created.session.audio.input.turn_detection.type == "server_vad"
        await rt.append_audio(resample(pcm, rate, 24000), pace_s=0.01)
        started = await rt.wait_for("input_audio_buffer.speech_started")
        stopped = await rt.wait_for("input_audio_buffer.speech_stopped")
        committed = await rt.wait_for("input_audio_buffer.committed")
        assert started.item_id == stopped.item_id == committed.item_id
        assert 300 <= started.audio_start_ms < stopped.audio_end_ms <= 2900
        heard = await rt.wait_for("conversation.item.input_audio_transcription.completed")
        assert heard.item_id == committed.item_id and heard.transcript == "What is the weather like today?"
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
        rid = done.response.id
        assert rt.transcript(rid) == "It is sunny and warm."
        [message] = done.response.output
        assert message.type == "message" and message.content[0].transcript == "It is sunny and warm."
        # 24 kHz PCM16: the scripted voice speaks 40 ms a character
        audio_ms = len(rt.audio(rid)) / 2 / 24
        assert abs(audio_ms - 40 * len("It is sunny and warm.")) < 30
        usage = done.response.usage
        assert usage.input_tokens > 0 and usage.output_tokens > 0
        assert usage.total_tokens == usage.input_tokens + usage.output_tokens
        kinds = rt.types()
        order = ["input_audio_buffer.committed", "conversation.item.added",
                 "conversation.item.input_audio_transcription.completed", "response.created",
                 "response.output_item.added", "response.content_part.added",
                 "response.output_audio_transcript.delta", "response.output_audio.delta",
                 "response.output_audio.done", "response.output_audio_transcript.done",
                 "response.content_part.done", "response.output_item.done", "response.done"]
        assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order)
        assert "rate_limits.updated" in kinds
    rows = await vs.store.list_messages(agent, limit=10)
    assert [(m.role, m.content) for m in rows] == [("user", "What is the weather like today?"),
                                                  ("assistant", "It is sunny and warm.")]


async def test_text_turn_with_text_only_output(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Hello there. "), Text("How can I help?")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=user_text("hi"), event_id="evt-1")
        added = await rt.wait_for("conversation.item.added")
        assert added.item.role == "user" and added.item.content[0].text == "hi"
        await rt.conn.response.create(response={"output_modalities": ["text"], "metadata": {"k": "v"}})
        created = await rt.wait_for("response.created")
        assert created.response.metadata == {"k": "v"} and created.response.output_modalities == ["text"]
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
        deltas = [e.delta for e in rt.of("response.output_text.delta")]
        assert "".join(deltas) == "Hello there. How can I help?"
        assert (await rt.wait_for("response.output_text.done")).text == "Hello there. How can I help?"
        assert not rt.of("response.output_audio.delta") and vs.tts.texts == []
        assert done.response.output[0].content[0].type == "output_text"
    assert vs.fake.requests[-1]["messages"][-1]["content"].endswith("hi")


async def test_client_function_call_round_trip(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")], [Text("It is sunny in Paris.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "tools": [WEATHER_TOOL]})
        updated = await rt.wait_for("session.updated")
        assert [t["name"] if isinstance(t, dict) else t.name for t in updated.session.tools] == ["get_weather"]
        await rt.conn.conversation.item.create(item=user_text("What's the weather in Paris?"))
        await rt.conn.response.create()
        args = await rt.wait_for("response.function_call_arguments.done")
        assert args.name == "get_weather" and json.loads(args.arguments) == {"city": "Paris"}
        assert args.call_id == "call_w1"
        first = await rt.wait_for("response.done")
        assert first.response.status == "completed"
        assert [i.type for i in first.response.output] == ["function_call"]
        assert "".join(e.delta for e in rt.of("response.function_call_arguments.delta")) == args.arguments
        await rt.conn.conversation.item.create(item={"type": "function_call_output", "call_id": "call_w1",
                                                     "output": json.dumps({"sky": "sunny", "c": 24})})
        await rt.conn.response.create()
        second = await rt.wait_for("response.done")
        assert second.response.status == "completed"
        assert rt.transcript(second.response.id) == "It is sunny in Paris."
    offered = vs.fake.requests[0]["tools"]
    assert "get_weather" in [t["function"]["name"] for t in offered]
    tool_msgs = [m for m in vs.fake.requests[1]["messages"] if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"] == "call_w1" and "sunny" in tool_msgs[-1]["content"]


async def test_truncate_after_cancel_stores_what_was_heard(voice_server_factory: Callable[..., Awaitable[VoiceServer]],
                                                          ) -> None:
    vs = await voice_server_factory(tts=ScriptedTTS(ms_per_char=45))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=user_text("Tell me about the river."))
        await rt.conn.response.create()
        first_audio = await rt.wait_for("response.output_audio.delta")
        await asyncio.sleep(1.5)
        await rt.conn.response.cancel()
        done = await rt.wait_for("response.done")
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        received_ms = len(rt.audio(done.response.id)) / 2 / 24
        heard_ms = int(received_ms * 0.6)
        await rt.conn.conversation.item.truncate(item_id=first_audio.item_id, content_index=0,
                                                 audio_end_ms=heard_ms)
        truncated = await rt.wait_for("conversation.item.truncated")
        assert truncated.item_id == first_audio.item_id and truncated.audio_end_ms == heard_ms
        # a position past the audio sent is refused
        await rt.conn.conversation.item.truncate(item_id=first_audio.item_id, content_index=0,
                                                 audio_end_ms=int(received_ms) + 5000)
        err = await rt.wait_for("error")
        assert err.error.code == "invalid_value" and err.error.param == "audio_end_ms"
    rows = [m for m in await vs.assistant_rows(agent)]
    assert len(rows) == 1 and rows[0].interrupted
    kept = rows[0].content or ""
    assert kept and LONG_REPLY.startswith(kept)
    assert len(kept) * 45 <= heard_ms + 45 * 12  # the words of about heard_ms of speech, never more
    assert len(kept) * 45 >= heard_ms - 45 * 30


async def test_agent_speaks_first_without_storing_a_fake_user_message(vs: VoiceServer) -> None:
    agent = await vs.create_agent(client_system_prompt="append")
    vs.fake.script([Text("Hi! I'm your assistant.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
        await rt.wait_for("session.updated")
        await rt.conn.response.create(response={"instructions": "Greet the caller."})
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
    rows = await vs.store.list_messages(agent, limit=10)
    assert [(m.role, m.content) for m in rows] == [("assistant", "Hi! I'm your assistant.")]
    request = vs.fake.requests[-1]["messages"]
    assert NO_INPUT_CUE in request[-1]["content"] and request[-1]["role"] == "user"
    assert "Greet the caller." in request[0]["content"] and "Be brief." not in request[0]["content"]


@pytest.mark.parametrize("fmt", ["audio/pcmu", "audio/pcma"])
async def test_g711_audio_in_and_out(voice_server_factory: Callable[..., Awaitable[VoiceServer]], fmt: str) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like today?"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("Sunny.")])
    pcm, rate = load_wav("weather.wav")
    pcm8 = resample(pcm, rate, 8000)
    encoded = codecs.pcm16_to_ulaw(pcm8) if fmt == "audio/pcmu" else codecs.pcm16_to_alaw(pcm8)
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "audio": {
            "input": {"format": {"type": fmt}}, "output": {"format": {"type": fmt}}}})
        updated = await rt.wait_for("session.updated")
        assert updated.session.audio.output.format.type == fmt
        for i in range(0, len(encoded), 800):
            await rt.conn.input_audio_buffer.append(audio=base64.b64encode(encoded[i:i + 800]).decode())
        done = await rt.wait_for("response.done")
        assert (await rt.wait_for("conversation.item.input_audio_transcription.completed")).transcript
        out = rt.audio(done.response.id)  # one byte a sample at 8 kHz
        assert abs(len(out) / 8 - 40 * len("Sunny.")) < 30
    assert vs.stt.calls[-1][1] == 16000


async def test_unsupported_fields_are_reported_once(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        update = {"type": "realtime", "tracing": "auto", "max_output_tokens": 200, "model": agent,
                  "instructions": "Talk like a pirate.",
                  "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}}
        await rt.conn.session.update(session=update)
        updated = await rt.wait_for("session.updated")
        assert updated.session.audio.input.turn_detection.type == "semantic_vad"
        await rt.conn.session.update(session=update)
        await rt.wait_for("session.updated")
        warnings = [e for e in rt.raw if e["type"] == "voice_letta.warning"]
        fields = [f for w in warnings for f in w["fields"]]
        assert "session.update: session.tracing" in fields and "session.update: session.max_output_tokens" in fields
        assert len(fields) == len(set(fields))  # each reported once
        assert any("semantic_vad" in w["message"] for w in warnings)
        # this agent ignores client instructions (client_system_prompt "ignore"): said so, once
        assert sum("instructions are ignored" in w["message"] for w in warnings) == 1
        assert not any("session.model" in w["message"] for w in warnings)  # its own id is no change


async def test_bad_input_gets_realtime_errors_and_the_session_goes_on(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Still here.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.send({"type": "no.such.event", "event_id": "e1"})  # type: ignore[arg-type]
        err = await rt.wait_for("error")
        assert err.error.type == "invalid_request_error" and err.error.code == "invalid_value"
        assert err.error.param == "type" and err.error.event_id == "e1"
        await rt.conn.send({"type": "conversation.item.truncate", "event_id": "e2"})  # type: ignore[arg-type]
        err = await rt.wait_for("error")
        assert err.error.code == "missing_required_parameter" and err.error.event_id == "e2"
        await rt.conn.input_audio_buffer.commit(event_id="e3")
        err = await rt.wait_for("error")
        assert err.error.code == "input_audio_buffer_commit_empty" and err.error.event_id == "e3"
        await rt.conn.response.cancel(event_id="e4")
        err = await rt.wait_for("error")
        assert err.error.code == "response_cancel_not_active"
        await rt.conn.input_audio_buffer.append(audio="not base64!!")
        err = await rt.wait_for("error")
        assert err.error.param == "audio"
        await rt.conn.conversation.item.create(item=user_text("still there?"))
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"


async def test_client_item_ids_are_kept_and_deletes_acknowledged(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item={**user_text("remember the milk"), "id": "lk_1"},
                                               previous_item_id="root")
        added = await rt.wait_for("conversation.item.added")
        assert added.item.id == "lk_1"
        await rt.conn.conversation.item.retrieve(item_id="lk_1")
        assert (await rt.wait_for("conversation.item.retrieved")).item.id == "lk_1"
        await rt.conn.conversation.item.delete(item_id="lk_1")
        assert (await rt.wait_for("conversation.item.deleted")).item_id == "lk_1"
    rows = await vs.store.list_messages(agent, limit=10)
    assert [(m.role, m.content) for m in rows] == [("user", "remember the milk")]  # kept at session end


async def test_unknown_model_is_an_error_then_a_close(vs: VoiceServer) -> None:
    await vs.create_agent()
    async with RealtimeClient.open(vs.url, model="gpt-realtime") as rt:
        err = await rt.wait_for("error")
        assert err.error.code == "model_not_found"
        await asyncio.wait_for(rt.closed.wait(), 5)


async def test_memory_question_answered_from_an_earlier_session(vs: VoiceServer) -> None:
    agent = await vs.create_agent(
        blocks=[{"label": "persona", "value": "I am a helpful voice assistant."},
                {"label": "human", "value": "Nothing is known about the user yet.", "limit": 5000}],
        buffer={"max_messages": 6, "min_messages": 5},
        sleeptime_llm={"provider": "openai", "model": "fake-sleeptime", "base_url": vs.fake.base_url,
                       "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0})
    manager = vs.app[MEMORY_MANAGER]
    # Session 1: the user mentions their sister; the session ends and hands the conversation to memory.
    vs.fake.script(
        [Text("How exciting for her!")],
        [store_call((0, 1, "The user's sister Maya moved to Lisbon for a design job."))],
        [rethink_call("Has a sister, Maya, who lives in Lisbon.")],
        [finish_call()])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=user_text("My sister Maya just moved to Lisbon for a design job."))
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
    jobs = await _session_jobs(manager, agent)
    assert [j.kind for j in jobs] == ["session_end"] and jobs[-1].status == "done"
    status, block = await _get(vs, f"/v1/agents/{agent}/blocks/human")
    assert status == 200 and "Lisbon" in str(block["value"])

    # Session 2: the agent's memory answers (search_memory finds the archived passage).
    search = {"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["sister"],
              "start_minutes_ago": None, "end_minutes_ago": None}
    vs.fake.script([ToolCall("search_memory", json.dumps(search))], [Text("Your sister Maya lives in Lisbon.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=user_text("Where does my sister live now?"))
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert rt.transcript(done.response.id) == "Let me check my notes. Your sister Maya lives in Lisbon."
        assert [i.type for i in done.response.output] == ["message"]  # the agent's own tool is not shown
    answer_request = vs.fake.requests[-1]["messages"]
    assert "Lisbon" in answer_request[0]["content"]  # the rewritten block, in the system prompt
    tool_results = [m for m in answer_request if m["role"] == "tool"]
    assert "Lisbon" in tool_results[-1]["content"]


async def _get(vs: VoiceServer, path: str) -> tuple[int, dict[str, object]]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(vs.url + path) as r:
        return r.status, await r.json()


async def _session_jobs(manager: MemoryManager, agent_id: str) -> list[MemoryJob]:
    """The agent's memory jobs once the server has ended the session (it does so after the socket closed).

    Only the job's *appearance* is bounded here: running it is bounded by `wait_idle`'s own generous timeout, since
    on a loaded 2-core machine the job's embedder process alone can take longer than 10 s to start."""
    async with asyncio.timeout(10):
        while True:  # the server ends the session on its own schedule after the socket closed
            if await manager.store.list_memory_jobs(agent_id):
                break
            await asyncio.sleep(0.05)
    return await manager.wait_idle(agent_id)


async def test_a_text_reply_edited_by_delete_and_recreate_keeps_the_words_shown(vs: VoiceServer) -> None:
    """LiveKit with its own TTS: an interrupted text reply is replaced by the words it forwarded."""
    agent = await vs.create_agent()
    vs.fake.script([Text("The river is long. It runs past many towns.")])
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await rt.wait_for("session.updated")
        await rt.conn.conversation.item.create(item=user_text("Tell me about the river."))
        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        item_id = done.response.output[0].id
        await rt.conn.conversation.item.delete(item_id=item_id)
        assert (await rt.wait_for("conversation.item.deleted")).item_id == item_id
        await rt.conn.conversation.item.create(item={
            "id": item_id, "type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "The river is long."}]})
        edited = [e for e in await _items_added(rt, 3) if e.item.id == item_id]
        assert edited and edited[-1].item.content[0].text == "The river is long."
        assert (await rt.wait_for("conversation.item.truncated")).item_id == item_id
    rows = await vs.assistant_rows(agent)
    assert [(r.content, r.interrupted) for r in rows] == [("The river is long.", True)]


async def _items_added(rt: RealtimeClient, count: int) -> list[Any]:
    """The first ``count`` conversation.item.added events (waiting for them)."""
    for _ in range(count):
        await rt.wait_for("conversation.item.added")
    return rt.of("conversation.item.added")


async def test_truncating_a_reply_older_than_the_session_remembers_is_refused(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.default_turn = [Text("Okay.")]
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await rt.wait_for("session.updated")
        first = None
        for _ in range(17):  # the session keeps the last 16 ended responses for a late truncate
            await rt.conn.response.create()
            done = await rt.wait_for("response.done")
            first = first or done.response.output[0].id
        await rt.conn.conversation.item.delete(item_id=first)  # a text item: "nothing of it was heard"
        await rt.wait_for("conversation.item.deleted")
        await rt.conn.response.create()  # the session is still there
        assert (await rt.wait_for("response.done")).response.status == "completed"
        errors = [e.error.code for e in rt.of("error")]
        assert errors == ["invalid_value"]


PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
         "PchI7wAAAABJRU5ErkJggg==")


async def test_image_items_reach_a_model_that_takes_images_and_are_reported_otherwise(vs: VoiceServer) -> None:
    seeing = await vs.create_agent(name="seeing")
    blind = await vs.create_agent(name="blind", llm={
        "provider": "openai", "model": "fake-model", "base_url": vs.fake.base_url, "api_key_env": "FAKE_OPENAI_KEY",
        "max_retries": 0, "vision": False})
    vs.fake.script([Text("A single pixel.")], [Text("I cannot see it.")])
    picture = {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "What is in this picture?"},
        {"type": "input_image", "image_url": PIXEL, "detail": "low"}]}
    async with RealtimeClient.open(vs.url, model=seeing) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=picture)
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
    parts = _turn_requests(vs)[0]["messages"][-1]["content"]
    assert isinstance(parts, list) and {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}} in parts
    async with RealtimeClient.open(vs.url, model=blind) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item=picture)
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
        warnings = [e for e in rt.raw if e["type"] == "voice_letta.warning"]
        assert any("input_image" in f for w in warnings for f in w["fields"])
    last = _turn_requests(vs)[1]["messages"][-1]["content"]
    assert isinstance(last, str) and "What is in this picture?" in last  # the words, without the image


def _turn_requests(vs: VoiceServer) -> list[dict[str, Any]]:
    """The fake LLM's requests for voice turns (not the sleeptime agent's memory runs)."""
    return [r for r in vs.fake.requests if "What is in this picture?" in json.dumps(r["messages"][-1])]
