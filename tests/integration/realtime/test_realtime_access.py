"""``/v1/realtime`` is a VOICE route: the API key, or a voice token for the agent (header, query or subprotocol)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.realtime_client import RealtimeClient
from tests.integration.session.conftest import VoiceServer, start_voice_server

KEY = "s3cret-key"


@pytest.fixture
async def keyed(tmp_path: Path, fake_openai: FakeOpenAIServer) -> Any:
    server = await start_voice_server(tmp_path, fake_openai, api_key=KEY)
    yield server
    await server.runner.cleanup()


async def create_agent(server: VoiceServer, name: str) -> str:
    async with aiohttp.ClientSession() as s, s.post(server.url + "/v1/agents", headers={
            "Authorization": f"Bearer {KEY}"}, json={"name": name, "llm": {
            "provider": "openai", "model": "fake-model", "base_url": server.fake.base_url,
            "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0}}) as r:
        assert r.status == 201
        return str((await r.json())["id"])


async def mint(server: VoiceServer, agent: str, scopes: list[str] | None = None) -> str:
    async with aiohttp.ClientSession() as s, s.post(server.url + "/v1/tokens", headers={
            "Authorization": f"Bearer {KEY}"}, json={"agent": agent, "scopes": scopes or ["voice"]}) as r:
        assert r.status == 200
        return str((await r.json())["token"])


def ws_url(server: VoiceServer, query: str) -> str:
    return server.url.replace("http://", "ws://") + "/v1/realtime?" + query


async def first_event(url: str, **kw: Any) -> tuple[dict[str, Any], str | None]:
    async with connect(url, **kw) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 5)), ws.subprotocol


async def test_no_key_no_session(keyed: VoiceServer) -> None:
    agent = await create_agent(keyed, "a")
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(ws_url(keyed, f"model={agent}"))
        assert err.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(ws_url(keyed, f"model={agent}"), headers={"Authorization": "Bearer wrong"})
        assert err.value.status == 401


async def test_the_api_key_as_bearer_like_the_sdk_sends_it(keyed: VoiceServer) -> None:
    agent = await create_agent(keyed, "a")
    async with RealtimeClient.open(keyed.url, model="a", api_key=KEY) as rt:  # by name
        created = await rt.wait_for("session.created")
        assert created.session.model == "a"
    del agent


async def test_a_voice_token_in_every_place_a_client_can_put_it(keyed: VoiceServer) -> None:
    agent = await create_agent(keyed, "a")
    token = await mint(keyed, agent)
    # the SDK with the token as its api_key, no model: the token names the agent
    async with RealtimeClient.open(keyed.url, api_key=token) as rt:
        assert (await rt.wait_for("session.created")).session.model == "a"
    # a browser: OpenAI's subprotocols, with our token where the OpenAI key would go
    event, proto = await first_event(ws_url(keyed, f"model={agent}"),
                                     subprotocols=["realtime", f"openai-insecure-api-key.{token}"])  # type: ignore[list-item]
    assert event["type"] == "session.created" and proto == "realtime"
    event, _ = await first_event(ws_url(keyed, f"model={agent}&token={token}"))
    assert event["type"] == "session.created"


async def test_a_token_opens_only_its_own_agent_and_only_with_voice_scope(keyed: VoiceServer) -> None:
    agent_a = await create_agent(keyed, "a")
    agent_b = await create_agent(keyed, "b")
    token = await mint(keyed, agent_a)
    event, _ = await first_event(ws_url(keyed, f"model={agent_b}&token={token}"))
    assert event["type"] == "error" and event["error"]["code"] == "agent_not_allowed"
    read_token = await mint(keyed, agent_a, ["read"])
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(ws_url(keyed, f"model={agent_a}&token={read_token}"))
        assert err.value.status == 403
