"""JSON bodies in the encoding the client's tool wrote them in (real server, real HTTP). Windows PowerShell 5.1 sends
a string ``-Body`` as ISO-8859-1 unless the Content-Type names a charset, and its ``>`` / ``Out-File`` write UTF-16
with a byte order mark, which ``curl --data-binary @body.json`` sends as it is: each was a 400 about "invalid unicode
code point" or "expected value at line 1 column 1" of a body the user wrote correctly."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running


async def post(server: Running, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(server.url + path, data=body,
                                                    headers={"Content-Type": content_type}) as r:
        return r.status, await r.json(content_type=None)


async def archived(server: Running, agent_id: str) -> list[str]:
    status, body = await server.request("GET", f"/v1/agents/{agent_id}/archival")
    assert status == 200, body
    return [p["text"] for p in body["data"]]


async def test_a_body_in_the_charset_its_content_type_names_is_read_in_it(server: Running) -> None:
    agent = await server.create_agent()
    path = f"/v1/agents/{agent['id']}/archival"
    text = "Café Luna on Friday, “the usual table”"
    status, body = await post(server, path, json.dumps({"text": text}, ensure_ascii=False).encode("cp1252"),
                              "application/json; charset=windows-1252")
    assert status == 201 and body["text"] == text, body  # before: 400 invalid unicode code point
    status, body = await post(server, path, '{"text": "Zoë’s piano: Thursdays"}'.encode("cp1252").replace(
        "’".encode("cp1252"), b"'"), "application/json; charset=ISO-8859-1")
    assert status == 201 and body["text"] == "Zoë's piano: Thursdays", body
    status, body = await post(server, path, b'{"text": "x"}', "application/json; charset=klingon")
    assert status == 400 and body["error"]["param"] == "Content-Type" and "klingon" in body["error"]["message"]
    status, body = await post(server, path, b'{"text": "x"}', "application/json; charset=zlib")  # no text encoding
    assert status == 400 and body["error"]["param"] == "Content-Type", body
    assert await archived(server, agent["id"]) == [text, "Zoë's piano: Thursdays"]


async def test_a_body_in_utf16_with_a_byte_order_mark_is_read(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Got it.")])
    chat = json.dumps({"model": agent["id"], "messages": [{"role": "user", "content": "Grüße aus Köln"}]},
                      ensure_ascii=False)
    status, body = await post(server, "/v1/chat/completions", chat.encode("utf-16"), "application/json")
    assert status == 200 and body["choices"][0]["message"]["content"] == "Got it.", body  # before: 400
    said = [m["content"] for m in server.fake.requests[-1]["messages"] if m["role"] == "user"]
    assert said[-1].endswith("Grüße aus Köln"), said
    for codec in ("utf-16-be", "utf-32"):
        raw = ("\ufeff" if codec == "utf-16-be" else "") + '{"text": "Flug LH 1234 am 3. März"}'
        status, body = await post(server, f"/v1/agents/{agent['id']}/archival", raw.encode(codec), "application/json")
        assert status == 201 and body["text"] == "Flug LH 1234 am 3. März", (codec, body)


async def test_a_body_that_is_not_utf8_and_names_no_charset_is_told_so(server: Running) -> None:
    agent = await server.create_agent()
    latin1 = '{"text": "Café Luna"}'.encode("latin-1")  # what Invoke-RestMethod -Body sends from PowerShell 5.1
    status, body = await post(server, f"/v1/agents/{agent['id']}/archival", latin1, "application/json")
    assert status == 400 and body["error"]["code"] == "invalid_request", body
    message = body["error"]["message"]
    assert "not UTF-8" in message and "charset" in message, message  # before: "invalid unicode code point …"
    assert await archived(server, agent["id"]) == []
