"""A provider that answers wrongly, seen from the doors a client uses: the chat-completions endpoint driven by the real
openai SDK, and the Realtime WebSocket driven by the SDK's realtime client, each in front of a real server whose
agent's model is FakeOpenAIServer over HTTP. The client gets the typed error that names what came back (not "stream
ended without a finish_reason"), the session goes on, and a fallback model answers when there is one; a tool call a
model wrote as text (no tool-call parser on its server) runs as a tool call. The native voice door too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Raw, Text
from tests.fakes.realtime_client import RealtimeClient
from tests.integration.agent.conftest import Running, openai_llm, serving
from tests.integration.session.conftest import VoiceServer, start_voice_server
from voice_letta.agent.loop import FALLBACK_SENTENCE

PORTAL = ("<!DOCTYPE html><html><head><title>Welcome to Hotel Miramar Wi-Fi</title></head>"
          "<body><h1>Please accept the terms</h1></body></html>")
GATEWAY_ERROR = json.dumps({"error": {"message": "no available channel for model fake-model", "type": "new_api_error",
                                      "code": "model_not_found_in_group"}})


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=None) as running:
        yield running


@pytest.fixture
async def voice(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[VoiceServer]:
    server = await start_voice_server(tmp_path, fake_openai)
    try:
        yield server
    finally:
        await server.runner.cleanup()


async def _say(server: Running, agent: str, text: str) -> tuple[str, Any]:
    """One streamed turn through the SDK: (the words, the in-band error the SDK raised or None)."""
    stream = await server.client().chat.completions.create(
        model=agent, messages=[{"role": "user", "content": text}], stream=True)
    words: list[str] = []
    try:
        async for chunk in stream:
            words += [chunk.choices[0].delta.content or ""] if chunk.choices else []
    except openai.APIError as exc:
        return "".join(words), exc
    return "".join(words), None


async def test_chat_door_names_a_captive_portal_page_and_the_next_turn_works(server: Running) -> None:
    agent = (await server.create_agent(llm=openai_llm(server.fake, max_retries=0)))["id"]
    server.fake.script([Raw(PORTAL)], [Text("Back online.")])
    words, error = await _say(server, agent, "Hello?")
    assert FALLBACK_SENTENCE in words and error is not None
    assert error.code == "provider_bad_response"
    assert "HTTP 200" in error.message and "text/html" in error.message
    assert "Welcome to Hotel Miramar Wi-Fi" in error.message and "finish_reason" not in error.message
    assert len(server.fake.requests) == 1  # the same page would come back: not retried
    assert await _say(server, agent, "Hello again?") == ("Back online.", None)


async def test_chat_door_a_gateway_s_200_json_error_is_named_and_a_fallback_answers(server: Running) -> None:
    llm = openai_llm(server.fake, max_retries=0, model="relay-model",
                     fallback=openai_llm(server.fake, max_retries=0))
    agent = (await server.create_agent(llm=llm))["id"]
    server.fake.model_defaults["relay-model"] = [Raw(GATEWAY_ERROR, content_type="application/json")]
    server.fake.model_defaults["fake-model"] = [Text("The fallback answers.")]
    assert await _say(server, agent, "Hi") == ("The fallback answers.", None)
    del server.fake.model_defaults["fake-model"]
    agent_alone = (await server.create_agent(name="alone", llm=openai_llm(server.fake, max_retries=0,
                                                                          model="relay-model")))["id"]
    _, error = await _say(server, agent_alone, "Hi")
    assert error is not None and error.code == "provider_unavailable"
    assert "HTTP 200 (application/json) answered a JSON error" in error.message
    assert "no available channel for model fake-model" in error.message


async def test_chat_door_a_tool_call_written_as_text_runs_the_tool(server: Running) -> None:
    agent = (await server.create_agent(llm=openai_llm(server.fake, max_retries=0)))["id"]
    args = {"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["paris"],
            "start_minutes_ago": None, "end_minutes_ago": None}
    server.fake.script([Text("<tool_call>\n" + json.dumps({"name": "search_memory", "arguments": args})
                             + "\n</tool_call>")], [Text("I found nothing about Paris.")])
    words, error = await _say(server, agent, "What did I say about Paris?")
    assert error is None and words == "Let me check my notes. I found nothing about Paris."
    second = server.fake.requests[1]["messages"]
    call = next(m for m in second if m["role"] == "assistant" and m.get("tool_calls"))
    assert call["tool_calls"][0]["function"]["name"] == "search_memory"
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == call["tool_calls"][0]["id"]


def _user(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_realtime_door_reports_the_wrong_answer_and_the_session_goes_on(voice: VoiceServer) -> None:
    agent = await voice.create_agent()
    voice.fake.script([Raw(PORTAL)], [Raw(GATEWAY_ERROR, content_type="application/json")], [Text("Fine again.")])
    async with RealtimeClient.open(voice.url, model=agent) as rt:
        await rt.wait_for("session.created")
        for expected, named in (("provider_bad_response", "Welcome to Hotel Miramar Wi-Fi"),
                                ("provider_unavailable", "no available channel")):
            await rt.conn.conversation.item.create(item=_user("hi"))
            await rt.conn.response.create(response={"output_modalities": ["text"]})
            done = await rt.wait_for("response.done")
            assert done.response.status == "failed"
            error = done.response.status_details.error
            assert error.code == expected and named in error.message and "finish_reason" not in error.message
        await rt.conn.conversation.item.create(item=_user("still there?"))
        await rt.conn.response.create(response={"output_modalities": ["text"]})
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].text == "Fine again."


async def test_native_voice_door_reports_the_wrong_answer_and_the_session_goes_on(voice: VoiceServer) -> None:
    agent = await voice.create_agent()
    voice.fake.script([Raw(PORTAL)], [Text("Fine again.")])
    async with await voice.client(agent) as c:
        await c.send(type="input_text", text="hello?")
        error = await c.wait_for("error")
        assert error["code"] == "provider_bad_response" and "Welcome to Hotel Miramar Wi-Fi" in error["message"]
        done = await c.wait_for("response.done")
        assert done["status"] == "failed"
        await c.send(type="input_text", text="still there?")
        done = await c.wait_for("response.done", count=2)
        assert done["status"] == "completed" and c.response_text(done["response_id"]) == "Fine again."
