"""Text that is only whitespace, through the real server to a model reached by the Anthropic protocol. The Messages
API refuses a message whose text blocks are all whitespace ("messages: text content blocks must contain
non-whitespace text"); such a message stored in the agent's history (a user who typed a space, a framework sending
" ", an import, a model that answered "\\n") made every later turn of the agent fail with a spoken apology until it
left the context window (found from outside, QA session 9; the same wedge as home-assistant/core#175637)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running, anthropic_llm


async def say_on_the_voice_socket(server: Running, agent_id: str, text: str) -> dict[str, Any]:
    """One typed turn on the native WebSocket (text out): its ``response.done``."""
    url = server.url.replace("http", "ws", 1) + f"/v1/voice?agent={agent_id}"
    async with aiohttp.ClientSession(headers=server.headers()) as s, s.ws_connect(
            url, protocols=["voice-letta.v1"]) as ws:
        await ws.send_json({"type": "session.update", "session": {"turn_mode": "text", "output_modalities": ["text"]}})
        await ws.send_json({"type": "input_text", "text": text})
        async for msg in ws:
            event = json.loads(msg.data)
            assert event["type"] != "error", event
            if event["type"] == "response.done":
                return dict(event)
    raise AssertionError("the socket closed before response.done")


async def test_a_blank_message_never_wedges_an_anthropic_agent(server: Running) -> None:
    claude = FakeAnthropicServer()
    await claude.start()
    try:
        # no hand-off when the socket closes: the sleeptime run would take the scripted replies meant for the chat
        # (it did in the clean-clone CI at load, session 17: "OK." for "Yes, I am here.")
        agent = await server.create_agent(llm=anthropic_llm(claude, max_retries=0), handoff_on_session_end=False)
        client = server.client()
        claude.script([Text("Did you mean to say something?")], [Text("It is half past four.")],
                      [Text("\n")], [Text("Yes, I am here.")])
        done = await say_on_the_voice_socket(server, agent["id"], "  \t ")  # 1-4,000 characters: a turn
        assert done["status"] == "completed", done
        second = await client.chat.completions.create(model=agent["id"], messages=[
            {"role": "user", "content": "What time is it?"}])
        assert second.choices[0].message.content == "It is half past four."
        third = await client.chat.completions.create(model=agent["id"], messages=[
            {"role": "user", "content": "hello?"}])
        fourth = await client.chat.completions.create(model=agent["id"], messages=[
            {"role": "user", "content": "hello?"}, {"role": "assistant", "content": third.choices[0].message.content},
            {"role": "user", "content": "Are you there?"}])
        assert fourth.choices[0].message.content == "Yes, I am here."  # a blank model reply is no wedge either
        assert len(claude.requests) == 4
        for request in claude.requests:
            for m in request["messages"]:
                assert any(b.get("text", "x").strip() for b in m["content"]), m
        rows = [r for r in await server.store.list_messages(agent["id"]) if r.role == "user"]
        assert rows[0].content == "  \t "  # what was said is stored as said
    finally:
        await claude.aclose()


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/v1/agents/{a}/archival", {"text": "   "}, "text"),
    ("/v1/agents/{a}/archival", {"text": "\n\t\r\n", "synopsis": "a note"}, "text"),
    ("/v1/agents/{a}/archival", {"text": "\u3000\u00a0\u200b\ufeff"}, "text"),  # ideographic/no-break space, ZWSP, BOM
    ("/v1/agents/{a}/archival/batch", {"passages": [{"text": "the door code is 4471"}, {"text": " \n "}]},
     "passages.1.text"),
])
async def test_a_passage_that_says_nothing_is_a_400_naming_it_and_nothing_is_stored(
        server: Running, path: str, body: dict[str, object], param: str) -> None:
    # Before: stored (201), ranked and listed like any passage.
    agent = await server.create_agent()
    async with aiohttp.ClientSession(headers=server.headers()) as s:
        async with s.post(server.url + path.format(a=agent["id"]), json=body) as r:
            assert r.status == 400, await r.text()
            error = (await r.json())["error"]
            assert (error["code"], error["param"]) == ("invalid_request", param)
            assert "whitespace" in error["message"]
        async with s.get(f"{server.url}/v1/agents/{agent['id']}/archival") as r:
            assert (await r.json())["data"] == []
        async with s.post(f"{server.url}/v1/agents/{agent['id']}/archival",
                          json={"text": "  padded but real  \u200b"}) as r:  # words with blanks around are fine
            assert r.status == 201, await r.text()
