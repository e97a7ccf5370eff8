"""Realtime client tools a provider would refuse are an `error` event, and a client tool never repeats one of the
server's own in a provider request (found by QA from outside, session 5; the chat-completions side and the story:
tests/integration/agent/test_client_tool_names.py)."""

from __future__ import annotations

from tests.fakes.openai_server import Text
from tests.fakes.realtime_client import RealtimeClient
from tests.integration.session.conftest import VoiceServer


async def test_realtime_tools_are_checked_and_never_repeat_ours(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "tools": [weather, weather]})
        error = await rt.wait_for("error")
        assert error.error.param == "session.tools.1.name" and "given twice" in error.error.message
        # search_memory is the server's own: the provider still gets it once, and a call of it runs ours
        await rt.conn.session.update(session={"type": "realtime", "tools": [
            weather, {"type": "function", "name": "search_memory", "parameters": {"type": "object"}}]})
        await rt.wait_for("session.updated")
        vs.fake.script([Text("Hello.")])
        await rt.conn.conversation.item.create(item={"type": "message", "role": "user",
                                                     "content": [{"type": "input_text", "text": "Hi there."}]})
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
    names = [t["function"]["name"] for t in vs.fake.requests[-1]["tools"]]
    assert sorted(names) == ["get_weather", "search_memory"]


async def test_an_output_for_a_call_never_made_is_an_error(vs: VoiceServer) -> None:
    """It was accepted, and the model was given a result of nothing (an Anthropic agent got no message at all and
    the response failed with a spoken apology); OpenAI answers it with this error."""
    agent = await vs.create_agent()
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.conversation.item.create(item={"type": "function_call_output", "call_id": "call_never",
                                                     "output": "{}"})
        error = await rt.wait_for("error")
        assert error.error.param == "item.call_id" and "call_never" in error.error.message
        vs.fake.script([Text("Hello.")])
        await rt.conn.conversation.item.create(item={"type": "message", "role": "user",
                                                     "content": [{"type": "input_text", "text": "Hi there."}]})
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
    assert not [m for m in vs.fake.requests[-1]["messages"] if m["role"] == "tool"]


async def test_tool_choice_reaches_the_model(vs: VoiceServer) -> None:
    """session.tool_choice and response.tool_choice were reported as unsupported and dropped (QA, session 5)."""
    agent = await vs.create_agent()
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        await rt.conn.session.update(session={"type": "realtime", "tools": [weather], "tool_choice": {
            "type": "function", "name": "get_weather"}})
        updated = await rt.wait_for("session.updated")
        assert updated.session.tool_choice.name == "get_weather"  # type: ignore[union-attr]
        vs.fake.script([Text("One.")], [Text("Two.")], [Text("Three.")])
        for choice in (None, "none", {"type": "function", "name": "no_such_tool"}):
            await rt.conn.conversation.item.create(item={"type": "message", "role": "user",
                                                         "content": [{"type": "input_text", "text": "Hi."}]})
            await rt.conn.response.create(response={} if choice is None else {"tool_choice": choice})  # type: ignore[typeddict-item]
            done = await rt.wait_for("response.done")
            assert done.response.status == "completed"
        await rt.conn.session.update(session={"type": "realtime", "tool_choice": "sometimes"})  # type: ignore[typeddict-item]
        error = await rt.wait_for("error")
        assert error.error.param.startswith("session.tool_choice")
    sent = [r.get("tool_choice") for r in vs.fake.requests]
    # the session's choice, the response's, and a name no tool has: the model chooses
    assert sent == [{"type": "function", "function": {"name": "get_weather"}}, "none", "auto"]
