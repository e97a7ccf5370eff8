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
