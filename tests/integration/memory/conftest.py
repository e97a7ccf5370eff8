"""A real server (create_app, real SQLite file, real local embedder) whose agents talk to a fake OpenAI server.

The voice turns and the sleeptime agent's runs share the fake's script: a test scripts the voice reply, then
the sleeptime tool calls, and waits for the memory job with ``MemoryManager.wait_idle``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, ToolCall
from tests.integration.agent.conftest import Running, openai_llm, serving
from voice_letta import ids
from voice_letta.agent.memory_manager import MemoryManager
from voice_letta.agent.models import Message
from voice_letta.server.http_memory import MEMORY_MANAGER
from voice_letta.server.keys import AGENT


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=None) as running:
        yield running


@pytest.fixture
async def no_lane(tmp_path: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[Running]:
    """The same server without the cross-lingual lane (VOICE_LETTA_CROSS_EMBED=off: MiniLM alone, as before it)."""
    monkeypatch.setenv("VOICE_LETTA_CROSS_EMBED", "off")
    async with serving(tmp_path / "no-lane", fake_openai, api_key=None) as running:
        yield running


def manager(server: Running) -> MemoryManager:
    return server.app[MEMORY_MANAGER]


async def create_voice_agent(server: Running, *, human: str = "Nothing is known about the user yet.",
                             limit: int = 5000, max_messages: int = 6, min_messages: int = 5,
                             **body: Any) -> dict[str, Any]:
    body.setdefault("sleeptime_llm", openai_llm(server.fake, model="fake-sleeptime"))
    return await server.create_agent(
        blocks=[{"label": "persona", "value": "I am a helpful voice assistant."},
                {"label": "human", "value": human, "limit": limit}],
        buffer={"max_messages": max_messages, "min_messages": min_messages},
        **body,
    )


async def say(server: Running, agent_id: str, text: str) -> dict[str, Any]:
    status, data = await server.request("POST", "/v1/chat/completions", json={
        "model": agent_id, "messages": [{"role": "user", "content": text}]})
    assert status == 200, data
    await turn_ended(server, agent_id)
    return data


async def turn_ended(server: Running, agent_id: str) -> None:
    """Wait until the agent's turn in this process has ended, its memory upkeep included: a reply is sent before
    (6ecf6b3: non-streaming answers at the reply's end too), and the upkeep is what enqueues an eviction job, so a
    ``wait_idle`` right after the response found no job yet. The turn holds the agent's lock throughout."""
    async with server.app[AGENT]._lock(agent_id):
        pass


async def seed_history(server: Running, agent_id: str, lines: list[str], *, t0: float, step_s: float = 60.0
                       ) -> list[Message]:
    """Store earlier conversation lines ("user: ..." / "assistant: ...") said at t0, t0 + step, ..."""
    rows = []
    for i, line in enumerate(lines):
        role, text = line.split(": ", 1)
        rows.append(Message(id=ids.message_id(), agent_id=agent_id, role=role,  # type: ignore[arg-type]
                            content=text, created_at=t0 + i * step_s))
    return await server.store.append_messages(rows)


async def human_block(server: Running, agent_id: str) -> str:
    """The agent's "human" block as REST shows it."""
    status, block = await server.request("GET", f"/v1/agents/{agent_id}/blocks/human")
    assert status == 200, block
    return str(block["value"])


def store_call(*chunks: tuple[int, int, str]) -> ToolCall:
    return ToolCall("store_memories", json.dumps(
        {"chunks": [{"start_index": s, "end_index": e, "context": c} for s, e, c in chunks]}))


def rethink_call(text: str) -> ToolCall:
    return ToolCall("rethink_user_memory", json.dumps({"new_memory": text}))


def finish_call() -> ToolCall:
    return ToolCall("finish_rethinking_memory", "{}")


def sleeptime_requests(fake: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r.get("model") == "fake-sleeptime"]
