"""A web page on an allowed origin can send an ``Idempotency-Key`` and read what docs/protocol.md tells a client to
read (``Idempotent-Replayed``, ``Retry-After``, ``X-Request-Id``): a real CORS preflight and the requests after it,
over HTTP, as a browser sends them. Other origins still get nothing (403, no CORS headers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.session.conftest import VoiceServer, start_voice_server

APP = "https://app.example.com"
EVIL = "https://evil.example"


def listed(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


async def call(server: VoiceServer, method: str, path: str, headers: dict[str, str], **kw: Any
               ) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, server.url + path, headers=headers, **kw) as r:
        body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
        return r.status, body, r.headers


async def test_an_allowed_origin_may_send_a_key_and_read_the_replay_header(tmp_path: Path,
                                                                           fake_openai: FakeOpenAIServer) -> None:
    server = await start_voice_server(tmp_path, fake_openai, allowed_origins=[APP])
    try:
        status, agent, _ = await call(server, "POST", "/v1/agents", {"Origin": APP}, json={"name": "ada"})
        assert status == 201
        path = f"/v1/agents/{agent['id']}/messages/import"
        preflight = {"Origin": APP, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type,idempotency-key,x-request-id"}
        status, _, headers = await call(server, "OPTIONS", path, preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == APP
        assert {"content-type", "idempotency-key", "x-request-id"} <= listed(headers["Access-Control-Allow-Headers"])
        assert "post" in listed(headers["Access-Control-Allow-Methods"])
        body = {"messages": [{"role": "user", "content": "the ferry leaves at ten", "said_at": 1_700_000_000}],
                "archive": False}
        sent = {"Origin": APP, "Idempotency-Key": "page-1"}
        status, first, headers = await call(server, "POST", path, sent, json=body)
        assert status == 202 and "Idempotent-Replayed" not in headers
        expose = listed(headers["Access-Control-Expose-Headers"])
        assert {"idempotent-replayed", "retry-after", "x-request-id"} <= expose
        status, again, headers = await call(server, "POST", path, sent, json=body)
        assert (status, again, headers["Idempotent-Replayed"]) == (202, first, "true")
        assert "idempotent-replayed" in listed(headers["Access-Control-Expose-Headers"])
        assert headers["Access-Control-Allow-Origin"] == APP
        # an error response is readable too (a 409 of a reused key)
        status, error, headers = await call(server, "POST", path, sent, json={**body, "archive": True})
        assert (status, error["error"]["code"]) == (409, "idempotency_key_reused")
        assert "retry-after" in listed(headers["Access-Control-Expose-Headers"])
        # another origin: refused, and told nothing
        status, _, headers = await call(server, "OPTIONS", path, {**preflight, "Origin": EVIL})
        assert status == 403
        assert "Access-Control-Allow-Origin" not in headers and "Access-Control-Expose-Headers" not in headers
        status, _, headers = await call(server, "POST", path, {**sent, "Origin": EVIL}, json=body)
        assert status == 403 and "Access-Control-Expose-Headers" not in headers
        # a program (no Origin) gets no CORS headers at all
        status, _, headers = await call(server, "POST", path, {"Idempotency-Key": "page-1"}, json=body)
        assert status == 202 and "Access-Control-Expose-Headers" not in headers
    finally:
        await server.runner.cleanup()


async def test_the_servers_own_page_needs_no_cors_headers(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    server = await start_voice_server(tmp_path, fake_openai)
    try:
        own = server.url  # same origin as the Host it is sent to
        status, _, headers = await call(server, "GET", "/v1/agents", {"Origin": own})
        assert status == 200
        assert "Access-Control-Allow-Origin" not in headers and "Access-Control-Expose-Headers" not in headers
    finally:
        await server.runner.cleanup()
