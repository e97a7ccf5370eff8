"""Client tools a provider would refuse are refused when they arrive (found by QA from outside, session 5).

Through chat completions, an agent on Anthropic (a strict fake of its Messages API) answered 200 with the spoken
apology "Sorry, I'm having trouble answering right now" and a failed turn when the client's tools repeated a
name, named one `search_memory` (the server's own tool: the provider got it twice, and the model's calls of it
would have gone to the client), or had `"parameters": {"type": "array"}`: Anthropic answers 400 to each ("Tool
names must be unique", "input_schema.type: Input should be 'object'"). Now they are a 400 with the tool's `param`
before any model call (the Realtime route: tests/integration/realtime/test_realtime_client_tools.py). Real
server, real SQLite, the openai SDK against the scripted fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer, Text, ToolCall
from tests.integration.agent.conftest import Running, anthropic_llm, serving


def tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": "a client tool",
                                             "parameters": parameters or {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(("tools", "param", "words"), [
    ([tool("get_weather"), tool("get_weather")], "tools.1.function.name", "given twice"),
    ([tool("search_memory")], "tools.0.function.name", "taken by one of the agent's own tools"),
    ([tool("listy", {"type": "array", "items": {"type": "string"}})], "tools.0.function.parameters", "object"),
])
async def test_a_tool_list_a_provider_would_refuse_is_a_400(server: Running, tools: list[dict[str, Any]],
                                                            param: str, words: str) -> None:
    agent = await server.create_agent()
    before = len(server.fake.requests)
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=agent["id"], tools=tools,  # type: ignore[arg-type]
                                             messages=[{"role": "user", "content": "What's the weather?"}])
    body = err.value.body
    assert isinstance(body, dict) and body["param"] == param and words in body["message"], body
    assert len(server.fake.requests) == before  # no model call, no turn
    status, turns = await server.request("GET", f"/v1/agents/{agent['id']}/turns")
    assert status == 200 and turns["data"] == []


async def test_the_agents_own_tool_names_are_taken_and_others_pass(server: Running) -> None:
    status, made = await server.request("POST", "/v1/tools", json={
        "source_type": "python", "source": "def lookup_order(order_id: str) -> str:\n"
                                           "    \"\"\"Look up an order.\"\"\"\n    return order_id\n"})
    assert status == 201, made
    agent = await server.create_agent(tool_ids=[made["id"]])
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=agent["id"], tools=[tool("lookup_order")],  # type: ignore[list-item]
                                             messages=[{"role": "user", "content": "Where is my order?"}])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "tools.0.function.name"
    server.fake.script([Text("Sunny.")])
    done = await client.chat.completions.create(model=agent["id"], tools=[tool("get_weather")],  # type: ignore[list-item]
                                                messages=[{"role": "user", "content": "What's the weather?"}])
    assert done.choices[0].message.content == "Sunny."
    names = [t["function"]["name"] for t in server.fake.requests[-1]["tools"]]
    assert sorted(names) == ["get_weather", "lookup_order", "search_memory"]


SEARCH = ('{"pre_exec_msg": "Let me check.", "convo_keyword_queries": null, "start_minutes_ago": null, '
          '"end_minutes_ago": null}')


async def test_tool_choice_applies_to_the_turns_first_model_call(server: Running) -> None:
    """`tool_choice` was accepted and dropped: the model always got "auto" (found by QA from outside, session 5)."""
    agent = await server.create_agent()
    client = server.client()
    weather = [tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}})]
    server.fake.script([Text("Fine.")], [Text("Quiet.")], [ToolCall("search_memory", SEARCH)], [Text("Nothing.")])
    await client.chat.completions.create(  # type: ignore[call-overload]
        model=agent["id"], tools=weather, tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[{"role": "user", "content": "Weather in Oslo?"}])
    await client.chat.completions.create(model=agent["id"], tools=weather, tool_choice="none",  # type: ignore[arg-type]
                                         messages=[{"role": "user", "content": "Just chat."}])
    await client.chat.completions.create(model=agent["id"], tool_choice="required",
                                         messages=[{"role": "user", "content": "Look it up."}])
    sent = [r.get("tool_choice") for r in server.fake.requests]
    assert sent == [{"type": "function", "function": {"name": "get_weather"}}, "none", "required", "auto"]

    for choice, words in (({"type": "function", "function": {"name": "nope"}}, "no tool named 'nope'"),
                          ("sometimes", "Invalid value for 'tool_choice'")):
        with pytest.raises(openai.BadRequestError) as err:
            await client.chat.completions.create(model=agent["id"], tools=weather, tool_choice=choice,  # type: ignore[arg-type]
                                                 messages=[{"role": "user", "content": "Hm?"}])
        assert isinstance(err.value.body, dict) and err.value.body["param"] == "tool_choice", err.value.body
        assert words in err.value.body["message"]
    assert len(server.fake.requests) == 4


@pytest.fixture
async def claude_server(tmp_path: Path, fake_openai: FakeOpenAIServer,
                        fake_anthropic: FakeAnthropicServer) -> AsyncIterator[tuple[Running, FakeAnthropicServer]]:
    async with serving(tmp_path, fake_openai, api_key=None) as running:
        yield running, fake_anthropic


async def test_a_dotted_client_tool_name_round_trips_through_anthropic(
        claude_server: tuple[Running, FakeAnthropicServer]) -> None:
    """Our pattern allows "weather.get"; Anthropic's (^[a-zA-Z0-9_-]{1,128}$, the strict fake checks it) does not:
    the turn failed with a 400 from Anthropic and a spoken apology (QA, session 5). The model sees a valid stand-in,
    the client and the store see the client's own name."""
    server, claude = claude_server
    agent = await server.create_agent(llm=anthropic_llm(claude))
    client = server.client()
    tools = [tool("weather.get", {"type": "object", "properties": {"city": {"type": "string"}}}), tool("fs.read")]
    claude.script([ToolCall("weather_get", '{"city": "Oslo"}')], [Text("Sunny in Oslo.")])
    ask = {"role": "user", "content": "Weather in Oslo?"}
    first = await client.chat.completions.create(  # type: ignore[call-overload]
        model=agent["id"], tools=tools, tool_choice={"type": "function", "function": {"name": "weather.get"}},
        messages=[ask])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("weather.get", '{"city": "Oslo"}')
    sent = claude.requests[0]
    assert sorted(t["name"] for t in sent["tools"]) == ["fs_read", "search_memory", "weather_get"]
    assert sent["tool_choice"]["name"] == "weather_get"

    done = await client.chat.completions.create(  # type: ignore[call-overload]
        model=agent["id"], tools=tools, messages=[
            ask, {"role": "assistant", "content": None, "tool_calls": [
                {"id": call.id, "type": "function",
                 "function": {"name": "weather.get", "arguments": '{"city": "Oslo"}'}}]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}])
    assert done.choices[0].message.content == "Sunny in Oslo."
    uses = [b for m in claude.requests[1]["messages"] if isinstance(m["content"], list)
            for b in m["content"] if b["type"] == "tool_use"]
    assert [(b["id"], b["name"]) for b in uses] == [(call.id, "weather_get")]
    rows = await server.store.list_messages(agent["id"])
    assert [tc.name for m in rows for tc in (m.tool_calls or ())] == ["weather.get"]


async def test_a_dotted_client_tool_name_round_trips_through_openai(server: Running) -> None:
    """Many OpenAI models refuse "weather.get" (the fake answers as OpenAI does: 400, "string does not match
    pattern"): the turn failed with a spoken apology. A streamed call comes back under the client's name, and the
    history carries the stand-in."""
    agent = await server.create_agent()
    client = server.client()
    tools = [tool("weather.get", {"type": "object", "properties": {"city": {"type": "string"}}}), tool("fs.read")]
    server.fake.script([ToolCall("weather_get", '{"city": "Oslo"}')], [Text("Sunny in Oslo.")])
    ask = {"role": "user", "content": "Weather in Oslo?"}
    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model=agent["id"], tools=tools, tool_choice={"type": "function", "function": {"name": "weather.get"}},
        messages=[ask], stream=True)
    calls = [tc for c in [c async for c in stream] if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [tc.function.name for tc in calls if tc.function and tc.function.name] == ["weather.get"]
    call_id = next(tc.id for tc in calls if tc.id)
    sent = server.fake.requests[0]
    names = sorted(t["function"]["name"] for t in sent["tools"])
    assert names == ["fs_read", "search_memory", "weather_get"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather_get"}}

    done = await client.chat.completions.create(  # type: ignore[call-overload]
        model=agent["id"], tools=tools, messages=[
            ask, {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function",
                 "function": {"name": "weather.get", "arguments": '{"city": "Oslo"}'}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21 C"}])
    assert done.choices[0].message.content == "Sunny in Oslo."
    history = [tc["function"]["name"] for m in server.fake.requests[1]["messages"] for tc in m.get("tool_calls") or ()]
    assert history == ["weather_get"]
    rows = await server.store.list_messages(agent["id"])
    assert [tc.name for m in rows for tc in (m.tool_calls or ())] == ["weather.get"]
