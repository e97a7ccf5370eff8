"""Property-based fuzzing of REST bodies and query strings against a real server: no 5xx, typed JSON errors.

The server runs on 127.0.0.1:0 in its own thread and event loop (a real SQLite file; the agent's provider is a
closed port, so a valid chat request ends in an in-band provider error). Hypothesis drives it over real HTTP
with stdlib ``http.client``. MCP servers are left out: a valid random body would start a random command.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app

FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@dataclass
class Live:
    port: int
    agent_id: str
    block_id: str

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type", "")
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "voice.db"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        cfg = ServerConfig(db_path=db, api_key=None, enable_sandbox=False)
        registry = ProviderRegistry(env={"FAKE_KEY": "x"}, retry_base_delay_s=0.01, retry_max_delay_s=0.02)
        runner = web.AppRunner(create_app(cfg, Overrides(models=registry)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"], state["port"] = runner, runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    live = Live(state["port"], "", "")
    status, body, _ = live.request("POST", "/v1/agents", json.dumps({
        "name": "fuzz", "llm": {"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                                "api_key_env": "FAKE_KEY", "max_retries": 0, "timeout_s": 2}}).encode(),
        {"Content-Type": "application/json"})
    assert status == 201, body
    agent = json.loads(body)
    live.agent_id, live.block_id = agent["id"], agent["blocks"][0]["id"]
    yield live
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**66), max_value=2**66)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)
FIELDS = ("name", "system", "blocks", "label", "value", "limit", "llm", "provider", "model", "base_url",
          "api_key_env", "buffer", "max_messages", "min_messages", "max_context_tokens", "messages", "role",
          "content", "stream", "tools", "tool_choice", "text", "start_at", "end_at", "synopsis", "expected_version",
          "scopes", "agent", "ttl_s", "source_type", "source", "parameters", "options", "dim", "embedding",
          "max_tool_rounds", "turn_budget_s", "read_only", "description", "stream_options", "temperature",
          "fallback", "tool_ids", "sleeptime_llm", "first_token_timeout_s", "n", "logprobs", "max_tokens")
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values | st.lists(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4), max_size=3), max_size=6)
odd = st.sampled_from(["²", "١٢", "-5", "--5", "1e3", "0", "-1", "nan", "inf", "9" * 40, "", " 3", "true"])
query_values = odd | st.text(max_size=20)

BODY_ROUTES = ("POST /v1/agents", "PATCH /v1/agents/{agent}/blocks/human", "PATCH /v1/blocks/{block}",
               "POST /v1/chat/completions", "POST /v1/tokens", "POST /v1/agents/{agent}/archival",
               "PUT /v1/agents/{agent}/embedding", "POST /v1/agents/{agent}/archival/reembed", "POST /v1/tools",
               "PATCH /v1/agents/{agent}")
QUERY_ROUTES = {
    "/v1/agents/{agent}/messages": ("limit", "after_seq", "in_context"),
    "/v1/agents/{agent}/archival": ("limit", "offset"),
    "/v1/agents/{agent}/archival/search": ("query", "limit", "start_at", "end_at"),
    "/v1/agents/{agent}/memory/jobs": ("limit",),
    "/v1/agents/{agent}/turns": ("limit", "status"),
}


def check(status: int, body: bytes, content_type: str, what: str) -> None:
    assert status < 500, f"{what}: {status} {body[:300]!r}"
    if status >= 400:
        assert content_type.startswith("application/json"), f"{what}: {content_type} {body[:200]!r}"
        assert json.loads(body)["error"]["code"], what


def fill(live: Live, template: str) -> str:
    return template.replace("{agent}", live.agent_id).replace("{block}", live.block_id)


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), body=bodies | json_values)
def test_rest_bodies_never_cause_a_server_error(live: Live, route: str, body: Any) -> None:
    method, path = route.split(" ", 1)
    status, raw, ctype = live.request(method, fill(live, path), json.dumps(body).encode(),
                                      {"Content-Type": "application/json"})
    check(status, raw, ctype, f"{route} {body!r}")


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), raw=st.binary(max_size=300))
def test_malformed_json_bodies_get_a_400(live: Live, route: str, raw: bytes) -> None:
    method, path = route.split(" ", 1)
    status, body, ctype = live.request(method, fill(live, path), raw, {"Content-Type": "application/json"})
    check(status, body, ctype, f"{route} {raw!r}")


@FUZZ
@given(route=st.sampled_from(sorted(QUERY_ROUTES)), data=st.data())
def test_query_strings_never_cause_a_server_error(live: Live, route: str, data: st.DataObject) -> None:
    from urllib.parse import urlencode

    names = QUERY_ROUTES[route]
    params = data.draw(st.dictionaries(st.sampled_from(names), query_values, max_size=len(names)))
    path = fill(live, route) + "?" + urlencode(params)
    status, raw, ctype = live.request("GET", path)
    check(status, raw, ctype, path)


@pytest.mark.parametrize("base_url", ["http://[::1", "http://127.0.0.1:99999", "http://127.0.0.1:²", "ftp://x",
                                      "://", "http://"])
def test_bad_provider_base_urls_are_a_400(live: Live, base_url: str) -> None:
    from urllib.parse import quote

    status, raw, ctype = live.request("GET", f"/v1/providers/vllm/models?base_url={quote(base_url)}")
    check(status, raw, ctype, base_url)
    assert status == 400
    assert json.loads(raw)["error"]["param"] == "base_url"  # names the parameter, as a bad body field is named


@FUZZ
@given(raw=st.binary(max_size=400), content_type=st.sampled_from([
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
    "text/plain", "application/x-www-form-urlencoded; charset=latin-1"]))
def test_twilio_webhook_bodies_never_cause_a_server_error(live: Live, raw: bytes, content_type: str) -> None:
    status, body, ctype = live.request("POST", f"/twilio/voice?agent={live.agent_id}", raw,
                                       {"Content-Type": content_type})
    check(status, body, ctype, f"{content_type} {raw!r}")


@pytest.mark.parametrize(("route", "body", "param"), [
    ("POST /v1/agents", {"name": "a", "turn_budget_s": True}, "turn_budget_s"),  # was a one-second budget
    ("POST /v1/agents", {"name": "a", "max_tool_rounds": "3"}, "max_tool_rounds"),
    ("POST /v1/agents", {"name": "a", "handoff_on_session_end": "yes"}, "handoff_on_session_end"),
    ("POST /v1/agents", {"name": "a", "buffer": {"max_messages": "20", "min_messages": 5}}, "buffer.max_messages"),
    ("PATCH /v1/agents/{agent}", {"max_tool_rounds": 2.0}, "max_tool_rounds"),
    ("PATCH /v1/agents/{agent}", {"llm": {"temperature": "0.5"}}, "llm.temperature"),
    ("PATCH /v1/agents/{agent}/blocks/human", {"value": "v", "read_only": "true"}, "read_only"),
    ("POST /v1/tokens", {"agent": "fuzz", "ttl_s": True}, "ttl_s"),  # was a one-second token
    ("POST /v1/agents/{agent}/archival/reembed", {"limit": "5"}, "limit"),
    ("POST /v1/agents/{agent}/messages/import",
     {"messages": [{"role": "user", "content": "hi", "said_at": 1}], "archive": "no"}, "archive"),
])
def test_rest_bodies_are_strict_on_json_types(live: Live, route: str, body: Any, param: str) -> None:
    """A JSON true is not the number 1, "5" is not 5 and "no" is not false: a 400 naming the field, nothing changed."""
    method, path = route.split(" ", 1)
    status, raw, ctype = live.request(method, fill(live, path), json.dumps(body).encode(),
                                      {"Content-Type": "application/json"})
    check(status, raw, ctype, route)
    assert status == 400, raw
    assert json.loads(raw)["error"]["param"] == param


def test_a_json_integer_is_still_a_number_where_a_float_is_asked(live: Live) -> None:
    status, raw, _ = live.request("PATCH", f"/v1/agents/{live.agent_id}", json.dumps(
        {"turn_budget_s": 30, "llm": {"temperature": 1}}).encode(), {"Content-Type": "application/json"})
    assert status == 200, raw
    agent = json.loads(raw)
    assert agent["turn_budget_s"] == 30.0 and agent["llm"]["temperature"] == 1.0
