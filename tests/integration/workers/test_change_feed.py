"""Two servers on one database (SQLite file, PostgreSQL), each with its own connection and worker id (as two
processes have): what one changes reaches the other's cached agents, vector/keyword index and live sessions
(server/changes.py).

tests/integration/workers/test_workers.py repeats the end-to-end cases with real processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.postgres import Databases
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.server.changes import CHANGE_FEED
from voice_letta.store import open_any_store
from voice_letta.store.cache import CachingStore

FAKE_ENV = {"FAKE_OPENAI_KEY": "sk-fake"}


@dataclass
class Node:
    name: str
    url: str
    app: web.Application
    runner: web.AppRunner

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)


async def start_node(db: str, tmp: Path, name: str) -> tuple[Node, Any, ProviderRegistry]:
    store = CachingStore(await open_any_store(db, origin=name))
    registry = ProviderRegistry(env=FAKE_ENV)
    app = create_app(ServerConfig(db_path=tmp / "data" / "unused.db", api_key=None, enable_sandbox=False),
                     Overrides(store=store, models=registry, stt=ScriptedSTT(), tts=ScriptedTTS()))
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return Node(name, f"http://127.0.0.1:{runner.addresses[0][1]}", app, runner), store, registry


@pytest.fixture(params=["sqlite", "postgresql"])
async def nodes(request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Databases
                ) -> AsyncIterator[tuple[Node, Node]]:
    db = str(tmp_path / "shared.db") if request.param == "sqlite" else await pg_databases.create()
    started = [await start_node(db, tmp_path, "node-a"), await start_node(db, tmp_path, "node-b")]
    try:
        yield started[0][0], started[1][0]
    finally:
        for node, store, registry in started:
            await node.runner.cleanup()
            await registry.aclose()
            await store.aclose()


async def eventually(check: Any, timeout_s: float = 10.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


async def create_agent(node: Node, fake: FakeOpenAIServer) -> str:
    status, agent = await node.call("POST", "/v1/agents", json={"name": "shared", "llm": {
        "provider": "openai", "model": "fake-model", "base_url": fake.base_url, "api_key_env": "FAKE_OPENAI_KEY"}})
    assert status == 201, agent
    return str(agent["id"])


async def test_a_block_written_by_one_process_is_what_the_other_serves_next(nodes, fake_openai) -> None:
    a, b = nodes
    agent = await create_agent(a, fake_openai)
    status, _ = await b.call("GET", f"/v1/agents/{agent}")  # b caches the agent
    assert status == 200
    status, _ = await a.call("PATCH", f"/v1/agents/{agent}/blocks/human", json={"value": "Name: Ada."})
    assert status == 200

    async def b_sees_it() -> bool:
        _, now = await b.call("GET", f"/v1/agents/{agent}")
        return any(blk["label"] == "human" and blk["value"] == "Name: Ada." for blk in now["blocks"])

    await eventually(b_sees_it)
    assert b.app[CHANGE_FEED].applied >= 1
    # and the next turn on b prompts the model with the new block
    fake_openai.requests.clear()
    status, _ = await b.call("POST", "/v1/chat/completions", json={
        "model": agent, "messages": [{"role": "user", "content": "Who am I?"}]})
    assert status == 200
    assert "Name: Ada." in fake_openai.requests[-1]["messages"][0]["content"]


async def test_memory_updated_reaches_a_live_session_in_the_other_process(nodes, fake_openai) -> None:
    a, b = nodes
    agent = await create_agent(a, fake_openai)
    async with await NativeClient.open(b.url, agent=agent) as client:
        await client.send(type="ping")
        await client.wait_for("pong")
        status, _ = await a.call("PATCH", f"/v1/agents/{agent}/blocks/human", json={"value": "Likes tea."})
        assert status == 200
        event = await client.wait_for("memory.updated")
        assert event["reason"] == "rest"
        assert {"label": "human", "value": "Likes tea.", "version": 2} in event["blocks"]


async def test_passages_one_process_adds_are_found_by_the_other_s_loaded_index(nodes, fake_openai) -> None:
    a, b = nodes
    agent = await create_agent(a, fake_openai)
    status, _ = await a.call("POST", f"/v1/agents/{agent}/archival", json={"text": "user: I keep bees in Kent."})
    assert status == 201
    status, found = await b.call("GET", f"/v1/agents/{agent}/archival/search", params={"query": "bees"})
    assert status == 200 and len(found["data"]) == 1  # b's index is loaded now
    status, _ = await a.call("POST", f"/v1/agents/{agent}/archival",
                             json={"text": "user: My sister plays the cello."})
    assert status == 201

    async def b_finds_it() -> bool:
        _, hits = await b.call("GET", f"/v1/agents/{agent}/archival/search", params={"query": "cello sister"})
        return any("cello" in h["text"] for h in hits["data"])

    await eventually(b_finds_it)
    status, listed = await a.call("GET", f"/v1/agents/{agent}/archival")
    deleted = next(p["id"] for p in listed["data"] if "bees" in p["text"])
    status, _ = await a.call("DELETE", f"/v1/agents/{agent}/archival/{deleted}")
    assert status == 200

    async def b_forgot_it() -> bool:
        _, hits = await b.call("GET", f"/v1/agents/{agent}/archival/search", params={"query": "bees Kent"})
        return not any("bees" in h["text"] for h in hits["data"])

    await eventually(b_forgot_it)


async def test_a_change_that_commits_after_a_newer_one_was_read_is_still_applied(pg_databases: Databases) -> None:
    """PostgreSQL takes a change-log id at insert and shows the row at commit: a transaction that took id n and
    commits after another process's n+1 was read must not be skipped by a feed whose cursor is already at n+1."""
    from voice_letta.server.changes import ChangeFeed, SharedMemoryBus

    url = await pg_databases.create()
    mine, theirs = await open_any_store(url, origin="me"), await open_any_store(url, origin="them")
    try:
        feed = ChangeFeed(mine, SharedMemoryBus(), None)
        await feed.start()
        assert feed.lookback > 0
        insert = "INSERT INTO change_log (agent_id, kind, origin, payload, at) VALUES ($1, 'agent', 'them', '{}', 0)"
        async with theirs._pool.acquire() as slow:
            tx = slow.transaction()
            await tx.start()
            await slow.execute(insert, "agent-slow")  # takes id n, not visible yet
            await theirs._pool.execute(insert, "agent-fast")  # id n + 1, committed
            assert await feed.poll() == 1
            await tx.commit()
        assert await feed.poll() == 1  # n, found behind the cursor
        assert await feed.poll() == 0  # and each row applied once
    finally:
        await mine.aclose()
        await theirs.aclose()


async def test_sqlite_ids_commit_in_order_so_its_feed_reads_from_the_cursor(tmp_path: Path) -> None:
    from voice_letta.server.changes import ChangeFeed, SharedMemoryBus

    store = await open_any_store(str(tmp_path / "voice.db"))
    try:
        assert ChangeFeed(CachingStore(store), SharedMemoryBus(), None).lookback == 0
    finally:
        await store.aclose()
