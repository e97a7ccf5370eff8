"""A hostile web page in a real Chromium cannot drive the server on 127.0.0.1 (issue 10 Part 1).

The attacker's page is served by a second local server under the name ``evil.example`` (Chromium's
``--host-resolver-rules`` maps it, and ``rebind.evil.example``, to 127.0.0.1, which is also what a DNS
rebinding attack achieves). From there it tries what the issue found: a no-cors POST that would start an MCP
server, a cross-site read of the agent list, a WebSocket into the user's agent, and the rebinding trick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.test_web_client import CHROMIUM, launch
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, start_server

pytest.importorskip("playwright", reason="playwright (python) is not installed")
from playwright.async_api import Playwright

if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"{CHROMIUM} not found", allow_module_level=True)

ATTACK_JS = """
async ({target, wsTarget, body}) => {
  const out = {};
  try {  // a simple request: no preflight, the page cannot read the answer but the server would act on it
    await fetch(target + "/v1/mcp/servers", {method: "POST", mode: "no-cors", body});
    out.noCorsPost = "sent";
  } catch (e) { out.noCorsPost = "network error"; }
  try {
    const r = await fetch(target + "/v1/agents");
    out.read = await r.text();
  } catch (e) { out.read = "blocked"; }
  out.ws = await new Promise((resolve) => {
    const ws = new WebSocket(wsTarget, ["voice-letta.v1"]);
    const timer = setTimeout(() => resolve("timeout"), 5000);
    ws.onmessage = (m) => { clearTimeout(timer); resolve("message: " + m.data.slice(0, 200)); ws.close(); };
    ws.onerror = () => { clearTimeout(timer); resolve("refused"); };
  });
  return out;
}
"""


@pytest.fixture
async def victim(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)  # the README's defaults
    try:
        yield running
    finally:
        await runner.cleanup()


@pytest.fixture
async def evil_site() -> AsyncIterator[int]:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>cute cats</title><p>nothing to see</p>",
                            content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


@pytest.mark.timeout(90)
async def test_a_hostile_page_cannot_reach_the_local_server(victim: Running, evil_site: int, pw: Playwright,
                                                            tmp_path: Path) -> None:
    agent = await victim.create_agent(name="private")
    port = victim.url.rsplit(":", 1)[1]
    marker = tmp_path / "pwned"
    body = json.dumps({"name": "pwn", "command": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]})
    browser = await launch(pw, ["--host-resolver-rules=MAP evil.example 127.0.0.1, MAP rebind.evil.example 127.0.0.1"])
    try:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"http://evil.example:{evil_site}/")
        results: dict[str, Any] = await page.evaluate(ATTACK_JS, {
            "target": f"http://127.0.0.1:{port}", "wsTarget": f"ws://127.0.0.1:{port}/v1/voice?agent={agent['id']}",
            "body": body})
        assert results["noCorsPost"] in ("sent", "network error")
        assert results["read"] == "blocked"
        assert results["ws"] == "refused", results["ws"]

        # DNS rebinding: the attacker's name now resolves to 127.0.0.1, so the browser sends Host: rebind…
        response = await page.goto(f"http://rebind.evil.example:{port}/")
        assert response is not None and response.status == 421
        rebound = await page.evaluate("async () => (await fetch('/v1/agents')).status")
        assert rebound == 421
    finally:
        await browser.close()

    assert not marker.exists(), "the MCP command ran"
    status, servers = await victim.request("GET", "/v1/mcp/servers")
    assert status == 200 and servers["data"] == []
    status, agents = await victim.request("GET", "/v1/agents")
    assert [a["name"] for a in agents["data"]] == ["private"]
