"""Header bytes that are no UTF-8 (a latin-1 "é" typed into a key field, a client that sends raw bytes) in the
headers the server reads, through a real server with an API key, over a raw socket (HTTP clients refuse to send
them). Found from outside (QA session 9): ``Authorization: Bearer s\\xe9krit`` was a 500 ``internal_error`` on every
route (the key comparison encoded the header), and ``Idempotency-Key: cl\\xe9`` a 500 ``storage_error`` of the
chat turn; both are typed 4xx now, and the server goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.agent.conftest import Running, openai_llm, serving

KEY = "sekrit-key-123"


@pytest.fixture
async def keyed(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=KEY) as running:
        yield running


async def raw_request(url: str, method: str, path: str, headers: list[tuple[bytes, bytes]],
                      body: bytes = b"") -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n".encode()
    head += f"Content-Length: {len(body)}\r\n".encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    writer.write(head + b"\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("bearer", [b"Bearer s\xe9krit", b"Bearer vlt1.\xe9.x", b"Bearer \xff\xfe", b"\xe9"])
async def test_an_authorization_header_of_other_bytes_is_a_401(keyed: Running, bearer: bytes) -> None:
    for path in ("/v1/agents", "/v1/voice"):
        status, body = await raw_request(keyed.url, "GET", path, [(b"Authorization", bearer)])
        assert status == 401 and body["error"]["code"] == "invalid_api_key", body
    status, body = await raw_request(keyed.url, "GET", "/v1/agents", [(b"Authorization", f"Bearer {KEY}".encode())])
    assert status == 200 and isinstance(body["data"], list)


async def test_an_idempotency_key_of_other_bytes_is_a_400_and_nothing_is_stored(keyed: Running) -> None:
    agent = await keyed.create_agent(llm=openai_llm(keyed.fake))
    request = json.dumps({"model": agent["id"], "messages": [{"role": "user", "content": "hi"}]}).encode()
    auth = (b"Authorization", f"Bearer {KEY}".encode())
    for key in (b"cl\xe9", b"a\tb"):
        status, body = await raw_request(keyed.url, "POST", "/v1/chat/completions", [
            auth, (b"Content-Type", b"application/json"), (b"Idempotency-Key", key)], request)
        assert status == 400 and body["error"]["param"] == "Idempotency-Key", body
    assert await keyed.store.list_messages(agent["id"]) == []
    keyed.fake.script([Text("Hello!")])
    status, body = await raw_request(keyed.url, "POST", "/v1/chat/completions", [
        auth, (b"Content-Type", b"application/json"), (b"Idempotency-Key", "clé-1".encode())], request)
    assert status == 200 and body["choices"][0]["message"]["content"] == "Hello!", body
