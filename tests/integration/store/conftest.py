"""Fixtures for the SQLite store tests: a real database file in ``tmp_path``, no mocks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voice_letta import ids
from voice_letta.agent.models import AgentState, Message, Role
from voice_letta.agent.ports import NewBlock
from voice_letta.store import SqliteStore, open_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "voice-letta.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = await open_store(db_path)
    try:
        yield s
    finally:
        await s.aclose()


async def make_agent(store: SqliteStore, name: str = "ada", *blocks: NewBlock | str) -> AgentState:
    if not blocks:
        blocks = (NewBlock("persona", "I am Ada."), NewBlock("human", "Nothing yet."))
    return await store.create_agent(AgentState(id=ids.agent_id(), name=name), list(blocks))


def msg(agent_id: str, role: Role, content: str | None, *, at: float | None = None, **kw: object) -> Message:
    return Message(
        id=ids.message_id(), agent_id=agent_id, role=role, content=content,
        created_at=time.time() if at is None else at, **kw,  # type: ignore[arg-type]
    )
