"""The NUL character (``%00``) in a URL's path or query is a typed 400 at the door on every route, as in bodies
(tests/integration/agent/test_nul_text.py): ids and names from the URL reach the store, and PostgreSQL cannot take
NUL in text. Before, on PostgreSQL, ``GET /v1/agents/%00``, ``DELETE /v1/tools/x%00`` and the voice WebSocket's
``?agent=…%00`` were 500 / ``storage_error`` (found from outside, QA session 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.postgres import Databases
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.store import open_any_store


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Databases) -> AsyncIterator[str]:
    db = str(tmp_path / "nul.db") if request.param == "sqlite" else await pg_databases.create()
    store = await open_any_store(db)
    registry = ProviderRegistry(env={})
    app = create_app(ServerConfig(db_path=tmp_path / "unused.db", api_key=None, enable_sandbox=False),
                     Overrides(store=store, models=registry))
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await registry.aclose()
        await store.aclose()


async def call(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, url, **kw) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(("method", "path", "param"), [
    ("GET", "/v1/agents/{a}%00", "path"),
    ("GET", "/v1/agents/%00", "path"),
    ("GET", "/v1/agents/{a}/blocks/human%00", "path"),
    ("DELETE", "/v1/agents/{a}/archival/p%00", "path"),
    ("DELETE", "/v1/tools/t%00", "path"),
    ("POST", "/v1/agents/{a}/tools/t%00", "path"),
    ("POST", "/v1/agents/{a}/identities/bob%00", "path"),
    ("GET", "/v1/agents/{a}/archival/search?query=door%00code", "query"),
    ("GET", "/v1/agents/{a}/messages?after_seq=1&limit=%00", "limit"),
])
async def test_nul_in_the_url_is_a_400_naming_where(url: str, method: str, path: str, param: str) -> None:
    status, agent = await call("POST", f"{url}/v1/agents", json={"name": "nul"})
    assert status == 201, agent
    status, body = await call(method, url + path.format(a=agent["id"]), **({"json": {}} if method == "POST" else {}))
    assert status == 400, body
    assert (body["error"]["code"], body["error"]["param"]) == ("invalid_request", param)
    assert "NUL" in body["error"]["message"]
    status, _ = await call("GET", f"{url}/v1/agents/{agent['id']}")  # the server goes on
    assert status == 200


async def test_a_voice_websocket_with_nul_in_its_query_is_refused_before_the_upgrade(url: str) -> None:
    _, agent = await call("POST", f"{url}/v1/agents", json={"name": "nul"})
    async with aiohttp.ClientSession() as s:
        for path in (f"/v1/voice?agent={agent['id']}%00", f"/v1/realtime?model={agent['id']}%00"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(url.replace("http", "ws") + path)
            assert refused.value.status == 400
        async with s.ws_connect(f"{url.replace('http', 'ws')}/v1/voice?agent={agent['id']}",
                                protocols=("voice-letta.v1",)) as ws:
            assert (await ws.receive_json())["type"] == "session.created"


async def test_an_escaped_percent_00_is_text_not_nul(url: str) -> None:
    """``%2500`` decodes to the three characters "%00": an unknown agent, not a refused URL."""
    status, body = await call("GET", f"{url}/v1/agents/%2500")
    assert status == 404, body
