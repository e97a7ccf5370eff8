"""Frameworks (LiveKit, Pipecat) resend the conversation with every request: the agent's last reply they send back is
checked against the window the agent's turn begins with, not against its latest 40 messages read anew (a thread hop
and 40 decoded rows on every request). Through the real server and the openai SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.agent.conftest import Running, serving
from tests.integration.agent.test_chat_completions import collect
from tests.integration.agent.test_nul_output import settled
from tests.postgres import Databases


@pytest.fixture(params=["sqlite", "postgresql"])
async def server(request: pytest.FixtureRequest, tmp_path: Path, fake_openai: FakeOpenAIServer,
                 pg_databases: Databases) -> AsyncIterator[Running]:
    extra = {} if request.param == "sqlite" else {"database_url": await pg_databases.create()}
    async with serving(tmp_path, fake_openai, api_key=None, **extra) as running:
        yield running


def recent_reads(server: Running) -> list[dict[str, Any]]:
    """The server store's reads of an agent's latest 40 messages (what a resent history was checked against), from
    now on (storing a cut-short reply reads the turn's rows with another limit: not counted)."""
    store = server.store
    reads: list[dict[str, Any]] = []
    list_messages = store.list_messages

    async def traced(agent_id: str, **kw: Any) -> Any:
        if kw.get("limit") == 40:
            reads.append(kw)
        return await list_messages(agent_id, **kw)

    store.list_messages = traced  # type: ignore[method-assign]
    return reads


async def test_the_agents_own_reply_sent_back_is_found_without_reading_its_messages(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    client = server.client()
    story = "The river is long. It runs past many old towns and farms."
    server.fake.script([Text("Nice to meet you, Sam.")], [Text(story)], [Text("The Danube.")], [Text("Ahoy.")])
    body: list[dict[str, str]] = [{"role": "system", "content": "You are a helpful voice bot."},
                                  {"role": "user", "content": "My name is Sam."}]
    _, reply = await collect(await client.chat.completions.create(model=agent, messages=body, stream=True))
    await settled(server, agent)
    reads = recent_reads(server)
    body += [{"role": "assistant", "content": reply}, {"role": "user", "content": "Tell me about the river."}]
    await collect(await client.chat.completions.create(model=agent, messages=body, stream=True))
    await settled(server, agent)
    assert reads == []  # the reply sent back is in the window the store knows: no message read for it
    # cut short by the framework (LiveKit keeps what was played): found in the window, stored as heard
    body += [{"role": "assistant", "content": "The river is long. It runs past"},
             {"role": "user", "content": "Wait, which river?"}]
    await collect(await client.chat.completions.create(model=agent, messages=body, stream=True))
    await settled(server, agent)
    assert reads == []
    rows = await server.store.list_messages(agent)
    assert [(m.content, m.interrupted) for m in rows if m.role == "assistant"] == [
        ("Nice to meet you, Sam.", False), ("The river is long. It runs past", True), ("The Danube.", False)]
    assert [m["content"] for m in server.fake.requests[-1]["messages"] if m["role"] == "assistant"] == [
        "Nice to meet you, Sam.", "The river is long. It runs past—"]
    # text the agent never said (the framework's own line) is not in the window: the latest messages are read and
    # the line is kept, before the user's words
    body += [{"role": "assistant", "content": "Arr, I be a pirate now."}, {"role": "user", "content": "Why?"}]
    await collect(await client.chat.completions.create(model=agent, messages=body, stream=True))
    await settled(server, agent)
    assert [r["limit"] for r in reads] == [40]
    rows = await server.store.list_messages(agent)
    assert [(m.role, m.content) for m in rows][-3:] == [
        ("assistant", "Arr, I be a pirate now."), ("user", "Why?"), ("assistant", "Ahoy.")]
