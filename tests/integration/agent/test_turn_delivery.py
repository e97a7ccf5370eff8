"""A streamed turn is recorded as completed only after its reply was delivered.

The stream's last bytes (finish chunk, usage, ``[DONE]``, end of body) are written before the turn's end (reply row,
turn record, lease) is stored. A process killed in between leaves the turn unfinished, so the client's resend of the
cut stream is its retry even after other turns of the agent ran; before, a turn could be recorded as completed with
its stream cut, and its key-less resend after other turns stored the user's words twice (QA's PostgreSQL storm, 4 of
240). Real server, real SQLite, the openai fake; the store's ``end_turn`` is held at a gate the test opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.agent.conftest import FAKE_ENV, Running, listen, openai_llm
from voice_letta.agent.models import Message, TurnRecord
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.store import open_store


class GatedStore:
    """The real store, with ``end_turn`` waiting for ``gate`` (every other call goes straight through)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = asyncio.Event()
        self.ending = asyncio.Event()  # an end_turn is waiting at the gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def end_turn(self, agent_id: str, turn: TurnRecord, rows: list[Message], **kw: Any) -> Any:
        self.ending.set()
        await self.gate.wait()
        return await self._inner.end_turn(agent_id, turn, rows, **kw)


@pytest.fixture
async def gated(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[tuple[Running, GatedStore]]:
    inner = await open_store(tmp_path / "voice.db")
    store = GatedStore(inner)
    registry = ProviderRegistry(env=FAKE_ENV, retry_base_delay_s=0.01, retry_max_delay_s=0.02)
    app = create_app(ServerConfig(db_path=tmp_path / "voice.db", enable_sandbox=False, api_key=None),
                     Overrides(store=store, models=registry))  # type: ignore[arg-type]
    runner, url = await listen(app)
    try:
        yield Running(url, app, fake_openai, None), store
    finally:
        store.gate.set()
        await runner.cleanup()
        await inner.aclose()


async def status_of_latest(server: Running, agent_id: str) -> str:
    status, body = await server.request("GET", f"/v1/agents/{agent_id}/turns")
    assert status == 200, body
    return str(body["data"][0]["status"])


async def test_the_stream_ends_before_the_turns_end_is_stored(gated: tuple[Running, GatedStore]) -> None:
    server, store = gated
    agent = await server.create_agent(llm=openai_llm(server.fake))
    server.fake.script([Text("Hello "), Text("there.")])
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{server.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Hi"}]})
        body = (await asyncio.wait_for(resp.read(), timeout=10)).decode()  # the whole body, end included
    assert '"content":"there."' in body and '"finish_reason":"stop"' in body and '"usage":{' in body
    assert body.rstrip().endswith("data: [DONE]")
    await asyncio.wait_for(store.ending.wait(), timeout=5)
    assert await status_of_latest(server, agent["id"]) == "running"  # delivered, its end not yet stored
    store.gate.set()
    for _ in range(100):
        if await status_of_latest(server, agent["id"]) == "completed":
            break
        await asyncio.sleep(0.02)
    assert await status_of_latest(server, agent["id"]) == "completed"
    rows = await store.list_messages(agent["id"])
    assert [(m.role, m.content) for m in rows] == [("user", "Hi"), ("assistant", "Hello there.")]



async def test_a_non_streaming_reply_waits_for_the_turns_end(gated: tuple[Running, GatedStore]) -> None:
    """A non-streaming response says what a read of the agent then shows: it is sent once the turn's end (and memory
    upkeep) is stored."""
    server, store = gated
    agent = await server.create_agent(llm=openai_llm(server.fake))
    server.fake.script([Text("All "), Text("done.")])
    task = asyncio.create_task(server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Status?"}]))
    await asyncio.wait_for(store.ending.wait(), timeout=10)
    await asyncio.sleep(0.2)
    assert not task.done()  # held with the turn's end
    store.gate.set()
    reply = await asyncio.wait_for(task, timeout=10)
    assert reply.choices[0].message.content == "All done." and reply.choices[0].finish_reason == "stop"
    assert await status_of_latest(server, agent["id"]) == "completed"
    rows = await store.list_messages(agent["id"])
    assert [(m.role, m.content) for m in rows] == [("user", "Status?"), ("assistant", "All done.")]
