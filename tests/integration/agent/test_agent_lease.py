"""One turn at a time per agent across processes: two VoiceAgents on two connections to one SQLite file.

Each agent object stands for a server process (its own store connection and worker id); the model is the real
openai SDK against the fake server. (tests/integration/workers/ repeats this with real processes.)
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text
from voice_letta import ids
from voice_letta.agent.events import AgentEvent, ContentDelta, TurnFinished
from voice_letta.agent.loop import TurnInput, VoiceAgent
from voice_letta.agent.models import AgentState, LLMConfig, ProviderName, TurnRecord
from voice_letta.agent.ports import NewBlock
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.store import SqliteStore, open_store

ENV = {"FAKE_OPENAI_KEY": "sk-fake"}


@pytest.fixture
async def two(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[tuple[VoiceAgent, VoiceAgent, str]]:
    stores: list[SqliteStore] = [await open_store(tmp_path / "voice.db"), await open_store(tmp_path / "voice.db")]
    registry = ProviderRegistry(env=ENV)
    llm = LLMConfig(provider=ProviderName.OPENAI, model="fake-model", base_url=fake_openai.base_url,
                    api_key_env="FAKE_OPENAI_KEY", max_retries=0)
    agent = await stores[0].create_agent(AgentState(id=ids.agent_id(), name="shared", llm=llm),
                                         [NewBlock("persona", "p"), NewBlock("human", "h")])
    a = VoiceAgent(stores[0], registry, holder="worker-a", lease_s=30)
    b = VoiceAgent(stores[1], registry, holder="worker-b", lease_s=30)
    try:
        yield a, b, agent.id
    finally:
        await registry.aclose()
        for s in stores:
            await s.aclose()


async def run(agent: VoiceAgent, agent_id: str, text: str) -> list[AgentEvent]:
    return [e async for e in agent.run_turn(agent_id, TurnInput(user_text=text))]


def said(events: list[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


async def test_turns_of_one_agent_in_two_processes_run_one_after_the_other(two, fake_openai) -> None:
    a, b, agent_id = two
    fake_openai.script([Text("First "), Pause(0.4), Text("answer.")], [Text("Second answer.")])
    first = asyncio.create_task(run(a, agent_id, "one"))
    await asyncio.sleep(0.15)  # a holds the lease and waits for the model
    second = await run(b, agent_id, "two")
    assert first.done(), "b's turn must wait for a's to end"
    assert said(await first) == "First answer." and said(second) == "Second answer."
    history = await a.store.list_messages(agent_id)
    assert [(m.role, m.content) for m in history] == [
        ("user", "one"), ("assistant", "First answer."), ("user", "two"), ("assistant", "Second answer.")]
    # b's request saw a's whole exchange, never a half-finished one
    assert [m["content"] for m in fake_openai.requests[1]["messages"][1:-1]] == ["one", "First answer."]


async def test_a_cancelled_turn_gives_the_lease_back_at_once(two, fake_openai) -> None:
    a, b, agent_id = two
    fake_openai.script([Text("Long "), Pause(30)], [Text("Next.")])
    stream = a.run_turn(agent_id, TurnInput(user_text="one"))
    async for event in stream:
        if isinstance(event, ContentDelta):
            break
    await stream.aclose()  # a barge-in: the consumer goes away mid-reply
    started = time.monotonic()
    events = await run(b, agent_id, "two")
    assert said(events) == "Next." and time.monotonic() - started < 5
    rows = await b.store.list_messages(agent_id)
    assert [(m.content, m.interrupted) for m in rows] == [("one", False), ("Long", True), ("two", False),
                                                           ("Next.", False)]


async def test_a_turn_cancelled_while_its_lease_is_taken_gives_it_back_at_once(two, fake_openai, tmp_path) -> None:
    """Cancelled while its begin_turn transaction waits for the database (another process writing): the transaction
    still runs (input stored, lease taken), then the lease is given back and the turn recorded as cut off, at once,
    not when the lease expires (30 s here)."""
    a, b, agent_id = two
    fake_openai.script([Text("Next.")])
    lock = os.open(f"{tmp_path / 'voice.db'}.write-lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another process holds the write gate: a's begin_turn waits on its thread
    try:
        turn = asyncio.create_task(run(a, agent_id, "one"))
        await asyncio.sleep(0.5)
        turn.cancel()
        await asyncio.sleep(0.1)
        assert not turn.done()  # its transaction is still to run: the cancellation waits for it
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    with pytest.raises(asyncio.CancelledError):
        await turn
    started = time.monotonic()
    events = await run(b, agent_id, "two")
    assert said(events) == "Next." and time.monotonic() - started < 5
    assert [t.status for t in await b.store.list_turns(agent_id)] == ["abandoned", "completed"]
    assert [m.content for m in await b.store.list_messages(agent_id)] == ["one", "two", "Next."]


async def test_a_dead_process_s_lease_is_taken_over_when_it_expires(two, fake_openai) -> None:
    a, b, agent_id = two
    # A process that took the lease and died: nobody gives it back, nobody renews it.
    begun = await a.store.begin_turn(TurnRecord(id=ids.turn_id(), agent_id=agent_id), [], holder="dead",
                                     lease_s=0.5, now=time.time())
    assert begun is not None
    events = await run(b, agent_id, "hello")
    assert isinstance(events[-1], TurnFinished) and said(events) == "OK."
