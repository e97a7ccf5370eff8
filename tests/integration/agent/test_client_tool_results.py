"""Client tool results answer the agent's own calls, once and in place (found by QA from outside, session 5).

On an Anthropic agent (a strict fake of its Messages API), a `tool` message for a call the agent never made was
stored and the model got nothing valid ("at least one message is required"): a failed turn and a spoken apology.
A result sent twice, or re-sent after the turn it answered, was stored too; it then went to the provider after
the reply, where Anthropic (and OpenAI) refuse a tool result that does not follow its call, so that turn and
every later turn of the agent failed. Now a result for a call the agent never made, or the same call answered
twice in one request, is a 400 naming the message; and the model is only ever given the first result of a call,
right after the call. Real server, real SQLite, the openai SDK against the scripted fake.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running

TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
ASK: dict[str, Any] = {"role": "user", "content": "What's the weather in Paris?"}
CALL: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}


def result(text: str, call_id: str = "call_w1") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def valid_for_providers(messages: list[dict[str, Any]]) -> bool:
    """Every tool message answers, once, a call of the assistant message right before the run of tool messages."""
    waiting: set[str] = set()
    answered: set[str] = set()
    for m in messages:
        if m["role"] == "tool":
            if m["tool_call_id"] not in waiting or m["tool_call_id"] in answered:
                return False
            answered.add(m["tool_call_id"])
            continue
        if waiting - answered:
            return False  # a call left without its result
        waiting = {c["id"] for c in m.get("tool_calls") or []}
        answered = set()
    return not waiting - answered


async def test_results_must_answer_calls_the_agent_made_once(server: Running) -> None:
    agent = await server.create_agent()
    client = server.client()
    with pytest.raises(openai.BadRequestError) as err:  # no call was ever made
        await client.chat.completions.create(model=agent["id"], tools=TOOLS, messages=[ASK, CALL, result("sunny")])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "messages.2.tool_call_id"

    server.fake.script([ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")])
    await client.chat.completions.create(model=agent["id"], tools=TOOLS, messages=[ASK])
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=agent["id"], tools=TOOLS,
                                             messages=[ASK, CALL, result("sunny"), result("rainy")])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "messages.3.tool_call_id"
    assert len(server.fake.requests) == 1  # neither reached the model


async def test_a_result_sent_again_never_reaches_the_model_out_of_place(server: Running) -> None:
    agent = await server.create_agent()
    client = server.client()
    server.fake.script([ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")], [Text("It is sunny.")],
                       [Text("Still sunny, I think.")], [Text("Hello again.")])
    await client.chat.completions.create(model=agent["id"], tools=TOOLS, messages=[ASK])
    done = await client.chat.completions.create(model=agent["id"], tools=TOOLS,
                                                messages=[ASK, CALL, result("sunny")])
    assert done.choices[0].message.content == "It is sunny."
    # the client ran its tool again and sends the new result for the call already answered
    await client.chat.completions.create(model=agent["id"], tools=TOOLS, messages=[ASK, CALL, result("rainy")])
    # its result answers no open call, so the model is cued that it is its turn (a last user message), instead of
    # being handed a conversation that ends with its own reply (Anthropic reads that as text to continue)
    assert server.fake.requests[-1]["messages"][-1]["role"] == "user"
    await client.chat.completions.create(model=agent["id"], tools=TOOLS, messages=[
        ASK, CALL, result("rainy"), {"role": "assistant", "content": "Still sunny, I think."},
        {"role": "user", "content": "Thanks!"}])
    for request in server.fake.requests:
        assert valid_for_providers(request["messages"]), request["messages"]
    tools_seen = [m for m in server.fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tools_seen] == ["sunny"]


async def test_a_result_without_a_call_id_is_named_and_the_legacy_function_role_is_explained(server: Running) -> None:
    # Before: "every tool message needs a tool_call_id" with param null, also for a legacy role "function" message.
    agent = await server.create_agent()
    client = server.client()
    legacy: Any = {"role": "function", "name": "get_weather", "content": "sunny"}
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=agent["id"], messages=[ASK, CALL, legacy])
    body = err.value.body
    assert isinstance(body, dict) and body["param"] == "messages.2.tool_call_id" and "role 'tool'" in body["message"]
    bare: Any = {"role": "tool", "content": "sunny"}
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=agent["id"], messages=[ASK, CALL, bare])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "messages.2.tool_call_id"
    assert server.fake.requests == []
