"""Long runs without a space (a pasted log line, digits, a Chinese chat chunk, which has no spaces at all) in what
a client sends to memory. The archival search refuses a query longer than any question (2,000 characters, a 400
naming ``query``), and neither a long run in a passage nor one in a query stalls the event loop every session
shares (real server, real HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import aiohttp

from tests.integration.agent.conftest import Running


async def test_a_search_query_longer_than_a_question_is_refused_naming_query(server: Running) -> None:
    agent = await server.create_agent(name="long-query")
    status, _ = await server.request("POST", f"/v1/agents/{agent['id']}/archival",
                                     json={"text": "my locker code is 4417"})
    assert status == 201
    path = f"/v1/agents/{agent['id']}/archival/search"
    status, body = await server.request("GET", path, params={"query": "1" * 2001})
    assert status == 400 and body["error"]["param"] == "query", body
    assert "2,000" in body["error"]["message"], body
    status, body = await server.request("GET", path, params={"query": "what is my locker code " + "?" * 1977})
    assert status == 200 and body["data"], body  # 2,000 characters: a question, however padded, is searched


async def _slowest_health_while(server: Running, work: Awaitable[Any]) -> float:
    """The longest a /health round (the request, then a 50 ms pause) overran while ``work`` ran: the server shares
    this event loop, so a stall of it shows as a late answer or a late wake-up."""
    slowest, done = 0.0, asyncio.Event()

    async def ping() -> None:
        nonlocal slowest
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                started = time.perf_counter()
                async with http.get(f"{server.url}/health") as r:
                    await r.read()
                await asyncio.sleep(0.05)
                slowest = max(slowest, time.perf_counter() - started - 0.05)

    pinger = asyncio.create_task(ping())
    try:
        await work
    finally:
        done.set()
        await pinger
    return slowest


async def test_long_unbroken_runs_do_not_stall_the_server(server: Running) -> None:
    """A passage that is one 20,000-character run (a Chinese chat chunk, digits) and a 2,000-character query of one
    run took 4-9 s each of regex backtracking on the event loop (quadratic in the run's length), during which no
    other request or voice session was served. A generous bound: well above a loaded machine's /health, far below
    the stall."""
    agent = await server.create_agent(name="long-runs")
    path = f"/v1/agents/{agent['id']}/archival"
    status, _ = await server.request("POST", f"{path}/batch", json={"passages": [
        {"text": f"user: my locker code at the gym is {1000 + 37 * i}"} for i in range(20)]})
    assert status == 201
    status, _ = await server.request("GET", f"{path}/search", params={"query": "locker code"})  # index loaded
    assert status == 200
    for text in ("我们明天去北京看奶奶" * 2000, "1" * 20000, "-" * 20000):
        insert = server.request("POST", path, json={"text": text})
        assert await _slowest_health_while(server, insert) < 2.0, text[:10]
    for query in ("1" * 2000, "-" * 2000, "我们明天去北京看奶奶" * 80):
        search = server.request("GET", f"{path}/search", params={"query": query})
        assert await _slowest_health_while(server, search) < 2.0, query[:10]
