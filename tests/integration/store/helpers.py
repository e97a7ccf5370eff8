"""Row builders shared by the store tests."""

from __future__ import annotations

import time

from voice_letta import ids
from voice_letta.agent.models import AgentState, Message, Role
from voice_letta.agent.ports import NewBlock, Store


async def make_agent(store: Store, name: str = "ada", *blocks: NewBlock | str) -> AgentState:
    if not blocks:
        blocks = (NewBlock("persona", "I am Ada."), NewBlock("human", "Nothing yet."))
    return await store.create_agent(AgentState(id=ids.agent_id(), name=name), list(blocks))


def msg(agent_id: str, role: Role, content: str | None, *, at: float | None = None, **kw: object) -> Message:
    return Message(
        id=ids.message_id(), agent_id=agent_id, role=role, content=content,
        created_at=time.time() if at is None else at, **kw,  # type: ignore[arg-type]
    )


async def raw(store: Store, sql: str) -> list[tuple[object, ...]]:
    """A query straight on the backend's connection (for checks below the Store port)."""
    from voice_letta.store import SqliteStore
    from voice_letta.store.postgres import PostgresStore

    if isinstance(store, SqliteStore):
        return [tuple(r) for r in await store._db.execute_fetchall(sql)]
    assert isinstance(store, PostgresStore)
    return [tuple(r) for r in await store._pool.fetch(sql)]
