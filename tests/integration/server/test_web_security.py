"""The web surface refuses what a web page, a rebound DNS name or a leaked token must not do (issue 10 Part 1).

Each attack is sent as a browser (or Twilio, or curl) would send it, to a real server on 127.0.0.1:0 with a
real SQLite file. Before this, every one of them was served.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.session.conftest import VoiceServer, start_voice_server
from voice_letta.server.auth import issue_token

KEY = "s3cret-key"
EVIL = "https://evil.example"
JSON_HEADERS = {"Content-Type": "application/json"}


async def call(server: VoiceServer, method: str, path: str, *, key: str | None = None,
               headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    async with aiohttp.ClientSession() as s, s.request(method, server.url + path, headers=all_headers, **kw) as r:
        body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
        return r.status, body, dict(r.headers)


def code_of(body: Any) -> str:
    assert isinstance(body, dict), body
    return str(body["error"]["code"])


@pytest.fixture
async def open_server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> Any:
    server = await start_voice_server(tmp_path, fake_openai)
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def keyed_server(tmp_path: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    server = await start_voice_server(tmp_path, fake_openai, api_key=KEY)
    yield server
    await server.runner.cleanup()


# --- cross-site requests ---------------------------------------------------------------------------------
async def test_cross_site_no_cors_post_cannot_start_an_mcp_server(open_server: VoiceServer, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
    body = '{"name": "x", "command": ' + str(command).replace("'", '"') + "}"
    # exactly what fetch(url, {mode: "no-cors", method: "POST", body}) sends from another site
    status, resp, _ = await call(open_server, "POST", "/v1/mcp/servers", data=body,
                                 headers={"Origin": EVIL, "Content-Type": "text/plain;charset=UTF-8",
                                          "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert status == 403 and code_of(resp) == "origin_not_allowed"
    assert not marker.exists()
    status, listed, _ = await call(open_server, "GET", "/v1/mcp/servers")
    assert status == 200 and listed["data"] == []


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/agents"), ("POST", "/v1/chat/completions"), ("POST", "/v1/tools"), ("POST", "/v1/tokens"),
    ("PATCH", "/v1/blocks/block-x"), ("DELETE", "/v1/agents/agent-x"), ("GET", "/v1/agents"),
    ("GET", "/metrics"),
])
async def test_every_route_refuses_a_foreign_origin(open_server: VoiceServer, method: str, path: str) -> None:
    status, resp, _ = await call(open_server, method, path, json={}, headers={"Origin": EVIL})
    assert status == 403 and code_of(resp) == "origin_not_allowed"
    status, resp, _ = await call(open_server, method, path, json={}, headers={"Origin": "null"})
    assert status == 403, "sandboxed frames and file:// pages send Origin: null"


async def test_no_cors_get_from_another_site_is_refused_but_navigation_is_not(open_server: VoiceServer) -> None:
    # <img src> / <script src> send no Origin on GET, but do send fetch metadata
    status, resp, _ = await call(open_server, "GET", "/v1/agents",
                                 headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert status == 403 and code_of(resp) == "origin_not_allowed"
    # same-site is not same-origin: a page on 127.0.0.1:3000 is "same-site" with us
    status, _, _ = await call(open_server, "GET", "/v1/agents",
                              headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"})
    assert status == 403
    status, _, _ = await call(open_server, "GET", "/", headers={"Sec-Fetch-Site": "cross-site",
                                                                 "Sec-Fetch-Mode": "navigate"})
    assert status == 200  # a link to the page from elsewhere still opens it


async def test_the_page_itself_may_call_the_server(open_server: VoiceServer) -> None:
    own = open_server.url  # http://127.0.0.1:<port>
    status, _, _ = await call(open_server, "GET", "/v1/agents",
                              headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert status == 200
    await open_server.create_agent(name="page-agent")
    status, created, _ = await call(open_server, "POST", "/v1/agents", json={"name": "made-by-page"},
                                    headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert status == 201, created
    # same host name but another port is another origin
    other = own.rsplit(":", 1)[0] + ":1"
    status, _, _ = await call(open_server, "GET", "/v1/agents", headers={"Origin": other})
    assert status == 403


async def test_mutating_routes_take_only_json_bodies(open_server: VoiceServer) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        status, resp, _ = await call(open_server, "POST", "/v1/agents", data=b'{"name": "x"}',
                                     headers={"Content-Type": content_type})
        assert status == 415 and code_of(resp) == "unsupported_media_type", content_type
    status, _, _ = await call(open_server, "POST", "/v1/agents", data=b'{"name": "x"}',
                              headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 201
    status, agents, _ = await call(open_server, "GET", "/v1/agents")
    assert [a["name"] for a in agents["data"]] == ["x"], "nothing refused was stored"


# --- DNS rebinding -----------------------------------------------------------------------------------------
async def test_a_rebound_host_name_is_not_served(open_server: VoiceServer) -> None:
    for host in ("rebind.evil.example", "rebind.evil.example:8765", "127.0.0.1.evil.example", "localhost.evil",
                 "[::1", "127.0.0.1:99999", "127.0.0.1:²"):
        status, resp, _ = await call(open_server, "GET", "/v1/agents", headers={"Host": host})
        assert status == 421 and code_of(resp) == "host_not_allowed", host
    for host in ("localhost", "LOCALHOST:8765", "127.0.0.1", "[::1]:8765", "localhost."):
        status, _, _ = await call(open_server, "GET", "/v1/agents", headers={"Host": host})
        assert status == 200, host


async def test_allowed_hosts_and_wildcard_binds(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    server = await start_voice_server(tmp_path, fake_openai, host="0.0.0.0",
                                      allowed_hosts=["voice.example.com", ".corp.example"])
    try:
        for host, expected in (("voice.example.com", 200), ("a.b.corp.example", 200), ("corp.example", 200),
                               ("192.168.1.20:8765", 200), ("[fe80::1]", 200),  # IP literals cannot be rebound
                               ("evilcorp.example", 421), ("voice.example.com.evil", 421)):
            status, _, _ = await call(server, "GET", "/health", headers={"Host": host})
            assert status == expected, host
    finally:
        await server.runner.cleanup()


async def test_websocket_upgrades_check_host_and_origin(open_server: VoiceServer) -> None:
    agent = await open_server.create_agent()
    ws_url = open_server.url.replace("http", "ws") + f"/v1/voice?agent={agent}"
    async with aiohttp.ClientSession() as s:
        for headers, status in (({"Origin": EVIL}, 403), ({"Host": "rebind.evil.example"}, 421)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(ws_url, protocols=["voice-letta.v1"], headers=headers)
            assert err.value.status == status
        async with s.ws_connect(ws_url, protocols=["voice-letta.v1"], headers={"Origin": open_server.url}) as ws:
            first = await ws.receive_json(timeout=5)
            assert first["type"] == "session.created"


# --- CORS for configured origins ---------------------------------------------------------------------------
async def test_configured_origin_gets_cors_and_others_do_not(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    app_origin = "https://app.example.com"
    server = await start_voice_server(tmp_path, fake_openai, allowed_origins=[app_origin])
    try:
        preflight = {"Origin": app_origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        status, _, headers = await call(server, "OPTIONS", "/v1/agents", headers=preflight)
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == app_origin
        assert "Authorization" in headers["Access-Control-Allow-Headers"]
        status, _, headers = await call(server, "POST", "/v1/agents", json={"name": "x"},
                                        headers={"Origin": app_origin})
        assert status == 201 and headers["Access-Control-Allow-Origin"] == app_origin
        status, _, headers = await call(server, "OPTIONS", "/v1/agents", headers={**preflight, "Origin": EVIL})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
    finally:
        await server.runner.cleanup()


async def test_page_and_api_responses_carry_security_headers(open_server: VoiceServer) -> None:
    status, _, headers = await call(open_server, "GET", "/")
    assert status == 200
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    _, _, headers = await call(open_server, "GET", "/v1/agents")
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


# --- routes that run code ----------------------------------------------------------------------------------
async def test_code_routes_without_a_key_refuse_even_the_own_page(open_server: VoiceServer, tmp_path: Path) -> None:
    source = "def hello() -> str:\n    'Say hello.'\n    return 'hi'\n"
    same_origin = {"Origin": open_server.url, "Sec-Fetch-Site": "same-origin"}
    status, resp, _ = await call(open_server, "POST", "/v1/tools", headers=same_origin,
                                 json={"source_type": "python", "source": source})
    assert status == 403 and code_of(resp) == "browser_not_allowed"
    status, resp, _ = await call(open_server, "POST", "/v1/mcp/servers", headers=same_origin,
                                 json={"name": "x", "command": ["true"]})
    assert status == 403 and code_of(resp) == "browser_not_allowed"
    # a local program (curl, the CLI) without browser headers may
    status, created, _ = await call(open_server, "POST", "/v1/tools", json={"source_type": "python", "source": source})
    assert status == 201, created


async def test_no_admin_api_turns_code_routes_off(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    server = await start_voice_server(tmp_path, fake_openai, api_key=KEY, admin_api=False)
    try:
        for method, path, body in (("POST", "/v1/tools", {"source_type": "python", "source": "x"}),
                                   ("POST", "/v1/mcp/servers", {"name": "x", "command": ["true"]}),
                                   ("DELETE", "/v1/tools/tool-x", None), ("DELETE", "/v1/mcp/servers/x", None)):
            status, resp, _ = await call(server, method, path, key=KEY, json=body)
            assert status == 403 and code_of(resp) == "admin_api_disabled", path
        status, _, _ = await call(server, "GET", "/v1/agents", key=KEY)
        assert status == 200  # the rest of the API is unchanged
    finally:
        await server.runner.cleanup()


async def test_an_agent_cannot_borrow_the_servers_own_secrets(open_server: VoiceServer) -> None:
    for env in ("VOICE_LETTA_API_KEY", "TWILIO_AUTH_TOKEN", "twilio_auth_token", "VOICE_LETTA_DB"):
        status, resp, _ = await call(open_server, "POST", "/v1/agents", json={
            "name": "thief", "llm": {"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                                     "api_key_env": env}})
        assert status == 400 and "server's own secrets" in resp["error"]["message"], env


# --- scoped tokens -------------------------------------------------------------------------------------------
async def mint(server: VoiceServer, agent: str, *, key: str = KEY, **body: Any) -> tuple[int, Any]:
    status, resp, _ = await call(server, "POST", "/v1/tokens", key=key, json={"agent": agent, **body})
    return status, resp


async def test_a_voice_token_opens_its_agents_session_and_nothing_else(keyed_server: VoiceServer) -> None:
    agent_a = await keyed_server.create_agent(name="a")
    agent_b = await keyed_server.create_agent(name="b")
    status, minted = await mint(keyed_server, "a")  # by name
    assert status == 200 and minted["agent_id"] == agent_a and minted["scopes"] == ["voice"]
    token = minted["token"]
    assert minted["expires_at"] <= time.time() + 61

    client = await NativeClient.open(keyed_server.url, token=token)  # no ?agent=: the token names it
    try:
        await client.send(type="input_text", text="hello")
        await client.wait_for("response.created", timeout_s=5)
        await client.send(type="session.update", session={"agent": agent_b})
        err = await client.wait_for("error", timeout_s=5)
        assert err["code"] in ("agent_not_allowed", "agent_locked")
    finally:
        await client.aclose()
    client = await NativeClient.open(keyed_server.url, agent=agent_b, token=token)
    try:
        err = await client.wait_for("error", timeout_s=5)
        assert err["code"] == "agent_not_allowed"
        await client.send(type="session.update", session={"agent": agent_b})
        await client.wait_for("error", count=2, timeout_s=5)
        assert [e["code"] for e in client.events("error")] == ["agent_not_allowed"] * 2
    finally:
        await client.aclose()

    for method, path in (("GET", "/v1/agents"), ("GET", f"/v1/agents/{agent_a}"), ("POST", "/v1/tokens"),
                         ("POST", "/v1/chat/completions"), ("POST", "/v1/mcp/servers"), ("GET", "/metrics")):
        status, resp, _ = await call(keyed_server, method, path, key=token, json={"agent": agent_a})
        assert status == 403 and code_of(resp) == "token_scope", path
    # query-string tokens are for WebSocket upgrades only
    status, _, _ = await call(keyed_server, "GET", f"/v1/agents/{agent_a}?token={token}")
    assert status == 401


async def test_read_tokens_read_one_agent(keyed_server: VoiceServer) -> None:
    agent_a = await keyed_server.create_agent(name="a")
    agent_b = await keyed_server.create_agent(name="b")
    status, minted = await mint(keyed_server, agent_a, scopes=["read"], ttl_s=600)
    assert status == 200
    token = minted["token"]
    for path in (f"/v1/agents/{agent_a}", f"/v1/agents/{agent_a}/blocks", f"/v1/agents/{agent_a}/messages",
                 f"/v1/agents/{agent_a}/archival", f"/v1/agents/{agent_a}/memory/jobs"):
        status, _, _ = await call(keyed_server, "GET", path, key=token)
        assert status == 200, path
    status, resp, _ = await call(keyed_server, "GET", f"/v1/agents/{agent_b}/messages", key=token)
    assert status == 403 and code_of(resp) == "agent_not_allowed"
    status, resp, _ = await call(keyed_server, "PATCH", f"/v1/agents/{agent_a}/blocks/human", key=token,
                                 json={"value": "x"})
    assert status == 403 and code_of(resp) == "token_scope"
    async with aiohttp.ClientSession() as s:  # a read token does not open voice sessions
        url = keyed_server.url.replace("http", "ws") + f"/v1/voice?agent={agent_a}&token={token}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(url, protocols=["voice-letta.v1"])
        assert err.value.status == 403


async def test_expired_forged_and_old_style_tokens_are_refused(keyed_server: VoiceServer) -> None:
    agent = await keyed_server.create_agent(name="a")
    expired, _ = issue_token(KEY, scopes=("voice",), agent_id=agent, ttl_s=60, now=time.time() - 120)
    other_key, _ = issue_token("another-server-key", scopes=("voice",), agent_id=agent)
    good, _ = issue_token(KEY, scopes=("voice",), agent_id=agent)
    head, _payload, sig = good.split(".")
    widened, _ = issue_token(KEY, scopes=("voice", "read"), agent_id=agent)
    tampered = f"{head}.{widened.split('.')[1]}.{sig}"  # claims of another token, signature of this one
    async with aiohttp.ClientSession() as s:
        for token in (expired, other_key, tampered, "vlt.9999999999.abc.def", "vlt1.e30.AAAA", "x" * 5000):
            url = keyed_server.url.replace("http", "ws") + f"/v1/voice?agent={agent}&token={token}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(url, protocols=["voice-letta.v1"])
            assert err.value.status == 401, token[:40]
        url = keyed_server.url.replace("http", "ws") + "/v1/voice"
        async with s.ws_connect(url, protocols=["voice-letta.v1", f"token.{good}"]) as ws:  # browser style
            assert (await ws.receive_json(timeout=5))["type"] == "session.created"


async def test_minting_needs_the_key_and_a_known_agent(keyed_server: VoiceServer) -> None:
    agent = await keyed_server.create_agent(name="a")
    status, resp = await mint(keyed_server, agent, key="wrong")
    assert status == 401
    status, resp = await mint(keyed_server, "nobody")
    assert status == 404 and code_of(resp) == "agent_not_found"
    for bad in ({"scopes": ["admin"]}, {"scopes": []}, {"ttl_s": 0}, {"ttl_s": 10**6}, {"extra": 1}):
        status, resp = await mint(keyed_server, agent, **bad)
        assert status == 400, bad
    status, resp, _ = await call(keyed_server, "POST", "/v1/tokens", key=KEY, json={})
    assert status == 400  # a token always names its agent


# --- Twilio -------------------------------------------------------------------------------------------------
async def test_twilio_bridge_is_off_with_an_api_key_and_no_twilio_token(keyed_server: VoiceServer) -> None:
    agent = await keyed_server.create_agent(name="phone")
    status, resp, _ = await call(keyed_server, "POST", f"/twilio/voice?agent={agent}",
                                 data={"CallSid": "CA1", "From": "+15550100"})
    assert status == 403 and code_of(resp) == "twilio_disabled"
    assert agent not in str(resp)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(keyed_server.url.replace("http", "ws") + "/twilio/stream")
        assert err.value.status == 403


# --- found by driving the server from outside (qa) ---------------------------------------------------------
NAVIGATION = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
              "Sec-Fetch-User": "?1"}


async def test_another_site_cannot_navigate_to_an_api_route(open_server: VoiceServer,
                                                           fake_openai: FakeOpenAIServer) -> None:
    """A link (or ``location.href``) on any web site is a top-level navigation, which carries no Origin. It was
    served on every GET route, and ``GET /v1/providers/openai/models?base_url=…`` makes the server send the
    provider key from its environment to that URL: a page could send the user's OpenAI key anywhere."""
    path = f"/v1/providers/vllm/models?base_url={fake_openai.base_url}"  # the test server has no OpenAI key
    before = len(fake_openai.model_lists)
    status, body, _ = await call(open_server, "GET", path, headers=NAVIGATION)
    assert status == 403 and code_of(body) == "origin_not_allowed"
    assert len(fake_openai.model_lists) == before  # the server never called out
    for route in ("/v1/agents", "/metrics", "/v1/no-such-route"):
        status, body, _ = await call(open_server, "GET", route, headers={**NAVIGATION, "Sec-Fetch-Site": "same-site"})
        assert status == 403, route
    # the page itself may still be linked to, and the address bar (Sec-Fetch-Site: none) reaches everything
    for route in ("/", "/health"):
        status, _, _ = await call(open_server, "GET", route, headers=NAVIGATION)
        assert status == 200, route
    status, _, _ = await call(open_server, "GET", path, headers={**NAVIGATION, "Sec-Fetch-Site": "none"})
    assert status == 200 and len(fake_openai.model_lists) == before + 1


async def test_a_wrong_method_is_a_client_error_that_names_the_allowed_ones(open_server: VoiceServer) -> None:
    status, body, headers = await call(open_server, "TRACE", "/health")
    assert status == 405 and body["error"]["type"] == "invalid_request_error", body
    assert "GET" in headers.get("Allow", "")
