"""Text holding the NUL character (U+0000) is a typed 400 at the door on every route and wire, before anything is
stored: PostgreSQL cannot store it (it was a 500 ``storage_error`` there after the request was taken)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.agent.conftest import Running


async def test_a_chat_message_with_nul_is_a_400_naming_the_field_and_nothing_is_stored(server: Running) -> None:
    agent = await server.create_agent()
    body = {"model": agent["id"], "stream": True,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi\u0000there"}]}
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json=body) as r:
        assert r.status == 400, await r.text()
        error = (await r.json())["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "messages.1.content")
    assert "U+0000" in error["message"]
    assert await server.store.list_messages(agent["id"]) == []
    assert server.fake.requests == []


async def test_an_escaped_backslash_u0000_is_text_not_nul(server: Running) -> None:
    """The six characters "\\u0000" said as text (a developer asking about escapes) are no NUL."""
    agent = await server.create_agent()
    body = {"model": agent["id"], "messages": [{"role": "user", "content": "what does \\u0000 mean in JSON?"}]}
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json=body) as r:
        assert r.status == 200, await r.text()
    assert (await server.store.list_messages(agent["id"]))[0].content == "what does \\u0000 mean in JSON?"


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/v1/agents/{a}/archival", {"text": "door code 4471\u0000"}, "text"),
    ("/v1/agents/{a}/archival/batch", {"passages": [{"text": "ok"}, {"text": "x\u0000"}]}, "passages.1.text"),
])
async def test_rest_text_with_nul_is_a_400_and_nothing_is_stored(server: Running, path: str,
                                                                 body: dict[str, object], param: str) -> None:
    agent = await server.create_agent()
    async with aiohttp.ClientSession() as s:
        async with s.post(server.url + path.format(a=agent["id"]), json=body) as r:
            assert r.status == 400, await r.text()
            assert (await r.json())["error"]["param"] == param
        async with s.get(f"{server.url}/v1/agents/{agent['id']}/archival") as r:
            assert (await r.json())["data"] == []


async def test_a_voice_text_frame_with_nul_is_refused_and_the_session_goes_on(server: Running) -> None:
    agent = await server.create_agent()
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{server.url.replace('http', 'ws')}/v1/voice"
                                                          f"?agent={agent['id']}", protocols=("voice-letta.v1",)) as ws:
        assert (await ws.receive_json())["type"] == "session.created"
        await ws.send_json({"type": "input_text", "text": "hi\u0000", "event_id": "e1"})
        error = await ws.receive_json()
        assert (error["type"], error["code"], error["event_id"]) == ("error", "invalid_event", "e1")
        await ws.send_json({"type": "ping", "event_id": "p1"})
        assert await ws.receive_json() == {"type": "pong", "event_id": "p1"}
    assert await server.store.list_messages(agent["id"]) == []
