"""Text cut inside an emoji: JavaScript strings are UTF-16, so ``text.slice(0, n)`` can keep half of a surrogate
pair, and ``JSON.stringify`` (like Python's ``json.dumps``) writes that half as the escape ``\\ud83c``. The whole
request was refused ("Invalid JSON: unexpected end of hex escape"; a voice frame: invalid_event) and the user's
words were lost. Now the half character becomes U+FFFD and the rest is kept (real server, real clients)."""

from __future__ import annotations

import json

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running

HALF = "\ud83c"  # the first half of 🎉 (U+1F389)


async def test_rest_and_chat_completions_keep_text_with_half_an_emoji(server: Running) -> None:
    agent = await server.create_agent(name="half")
    status, body = await server.request(
        "POST", f"/v1/agents/{agent['id']}/archival", data=b'{"text": "party at 8 \\ud83c"}',
        headers={"Content-Type": "application/json"})
    assert status == 201 and body["text"] == "party at 8 \ufffd", body
    server.fake.script([Text("Sounds fun.")])
    status, done = await server.request(  # as a browser's fetch sends it
        "POST", "/v1/chat/completions", data=json.dumps(
            {"model": agent["id"], "messages": [{"role": "user", "content": f"party tonight {HALF}"}]}),
        headers={"Content-Type": "application/json"})
    assert status == 200 and done["choices"][0]["message"]["content"] == "Sounds fun.", done
    stored = [m.content for m in await server.store.list_messages(agent["id"]) if m.role == "user"]
    assert stored == ["party tonight \ufffd"]
    status, body = await server.request(  # a valid pair stays the emoji; a NUL is still refused
        "POST", f"/v1/agents/{agent['id']}/archival", data=b'{"text": "\\ud83c\\udf89 \\u0000 \\udf89"}',
        headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"]["param"] == "text", body


async def test_a_voice_frame_with_half_an_emoji_is_a_turn(server: Running) -> None:
    agent = await server.create_agent(name="half-voice")
    async with await NativeClient.open(server.url, agent=agent["id"]) as c:
        await c.wait_for("session.created")
        server.fake.script([Text("Nice.")])
        await c.send(type="input_text", text=f"\U0001f389 we won {HALF}")
        final = await c.wait_for("transcript.final")
        assert final["text"] == "\U0001f389 we won \ufffd", final
        await c.wait_for("response.done")


async def test_a_deeply_nested_frame_or_body_with_half_an_emoji_is_a_typed_error(server: Running) -> None:
    # ~950 levels pass json.loads; the first walk that replaced half characters recursed per level and raised
    # RecursionError (tests/unit/wire/test_half_characters.py); over the wire it is a typed error either way.
    deep = '{"a":' * 950 + '"\\ud83c"' + "}" * 950
    agent = await server.create_agent(name="deep")
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/archival", data=deep.encode(),
                                        headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"]["type"] == "invalid_request_error", body
    async with await NativeClient.open(server.url, agent=agent["id"]) as c:
        await c.wait_for("session.created")
        await c.send_raw(deep)
        assert (await c.wait_for("error"))["code"] in ("invalid_event", "invalid_json")
        await c.send(type="ping", event_id="p1")  # the session goes on
        assert (await c.wait_for("pong"))["event_id"] == "p1"
